"""`fsbench info NAME`: what a plugin is, from its own dataset card, docstring or config schema.

A method, backbone, head, classifier or split is described from its source (fsbench.cli.plugin_source),
without importing it: a method's module pulls in torch (10 s); only a dataset builder, which is
light, is imported for its card, and a method's typed config class from the module that defines it
(a config module imports no torch), for its schema: every key with its type, default and doc.
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

from rich.markup import escape

from fsbench import paths, registry
from fsbench.cli.plugin_source import Unreadable, class_reference, read
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
        if k == "methods":
            parts += config_schema(config_of(plugin, attrs), attrs.get("config_auto") or {})
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


def config_of(plugin: registry.Plugin, attrs: dict[str, Any]) -> Any:
    """A method's default config: its typed config class's defaults — importing only the module
    that defines the class (fsbench's own import no torch) — or its plain-dict `default_config`."""
    try:
        found = class_reference(plugin.value, "config_class")
        config_class = getattr(importlib.import_module(found[0]), found[1]) if found else None
    except (Unreadable, OSError, SyntaxError, RecursionError):
        config_class = getattr(plugin.load(), "config_class", None)
    return config_class() if config_class is not None else attrs.get("default_config") or {}


def config_schema(config: Any, auto: dict[str, str]) -> list[str]:
    """The config as a table — key (dotted: `--set KEY=VALUE`), type, default, one-line doc — and
    what each placeholder default ("auto", an empty recipe) resolves to (`config_auto`)."""
    from fsbench.configs import schema

    rows = [(key, tp, json.dumps(default), doc, default) for key, tp, default, doc in schema(config)] if config else []
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["", "config (--set KEY=VALUE, --config FILE):"]
    for key, tp, text, doc, _ in rows:
        lines.append(escape(f"  {key:<{widths[0]}}  {tp:<{widths[1]}}  {text:<{widths[2]}}  {doc}".rstrip()))
    lines += [escape(f"  {key}: {text} → {auto[key]}") for key, _, text, *_ in rows if key in auto]
    return lines
