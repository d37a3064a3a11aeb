"""`fsbench info NAME`: what a plugin is, from its own docstring, config or card."""

from __future__ import annotations

import inspect
import json

from fsbench import registry
from fsbench.errors import UnknownPluginError


def describe(name: str, kind: str | None = None) -> str:
    kinds = [kind] if kind else list(registry.GROUPS)
    matches = [k for k in kinds if name in registry.names(k)]
    if not matches:
        every = sorted({n for k in kinds for n in registry.names(k)})
        raise UnknownPluginError(f"no plugin named {name!r}; installed: {', '.join(every)}")
    parts = []
    for k in matches:
        plugin = registry.find(k, name)
        obj = plugin.load()
        parts.append(f"[bold]{k[:-1]} {name}[/bold]  ({plugin.distribution}: {plugin.value})")
        parts.append(inspect.getdoc(obj) or "")
        card = getattr(obj, "card", None)
        if card is not None:
            parts.append(json.dumps(card.to_dict(), indent=1, ensure_ascii=False))
        config = getattr(obj, "default_config", None)
        if config:
            parts.append("default config: " + json.dumps(config, sort_keys=True))
    return "\n".join(parts)
