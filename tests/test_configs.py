"""Typed method configs: every value is in the hash, errors are one line naming key, type and the
nearest valid key, `--set` reaches nested values by dotted keys, a plain-dict plugin still works."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pytest

from fsbench import registry
from fsbench.api import Method, config_hash
from fsbench.configs import (
    Config, ConfigError, as_dict, build, fields_of, from_stored, get, is_section, leaves, merge, nest, option,
    override, schema, section, sections,
)

TYPED = [n for n in registry.names("methods") if registry.get("methods", n).config_class is not None]


def other_values(value: Any, tp: Any, bounds) -> list[Any]:
    """Values of the field's type other than `value` (the builder keeps those inside the bounds)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, __import__("types").UnionType):
        return [v for a in args for v in other_values(value, a, bounds)]
    if origin is Literal:
        return [a for a in args if a != value or type(a) is not type(value)]
    if tp is type(None):
        return [] if value is None else [None]
    if tp is bool:
        return [not value] if isinstance(value, bool) else [True]
    if tp in (int, float):
        lo, hi = bounds or (None, None)
        base = value if isinstance(value, (int, float)) and not isinstance(value, bool) else (lo or 1)
        picks = [base + 1, base - 1, base * 2, base / 2, lo, hi, 3, 0.5]
        return [tp(p) for p in picks if p is not None and p != value and (tp is float or float(p).is_integer())]
    if tp is str:
        return [f"{value}-other"]
    if origin is tuple:
        return [(*(value or ()), 7), (5,)]
    if origin is dict or tp is dict:
        return [{**(value or {}), "other": 1}]
    raise AssertionError(f"no other value for {tp}")


def hash_of(name: str, cls: type, cfg: Config) -> str:
    return config_hash({"method": name, "version": cls.version, **as_dict(cfg)})


@pytest.mark.parametrize("name", TYPED)
def test_every_config_value_changes_the_hash(name):
    """Every leaf of the typed config is a field, so it is in the hash: change any one, the hash moves."""
    cls = registry.get("methods", name)
    default = cls.config_class()
    base = hash_of(name, cls, default)
    assert base == cls(default).config_hash
    hints = {}
    for key, *_ in leaves(default):
        *path, last = key.split(".")
        owner = get(default, ".".join(path)) if path else default
        f, tp = next((f, tp) for f, tp in fields_of(type(owner)) if f.name == last)
        hints[key] = (tp, f.metadata.get("bounds"))
    for key, (tp, bounds) in hints.items():
        changed = None
        for candidate in other_values(get(default, key), tp, bounds):
            try:
                changed = override(default, {key: candidate}, name)
                break
            except ConfigError:
                continue
        assert changed is not None, f"{name}: found no other valid value for {key}"
        assert get(changed, key) != get(default, key) or type(get(changed, key)) is not type(get(default, key))
        assert hash_of(name, cls, changed) != base, f"{name}: changing {key} leaves the hash as it was"


@pytest.mark.parametrize("name", TYPED)
def test_the_config_class_is_frozen_complete_and_documented(name):
    cls = registry.get("methods", name)
    cfg = cls.config_class()  # every value has a default
    with pytest.raises(AttributeError):
        cfg.__setattr__(fields_of(type(cfg))[0][0].name, None)
    undocumented = [key for key, _, _, doc in schema(cfg) if not doc]
    assert not undocumented, f"{name}: config keys without a one-line doc for `fsbench info`: {undocumented}"
    assert from_stored(cls.config_class, as_dict(cfg), name) == cfg  # the recorded form builds the same object
    for overrides in (cls.test_config, cls.demo_config):
        cls.make_config(overrides)  # partial nested overrides of today's keys


def test_set_reaches_a_nested_value_by_its_dotted_key():
    h2v = registry.get("methods", "hand2vec")
    cfg = h2v.make_config({"head.epochs": 5, "backbone": {"name": "posenet"}})
    assert (cfg.head.epochs, cfg.backbone.name, cfg.head.lr_max) == (5, "posenet", h2v.config_class().head.lr_max)
    assert h2v.make_config({"head": {"epochs": 5}}) == h2v.make_config({"head.epochs": 5})
    # a named section takes its name alone
    assert h2v.make_config({"classifier": "mean", "backbone": "posenet"}) == h2v.make_config(
        {"classifier.name": "mean", "backbone.name": "posenet"})


def test_the_cli_builds_nested_overrides_from_a_file_and_dotted_sets(tmp_path):
    from fsbench.cli.console import load_config

    path = tmp_path / "c.toml"
    path.write_text("[head]\nepochs = 7\nlr_max = 0.01\n")
    assert load_config(path, ("head.epochs=5", "classifier=mean")) == {
        "head": {"epochs": 5, "lr_max": 0.01}, "classifier": "mean"}


def test_equal_settings_hash_equal():
    pixels = registry.get("methods", "pixels")
    h2v = registry.get("methods", "hand2vec")
    assert h2v({"head.lr_max": 1}).config_hash == h2v({"head": {"lr_max": 1.0}}).config_hash
    assert h2v({"head.widths": [64, 80]}).config.head.widths == (64, 80)
    assert pixels().config_hash == pixels({"size": 32}).config_hash != pixels({"size": 33}).config_hash


@pytest.mark.parametrize("overrides, needle", [
    ({"head_epochs": 5}, "method 'hand2vec' has no config key 'head_epochs'; nearest: 'head.epochs' (int, 1…∞)"),
    ({"head.epoch": 5}, "no config key 'head.epoch'; nearest: 'head.epochs' (int, 1…∞); keys in 'head': head.name"),
    ({"head.epochs": "5"}, "method 'hand2vec' config key 'head.epochs' (int, 1…∞) expects an integer, not '5' (str)"),
    ({"head.epochs": 0}, "config key 'head.epochs' (int, 1…∞) must lie in 1…∞, not 0"),
    ({"head.momentum": 1.5}, "config key 'head.momentum' (float, 0…1) must lie in 0…1, not 1.5"),
    ({"classifier": "nearest"}, "config key 'classifier.name' ('max' | 'mean' | 'softmax' | 'prior-prototype') must be one of"),
    ({"classifier": 3}, "'classifier' (section Hand2VecClassifier) expects a string (its name) or an object of its keys, not 3"),
    ({"backbone.max_images": "all"}, "'backbone.max_images' (int | 'auto', 0…∞) expects 'auto' or an integer, not 'all'"),
    ({"head.widths": [64, "x"]}, "'head.widths' (list[int] | None) expects a list of integers or null, not [64, 'x']"),
    ({"head": 5}, "config key 'head' (section Hand2VecHead) expects a string (its name) or an object of its keys, not 5"),
    ({"head.epochs": 5, "head": 3}, "is given both a value and keys inside it"),
    ({"head.lr_max": float("nan")}, "must be a finite number"),
])
def test_a_wrong_key_or_value_is_one_line_naming_key_type_and_nearest_key(overrides, needle):
    with pytest.raises(ConfigError) as err:
        registry.get("methods", "hand2vec")(overrides)
    message = str(err.value)
    assert "\n" not in message
    assert needle in message


def test_nest_and_merge():
    assert nest({"a.b": 1, "a": {"c": 2}, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 5}}) == {"a": {"b": 5, "c": 2}}
    with pytest.raises(ConfigError):
        nest({"a": 1, "a.b": 2})
    with pytest.raises(ConfigError):
        nest({"a..b": 1})


@dataclass(frozen=True, kw_only=True)
class _Inner(Config):
    n: int = option(doc="a count", bounds=(0, 9))


@dataclass(frozen=True, kw_only=True)
class _Outer(Config):
    inner: _Inner = section(_Inner(n=3), "a section")
    mode: Literal["a", "b"] = option("a", "a choice")
    rate: float = option(0.5, "a rate")

    legacy_keys = {"inner_n": "inner.n", "mode": "mode", "rate": "rate"}

    def check(self) -> None:
        if self.mode == "b" and self.inner.n == 0:
            raise ConfigError("mode b needs inner.n > 0")


def test_sections_are_built_validated_and_checked_across_fields():
    cfg = build(_Outer, {"inner.n": 4, "rate": 1}, "m")
    assert cfg == _Outer(inner=_Inner(n=4), mode="a", rate=1.0) and isinstance(cfg.rate, float)
    assert [r[0] for r in leaves(cfg)] == ["inner.n", "mode", "rate"] and is_section(_Inner)
    with pytest.raises(ConfigError, match="^m: mode b needs inner.n > 0$"):
        build(_Outer, {"mode": "b", "inner.n": 0}, "m")
    with pytest.raises(ConfigError, match="m config key 'inner.n' \\(int, 0…9\\) must lie in 0…9, not 10"):
        build(_Outer, {"inner": {"n": 10}}, "m")
    # a flat legacy form moves by `legacy_keys`; today's nested form is taken as it is
    assert from_stored(_Outer, {"inner_n": 2, "mode": "b", "rate": 0.5}, "m") == _Outer(inner=_Inner(n=2), mode="b")
    assert from_stored(_Outer, {"inner": {"n": 2}}, "m") == _Outer(inner=_Inner(n=2))
    with pytest.raises(ConfigError, match="has no config key 'inner_m'"):
        from_stored(_Outer, {"inner_m": 2}, "m")


class _PlainDict(Method):
    """A third-party method that keeps a plain-dict config (no config class)."""

    name: ClassVar[str] = "plain"
    default_config: ClassVar[dict[str, Any]] = {"size": 24, "rule": "prototype"}

    def embed(self, view):  # pragma: no cover - never fitted here
        raise NotImplementedError

    def make_classifier(self):  # pragma: no cover
        raise NotImplementedError


def test_a_plain_dict_config_still_works():
    m = _PlainDict({"size": 30})
    assert m.config == {"size": 30, "rule": "prototype"} and m.config["size"] == 30
    assert m.config_hash == config_hash({"method": "plain", "version": "0", "size": 30, "rule": "prototype"})
    assert m.describe()["config"] == m.config and _PlainDict.stored_config({"size": 5}) == {"size": 5}
    with pytest.raises(ConfigError, match="has no config key 'sise'; nearest: 'size' \\(int\\); keys: size, rule"):
        _PlainDict({"sise": 3})
    assert [row[0] for row in schema(_PlainDict.default_config)] == ["size", "rule"]


def test_every_recipe_gives_the_loop_every_value_it_has_a_fallback_for():
    """One default per value: the loop's LOOP_DEFAULTS and LRSchedule's defaults are never reached
    by a typed method, because each SGD section hands the loop all of them."""
    from dataclasses import fields

    from fsbench.configs.sections import SGDRecipe, recipe
    from fsbench.training.loop import LOOP_DEFAULTS
    from fsbench.training.schedule import LRSchedule

    fallbacks = set(LOOP_DEFAULTS) | {f.name for f in fields(LRSchedule)} - {"restarts"}  # restarts: from epochs
    found = 0
    for name in TYPED:
        cfg = registry.get("methods", name).config_class()
        for key, _ in sections(cfg):
            section_cfg = get(cfg, key)
            if isinstance(section_cfg, SGDRecipe):
                found += 1
                assert fallbacks <= set(recipe(section_cfg)), f"{name}.{key} leaves {fallbacks - set(recipe(section_cfg))}"
    assert found >= 3  # hand2vec's backbone and head, hand2vec-ft's train, mediapipe-landmarks's head, ...
