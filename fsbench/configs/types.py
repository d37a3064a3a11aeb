"""One config value checked against its field's annotation, and the annotation as a user reads it.

The annotations a config field may carry are the JSON-shaped ones: `bool`, `int`, `float`, `str`,
`None`, `Literal[...]` (choices), unions of these (`int | Literal["auto"]`), `tuple[X, ...]`
(a list in JSON; stored as a tuple so the frozen object holds no mutable list), `dict[str, Any]`
and `Any`. `check` returns the value in its canonical form — an int given for a float becomes a
float, a list a tuple — so two spellings of one setting hash the same.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

NoneType = type(None)
Bounds = tuple[float | None, float | None]

_NAMES = {bool: "true/false", int: "an integer", float: "a number", str: "a string", NoneType: "null"}


class Invalid(ValueError):
    """What is wrong with one value (the caller adds which field it was)."""


def check(value: Any, tp: Any, bounds: Bounds | None = None) -> Any:
    """`value` in canonical form when it fits `tp` (and lies within `bounds`); else `Invalid`."""
    value = _fit(value, tp)
    if bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = bounds
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise Invalid(f"must lie in {span(bounds)}, not {show(value)}")
    return value


def _fit(value: Any, tp: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        for arg in args:
            try:
                return _fit(value, arg)
            except Invalid:
                continue
        choices = [a for arg in args if typing.get_origin(arg) is Literal for a in typing.get_args(arg)]
        others = [arg for arg in args if typing.get_origin(arg) is not Literal]
        expected = " or ".join([*(repr(c) for c in choices), *(_noun(a) for a in others)])
        raise Invalid(f"expects {expected}, not {show(value)} ({type(value).__name__})")
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise Invalid(f"must be one of {list(args)}, not {show(value)}")
    if tp in (None, NoneType):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise Invalid(f"must be a finite number, not {value}")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin in (tuple, list):
        if isinstance(value, (list, tuple)):
            item = args[0] if args else Any
            if len(args) > 1 and args[1] is not Ellipsis:
                raise TypeError(f"config fields take tuple[X, ...], not {tp}")
            try:
                items = tuple(_fit(v, item) for v in value)
            except Invalid as exc:
                raise Invalid(f"expects {_noun(tp)}: {exc}") from None
            return items if origin is tuple else list(items)
    elif origin in (dict, Mapping) or tp in (dict, Mapping):
        if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
            return dict(value)
    else:
        raise TypeError(f"config fields cannot be annotated {tp!r}; use bool, int, float, str, Literal, "
                        "tuple[X, ...], dict[str, Any] or a union of these")
    raise Invalid(f"expects {_noun(tp)}, not {show(value)} ({type(value).__name__})")


def _noun(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (tuple, list):
        return f"a list of {_noun(args[0]).removeprefix('an ').removeprefix('a ')}s" if args else "a list"
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return "an object"
    return _NAMES.get(tp, getattr(tp, "__name__", str(tp)))


def describe(tp: Any, bounds: Bounds | None = None) -> str:
    """The annotation as `fsbench info` and error lines print it: `int | 'auto'`, `'RGB' | 'L'`."""
    text = _text(tp)
    return f"{text}, {span(bounds)}" if bounds is not None else text


def _text(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return " | ".join(_text(a) for a in args)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if tp in (None, NoneType):
        return "None"
    if origin in (tuple, list):
        return f"list[{_text(args[0]) if args else 'Any'}]"
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return "object"
    if tp is Any:
        return "any"
    return getattr(tp, "__name__", str(tp))


def span(bounds: Bounds) -> str:
    lo, hi = bounds
    return f"{'-∞' if lo is None else lo}…{'∞' if hi is None else hi}"


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
