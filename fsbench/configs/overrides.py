"""Overrides → a typed config: `--set head.epochs=5`, `--config FILE`, sweep tables, test configs.

Every source of settings is a *partial, nested* mapping (`{"head": {"epochs": 5}}`); dotted keys
(`{"head.epochs": 5}`) are the same thing written flat. `build` lays such a mapping over the
method's defaults and returns the frozen object; a key that does not exist is one line naming the
nearest key that does (and its type), a value of the wrong kind one line naming the key and its type.
A section with a `name` (backbone, head, classifier) also takes the name alone: `--set
classifier=mean` is `--set classifier.name=mean`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Mapping
from typing import Any

from fsbench.configs.base import Config, ConfigError, FieldError, fields_of, is_section, leaves
from fsbench.configs.types import show


class UnknownKey(ConfigError):
    """A key the config does not have (the message names the nearest one that it does)."""


def nest(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Dotted keys → nested mappings (`{"head.epochs": 5}` → `{"head": {"epochs": 5}}`), merged deeply."""
    out: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if not isinstance(key, str) or not all(key.split(".")):
            raise ConfigError(f"config key {key!r} is not a name or a dotted path like head.epochs")
        *path, last = key.split(".")
        node: dict[str, Any] = out
        for part in path:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"config key {key!r} sets inside {part!r}, which is also given the value {show(nxt)}")
            node = nxt
        if isinstance(value, Mapping):
            value = nest(value)
            if isinstance(node.get(last), dict):
                value = merge(node[last], value)
        elif isinstance(node.get(last), dict):
            raise ConfigError(f"config key {key!r} is given both a value and keys inside it; keep one")
        node[last] = value
    return out


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested → dotted keys (the inverse of `nest`; an empty mapping stays a value)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def parse_set(item: str) -> tuple[str, Any]:
    """`KEY=VALUE` of `--set`: the value read as JSON (`5`, `true`, `[1, 2]`), else as the text itself."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r} must look like KEY=VALUE")
    try:
        return key.strip(), json.loads(raw)
    except (ValueError, RecursionError):
        return key.strip(), raw


def build(cls: type[Config], overrides: Mapping[str, Any] | Config | None, who: str,
          base: Config | None = None) -> Config:
    """`overrides` laid over `base` (default: `cls()`, the method's defaults), checked; errors name `who`."""
    if isinstance(overrides, cls):
        return overrides
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ConfigError(
            f"{who} config must be an object of KEY: VALUE pairs, not {type(overrides).__name__} "
            f"{show(overrides)}; write it as {{\"key\": value}} in JSON or key = value in TOML"
        )
    try:
        start = base if base is not None else cls()
        return _apply(start, nest(overrides), "", start)
    except (FieldError, UnknownKey) as exc:
        raise ConfigError(f"{who} {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{who}: {exc}") from None


def _apply(obj: Config, changes: dict[str, Any], prefix: str, root: Config) -> Config:
    known = {f.name: tp for f, tp in fields_of(type(obj))}
    kw: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in known:
            raise UnknownKey(unknown_key(prefix + key, root))
        tp = known[key]
        if is_section(tp) and isinstance(value, str) and "name" in {f.name for f, _ in fields_of(tp)}:
            value = {"name": value}  # a named section takes its name alone: --set backbone=posenet
        if is_section(tp) and isinstance(value, Mapping):
            kw[key] = _apply(getattr(obj, key), value, f"{prefix}{key}.", root)
        else:
            kw[key] = value
    try:
        return dataclasses.replace(obj, **kw) if kw else obj
    except FieldError as exc:
        raise exc.within(prefix) from None


def unknown_key(key: str, root: Config) -> str:
    """One line: the key that does not exist, the nearest one that does (with its type), the choices."""
    rows = {k: t for k, t, _, _ in leaves(root)}
    keys = list(rows) + [k for k in _section_keys(root)]
    near = difflib.get_close_matches(key, keys, n=1, cutoff=0.5) or difflib.get_close_matches(
        key.replace("_", "."), keys, n=1, cutoff=0.5)
    hint = f"; nearest: {near[0]!r} ({rows.get(near[0], 'section')})" if near else ""
    parent = key.rpartition(".")[0]
    here = [k for k in keys if k.rpartition(".")[0] == parent]
    return f"has no config key {key!r}{hint}; keys{' in ' + repr(parent) if parent else ''}: {', '.join(here)}"


def _section_keys(config: Config, prefix: str = "") -> list[str]:
    out = []
    for f, tp in fields_of(type(config)):
        if is_section(tp):
            out.append(prefix + f.name)
            out += _section_keys(getattr(config, f.name), f"{prefix}{f.name}.")
    return out
