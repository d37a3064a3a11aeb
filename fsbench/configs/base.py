"""`Config`: the base of every typed method config — a frozen dataclass, checked when it is built.

A method's config is one object: its fields are the values that decide what it trains and
predicts, grouped in sections (`backbone`, `head`, `train`, `classifier`) that are configs of
their own. Each value has one default, written once (in the method's config, or in a section
class only that method uses), one line of doc and, where it has them, bounds:

    @dataclass(frozen=True, kw_only=True)
    class PixelsConfig(Config):
        size: int = option(32, "side in pixels the image is resized to", bounds=(2, 256))
        mode: Literal["RGB", "L"] = option("RGB", "colour mode")

The whole object, canonically serialised (`as_dict`), is what a results file records and what
the config hash covers, so a value that changes weights or predictions cannot escape the hash.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass
from functools import cache
from collections.abc import Mapping
from typing import Any, ClassVar

from fsbench.configs.types import Bounds, Invalid, check, describe, show
from fsbench.errors import FsbenchError

MISSING = dataclasses.MISSING


class ConfigError(FsbenchError):
    """A method config that is not an object, has an unknown key or a value of the wrong kind."""


class FieldError(ConfigError):
    """One field's value is wrong: `key` (dotted from where it was built), its type, the problem."""

    def __init__(self, key: str, type_text: str, problem: str) -> None:
        self.key, self.type_text, self.problem = key, type_text, problem
        super().__init__(f"config key {key!r} ({type_text}) {problem}")

    def within(self, prefix: str) -> "FieldError":
        return FieldError(prefix + self.key, self.type_text, self.problem)


def option(default: Any = MISSING, doc: str = "", *, bounds: Bounds | None = None) -> Any:
    """A config field: its one default (none in a section class whose methods each give theirs),
    a one-line doc for `fsbench info`, and inclusive numeric bounds (either end None for open)."""
    meta = {"doc": doc, "bounds": bounds}
    if default is MISSING:
        return dataclasses.field(metadata=meta)
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def section(default: "Config", doc: str = "") -> Any:
    """A nested config (e.g. `head`) with its default: the method's values for that section."""
    return dataclasses.field(default_factory=lambda: default, metadata={"doc": doc, "bounds": None})


@dataclass(frozen=True, kw_only=True)
class Config:
    """Base of every typed config: subclasses are `@dataclass(frozen=True, kw_only=True)`.

    Every field is checked against its annotation and bounds on construction (`FieldError`,
    one line); `check` is the hook for rules across fields. A method config whose older versions
    were flat dicts names where each old key went in `legacy_keys` (old key → dotted key), so
    boards and results files written before keep their meaning (`fsbench.configs.from_stored`).
    """

    legacy_keys: ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        for f, tp in fields_of(type(self)):
            value = getattr(self, f.name)
            if is_section(tp):
                if not isinstance(value, tp):
                    named = any(g.name == "name" for g, _ in fields_of(tp))
                    raise FieldError(f.name, f"section {tp.__name__}", f"expects {'a string (its name) or ' if named else ''}"
                                     f"an object of its keys, not {show(value)}")
                continue
            bounds = f.metadata.get("bounds")
            try:
                checked = check(value, tp, bounds)
            except Invalid as exc:
                raise FieldError(f.name, describe(tp, bounds), str(exc)) from None
            if checked is not value:
                object.__setattr__(self, f.name, checked)
        self.check()

    def check(self) -> None:
        """Rules across fields; raise `ConfigError`. None by default."""


def is_section(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Config)


@cache
def fields_of(cls: type[Config]) -> tuple[tuple[dataclasses.Field, Any], ...]:
    """(field, resolved annotation) of every field of `cls`, in declaration order."""
    if not (dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen):
        raise TypeError(f"{cls.__name__} must be a @dataclass(frozen=True, kw_only=True) subclass of Config")
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls))


def as_dict(config: Config) -> dict[str, Any]:
    """The canonical JSON form: sections as objects, tuples as lists; what results record and hash."""
    return {f.name: _json(getattr(config, f.name)) for f, _ in fields_of(type(config))}


def _json(value: Any) -> Any:
    if isinstance(value, Config):
        return as_dict(value)
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def leaves(config: Config, prefix: str = "") -> list[tuple[str, Any, str, Any]]:
    """(dotted key, annotation text, doc, value) of every non-section field, sections walked in order."""
    rows = []
    for f, tp in fields_of(type(config)):
        value = getattr(config, f.name)
        if is_section(tp):
            rows += leaves(value, f"{prefix}{f.name}.")
        else:
            rows.append((prefix + f.name, describe(tp, f.metadata.get("bounds")), f.metadata.get("doc", ""), _json(value)))
    return rows


def sections(config: Config, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, doc) of every section."""
    out = []
    for f, tp in fields_of(type(config)):
        if is_section(tp):
            out.append((prefix + f.name, f.metadata.get("doc", "") or (tp.__doc__ or "").strip().split("\n")[0]))
            out += sections(getattr(config, f.name), f"{prefix}{f.name}.")
    return out


def get(config: Config, key: str) -> Any:
    """The value at a dotted key, e.g. `get(cfg, "head.epochs")`."""
    for part in key.split("."):
        config = getattr(config, part)
    return config


def values(config: Config, cls: type[Config]) -> dict[str, Any]:
    """The fields `cls` declares, read from `config` (an instance of `cls` or a subclass): e.g. the
    SGD recipe part of a head section, as the plain mapping the training loop takes."""
    return {f.name: getattr(config, f.name) for f, _ in fields_of(cls)}
