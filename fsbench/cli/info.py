"""`fsbench info NAME`: what a plugin is, from its own dataset card, docstring or config.

A method, backbone, head, classifier or split is described from its source (fsbench.cli.plugin_source),
without importing it: a method's module pulls in torch (10 s); only a dataset builder, which is
light, is imported for its card.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from rich.markup import escape

from fsbench import paths, registry
from fsbench.cli.plugin_source import Unreadable, read
from fsbench.errors import UnknownPluginError


def prepared_card(name: str) -> Any:
    """The card stored with a prepared dataset under FSBENCH_HOME (`fsbench prepare folder`), or None."""
    from fsbench.data.loader import card_from_dict

    meta = paths.prepared_dir(name) / "fsbench.json"
    try:
        return card_from_dict(json.loads(meta.read_text())["card"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _first(items: tuple[str, ...], n: int) -> str:
    return " ".join(items[:n]) + (f" … ({len(items) - n} more)" if len(items) > n else "")


def describe_card(card: Any) -> list[str]:
    """A dataset card as a newcomer reads it: title and description first, then the facts."""
    signers = _first(card.signers, 16) if card.signers else "not fixed by the card"
    counts = ", ".join(f"{v} {k}" for k, v in card.expected.items()) or "not fixed by the card"
    lines = [
        f"[bold]{escape(card.title)}[/bold]",
        escape(card.description),
        "",
        f"classes ({len(card.classes)}): {escape(_first(card.classes, 16)) or 'taken from the data'}",
        f"signers: {escape(signers)}",
        f"expected: {counts}",
        f"images stored as {card.image_size}×{card.image_size}"
        + (f"; condition column: {card.condition_column}" if card.condition_column else ""),
        f"licence: {escape(card.license)}",
        f"raw layout: {escape(card.raw_layout)}",
    ]
    if card.hub_repo:
        lines.append(f"hub: {card.hub_repo}@{card.revision}")
    if card.notes:
        lines.append(f"notes: {escape(card.notes)}")
    lines.append(f"cite: {escape(card.citation)}")
    return lines


def describe(name: str, kind: str | None = None) -> str:
    kinds = [kind] if kind else list(registry.GROUPS)
    matches = [k for k in kinds if name in registry.names(k)]
    if not matches and kind in (None, "datasets") and (prepared := prepared_card(name)) is not None:
        return "\n".join([f"[dim]prepared dataset {name}  ({paths.prepared_dir(name)})[/dim]",
                          *describe_card(prepared)])
    if not matches:
        every = sorted({n for k in kinds for n in registry.names(k)})
        raise UnknownPluginError(f"no plugin named {name!r}; installed: {', '.join(every)}")
    parts = []
    for k in matches:
        plugin = registry.find(k, name)
        parts.append(f"[dim]{k[:-1]} {name}  ({plugin.distribution}: {plugin.value})[/dim]")
        if k == "datasets":  # a builder module is light; its card is an object, not a literal
            parts += describe_card(plugin.load().card)
            continue
        doc, attrs = metadata(plugin)
        parts.append(escape(doc))
        if attrs.get("default_config"):
            parts.append("default config: " + escape(json.dumps(attrs["default_config"], sort_keys=True)))
        for key, meaning in (attrs.get("config_auto") or {}).items():
            if (attrs.get("default_config") or {}).get(key) == "auto":
                parts.append(escape(f'  "{key}": "auto" → {meaning}'))
    return "\n".join(parts)


def metadata(plugin: registry.Plugin) -> tuple[str, dict[str, Any]]:
    """Docstring, default config and what its "auto" values resolve to: read from the source
    (no torch import), or from the imported plugin where the source needs running."""
    wanted = ("default_config", "config_auto")
    try:
        return read(plugin.value, wanted, registry.BASES.get(plugin.kind))
    except (Unreadable, OSError, SyntaxError, RecursionError):
        obj = plugin.load()
        return inspect.getdoc(obj) or "", {a: getattr(obj, a) for a in wanted if hasattr(obj, a)}
