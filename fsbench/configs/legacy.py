"""Plain-dict method configs (a plugin that keeps `default_config = {...}`), and the migration of
flat legacy configs (what boards and results files stored before typed configs) to the nested form.

A config value of the wrong type (`--set size=abc`), out of range (`size=-3`) or outside an enum
(`mode=XYZ`) used to surface minutes later as a torch or PIL traceback that blamed the dataset.
`check_config` turns each into one line naming the method, the key, what is expected and what
was given. The expected type is the default's, unless the method states more in its ClassVars:

- `config_types`: key → tuple of accepted types, for unions (e.g. `(str, int)`);
- `config_choices`: key → tuple of accepted values (an enum, e.g. `("RGB", "L")`);
- `config_ranges`: key → (min, max) inclusive, either end None for open.

Without a declaration: a default of `"auto"` accepts "auto" or a number, a default of None
accepts any JSON value, a float default accepts an int, and bool never stands in for a number.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from fsbench.configs.base import ConfigError
from fsbench.configs.overrides import nest

NUMBER = (int, float)

#: the prior-keeping classifier's settings (`classifier = "prior-prototype"`), shared by every
#: embedding method's config and the classifier's own default; n0 chosen with --dev (docs/baselines.md)
PRIOR_DEFAULTS: dict[str, Any] = {"n0": 2.0}
#: what an embedding method's config says about n0: a number ≥ 0
PRIOR_RANGES: dict[str, tuple[float | None, float | None]] = {"n0": (0, None)}


def _accepted(default: Any) -> tuple[type, ...] | None:
    """The types a key accepts when its method declares nothing (None: anything)."""
    if default is None:
        return None
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, int):
        return (int,)
    if isinstance(default, float):
        return NUMBER
    if default == "auto":
        return (str, int, float)
    if isinstance(default, (list, tuple)):
        return (list, tuple)
    return (type(default),)


def _type_names(types: tuple[type, ...]) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
             list: "a list", tuple: "a list", dict: "an object", type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def check_config(
    method: str,
    defaults: Mapping[str, Any],
    config: Any,
    types: Mapping[str, tuple[type, ...]] | None = None,
    choices: Mapping[str, tuple[Any, ...]] | None = None,
    ranges: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> dict[str, Any]:
    """`{**defaults, **config}` once every given value is of the right kind; else a `ConfigError`."""
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"method {method!r} config must be an object of KEY: VALUE pairs, not {type(config).__name__} "
            f"{_show(config)}; write it as {{\"key\": value}} in JSON or key = value in TOML"
        )
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        near = difflib.get_close_matches(unknown[0], list(defaults), n=1, cutoff=0.5)
        hint = f"; nearest: {near[0]!r} ({_kind(near[0], defaults, types, choices)})" if near else ""
        raise ConfigError(f"method {method!r} has no config key {unknown[0]!r}{hint}; keys: {', '.join(defaults)}")
    types, choices, ranges = types or {}, choices or {}, ranges or {}
    for key, value in config.items():
        _check_value(method, key, value, defaults[key], types.get(key), choices.get(key), ranges.get(key))
    return {**defaults, **config}


def _check_value(method, key, value, default, types, allowed, bounds) -> None:
    where = f"method {method!r} config key {key!r}"
    if allowed is not None:
        if value in allowed and type(value) in {type(a) for a in allowed}:
            return
        raise ConfigError(f"{where} must be one of {list(allowed)}, not {_show(value)}")
    accepted = types if types is not None else _accepted(default)
    if accepted is not None:
        is_bool = isinstance(value, bool)
        ok = isinstance(value, accepted) and (not is_bool or bool in accepted)
        if default == "auto" and types is None and isinstance(value, str) and value != "auto":
            ok = False
        if not ok:
            hint = "\"auto\" or a number" if default == "auto" and types is None else _type_names(accepted)
            raise ConfigError(f"{where} expects {hint}, not {_show(value)} ({type(value).__name__})")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, not {value}")
    if bounds is not None and isinstance(value, NUMBER) and not isinstance(value, bool):
        lo, hi = bounds
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            span = f"{'-∞' if lo is None else lo}…{'∞' if hi is None else hi}"
            raise ConfigError(f"{where} must lie in {span}, not {value}")


def _kind(key: str, defaults: Mapping[str, Any], types, choices) -> str:
    if choices and key in choices:
        return " | ".join(repr(c) for c in choices[key])
    accepted = (types or {}).get(key) or _accepted(defaults[key])
    return "any" if accepted is None else " | ".join(dict.fromkeys(t.__name__ for t in accepted))


def migrate(method: str, flat: Mapping[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """A flat legacy config → the nested overrides of its typed config: each legacy key moves to the
    dotted key `renames` names for it (values unchanged); a key it does not name is refused."""
    unknown = sorted(set(flat) - set(renames))
    if unknown:
        raise ConfigError(f"method {method!r}: legacy config key(s) {unknown} have no place in its typed config")
    return nest({renames[k]: v for k, v in flat.items()})


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
