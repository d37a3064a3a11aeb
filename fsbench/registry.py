"""Plugin discovery over Python entry points — the only way anything is registered.

fsbench's own built-ins are declared in its pyproject under the same groups as third-party
plugins, so there is one discovery path. Entry points are imported lazily, on first use.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from fsbench.errors import FsbenchError, UnknownPluginError

GROUPS: dict[str, str] = {
    "methods": "fsbench.methods",
    "backbones": "fsbench.backbones",
    "heads": "fsbench.heads",
    "classifiers": "fsbench.classifiers",
    "splits": "fsbench.splits",
    "datasets": "fsbench.datasets",
}


class PluginWarning(UserWarning):
    """A plugin failed to import; the others still work."""


@dataclass(frozen=True)
class Plugin:
    kind: str
    name: str
    value: str
    distribution: str

    def load(self) -> Any:
        """The entry point's object, checked to be of the kind its group promises.

        Anything the import raises, SystemExit included (a plugin calling sys.exit on import),
        becomes a one-line `BrokenPluginError` naming the plugin and its distribution.
        """
        try:
            obj = EntryPoint(self.name, self.value, GROUPS[self.kind]).load()
        except (Exception, SystemExit) as exc:  # a broken third-party plugin must not take the rest down
            what = f"called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
            raise BrokenPluginError(
                f"{self.kind[:-1]} {self.name!r} from distribution {self.distribution!r} failed to "
                f"import ({' '.join(what.split())[:300]}); reinstall or uninstall {self.distribution}"
            ) from exc
        self.check(obj)
        return obj

    def check(self, obj: Any) -> None:
        """A class of the group's base type, or a factory (any other callable); nothing else.

        Dataset builders are checked by shape (a class with a `card` and `prepare`): importing
        `DatasetBuilder` here would close an import circle through the data stores.
        """
        if self.kind == "datasets":
            ok, wanted = isinstance(obj, type) and hasattr(obj, "card") and callable(getattr(obj, "prepare", None)), "DatasetBuilder"
        else:
            base = _base_class(self.kind)
            ok, wanted = issubclass(obj, base) if isinstance(obj, type) else callable(obj), base.__name__
        if not ok:
            raise BrokenPluginError(
                f"{self.kind[:-1]} {self.name!r} from distribution {self.distribution!r} points at "
                f"{self.value} = {type(obj).__name__} {_brief(obj)}, not a {wanted} subclass or "
                f"factory; fix its entry point or uninstall {self.distribution}"
            )


#: the fsbench.api class a group's classes derive from (named, so reading it needs no torch)
BASES: dict[str, str] = {
    "methods": "Method", "backbones": "PoseBackbone", "heads": "EmbeddingHead",
    "classifiers": "LowShotClassifier", "splits": "SignerSplit",
}


def _base_class(kind: str) -> type:
    from fsbench import api

    return getattr(api, BASES[kind])


def _brief(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:59] + "…"


class BrokenPluginError(FsbenchError):
    """A registered plugin whose module cannot be imported."""


def _kind(kind: str) -> str:
    if kind not in GROUPS:
        raise UnknownPluginError(
            f"unknown plugin kind {kind!r}; kinds are: {', '.join(GROUPS)}"
        )
    return kind


@cache
def _discover(kind: str) -> tuple[dict[str, Plugin], dict[str, list[Plugin]]]:
    """name → plugin, plus the names that more than one distribution registers."""
    found: dict[str, list[Plugin]] = {}
    for ep in entry_points(group=GROUPS[kind]):
        dist = ep.dist.name if ep.dist is not None else "<unknown>"
        plugin = Plugin(kind, ep.name, ep.value, dist)
        same = found.setdefault(ep.name, [])
        if all((p.value, p.distribution) != (plugin.value, plugin.distribution) for p in same):
            same.append(plugin)
    unique = {n: ps[0] for n, ps in found.items() if len(ps) == 1}
    clashes = {n: ps for n, ps in found.items() if len(ps) > 1}
    return unique, clashes


def refresh() -> None:
    """Forget discovered plugins (after installing one in the same process)."""
    _discover.cache_clear()


def names(kind: str) -> list[str]:
    unique, clashes = _discover(_kind(kind))
    return sorted([*unique, *clashes])


def plugins(kind: str) -> list[Plugin]:
    unique, clashes = _discover(_kind(kind))
    return sorted([*unique.values(), *(p for ps in clashes.values() for p in ps)], key=lambda p: p.name)


def find(kind: str, name: str) -> Plugin:
    unique, clashes = _discover(_kind(kind))
    if name in clashes:
        dists = " and ".join(repr(p.distribution) for p in clashes[name])
        raise FsbenchError(
            f"{kind[:-1]} {name!r} is registered by both {dists}; uninstall one of them"
        )
    if name not in unique:
        known = names(kind)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownPluginError(
            f"no {kind[:-1]} named {name!r}; installed: {', '.join(known) or 'none'}.{hint}"
        )
    return unique[name]


def get(kind: str, name: str) -> Any:
    """The object an entry point names (a class or a factory)."""
    return find(kind, name).load()


def classifier(name: str, **settings: Any) -> Any:
    """The registered classifier `name` given those of `settings` its factory takes: a method hands
    over every setting it has (a head's α and β, the prior's n0) and each rule takes its own."""
    import inspect

    factory = get("classifiers", name)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C factory: nothing can be passed by name
        return factory()
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return factory(**settings)
    return factory(**{k: v for k, v in settings.items() if k in params})


def load_all(kind: str) -> dict[str, Any]:
    """Every loadable plugin of a kind; broken ones become a `PluginWarning`, not a crash."""
    out = {}
    for plugin in plugins(kind):
        try:
            out[plugin.name] = find(kind, plugin.name).load()
        except FsbenchError as exc:
            warnings.warn(str(exc), PluginWarning, stacklevel=2)
    return out
