"""Typed, frozen method configs: one default per value, checked on construction, hashed whole.

- `base`: `Config` (a frozen dataclass base), `option` and `section` (fields with their one
  default, one-line doc and bounds), `as_dict` (the canonical form results record and hash);
- `types`: one value checked against its annotation (`int | Literal["auto"]`, `tuple[int, ...]`, …);
- `overrides`: `--set head.epochs=5`, `--config FILE`, sweep tables → `build(cls, overrides)`,
  with one-line errors naming the key, its type and the nearest valid key;
- `sections`: the sections the core's methods share (SGD recipe, head, classifier), no defaults;
- `legacy`: plain-dict configs of plugins that keep `default_config = {...}` (`check_config`)
  and the migration of flat legacy configs to the nested form (`migrate`, `from_stored`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fsbench.configs.base import (
    Config, ConfigError, FieldError, as_dict, fields_of, get, is_section, leaves, option, section, sections, values,
)
from fsbench.configs.legacy import PRIOR_DEFAULTS, PRIOR_RANGES, check_config, migrate
from fsbench.configs.overrides import build, flatten, merge, nest, parse_set

__all__ = [
    "PRIOR_DEFAULTS", "PRIOR_RANGES", "Config", "ConfigError", "FieldError", "as_dict", "build", "check_config", "fields_of", "flatten", "from_stored",
    "get", "is_section", "leaves", "merge", "migrate", "nest", "option", "override", "parse_set", "schema", "section",
    "sections", "values",
]


def override(config: Config, changes: Mapping[str, Any], who: str) -> Config:
    """`config` with `changes` (nested or dotted) applied and checked: e.g. "auto" settings resolved."""
    return build(type(config), changes, who, base=config)


def from_stored(cls: type[Config], stored: Mapping[str, Any], who: str) -> Config:
    """A config as a results file or board stored it: today's nested form, or the flat legacy form
    it had before typed configs (moved by the class's `legacy_keys`, values unchanged)."""
    try:
        return build(cls, stored, who)
    except ConfigError:
        legacy = getattr(cls, "legacy_keys", None)
        if not legacy or not isinstance(stored, Mapping) or not set(stored) <= set(legacy):
            raise
    return build(cls, migrate(who, stored, legacy), who)


def schema(config: Config | Mapping[str, Any]) -> list[tuple[str, str, Any, str]]:
    """(key, type, default, doc) of every value: a typed config's fields (sections dotted), or the
    keys of a plain-dict default config (type read off the default, no doc)."""
    if isinstance(config, Config):
        return [(key, tp, default, doc) for key, tp, doc, default in leaves(config)]
    return [(key, "any" if v is None else type(v).__name__, v, "") for key, v in config.items()]
