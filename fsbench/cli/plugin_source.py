"""A plugin's docstring and class attributes read from its source, without importing it.

`fsbench info hand2vec` used to import the plugin — and so torch — to print a docstring and a
dict: 10 s. Reading the class out of its module's syntax tree takes milliseconds. Values are
evaluated from literals, `{**OTHER, ...}` spreads, simple arithmetic and names assigned or
imported at module level (followed into other modules of installed packages), and attributes
are inherited along base classes as Python would; anything else (a call, a conditional, a
comprehension) raises `Unreadable` and `fsbench info` imports the plugin instead. A test checks
that what this reads equals what the import gives, for every installed plugin it can read.
"""

from __future__ import annotations

import ast
import importlib.util
import operator
from functools import cache
from pathlib import Path
from typing import Any

#: binary operators the evaluator applies (a config may say `2 * 64` or `1 / 255`)
BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow}


#: bases that add no docstring or attribute a plugin's metadata could inherit
OPAQUE = {"object", "ABC", "Protocol", "Generic"}


class Unreadable(Exception):
    """The source says something only running it can tell."""


def module_file(module: str) -> Path | None:
    """The .py file of `module`, found by path alone: only a top-level spec is looked up (which
    imports nothing), the rest is walked on disk."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    for folder in map(Path, spec.submodule_search_locations or []):
        *packages, leaf = rest
        base = folder.joinpath(*packages)
        for candidate in (base / f"{leaf}.py", base / leaf / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


@cache
def _tree(module: str) -> ast.Module:
    path = module_file(module)
    if path is None:
        raise Unreadable(f"no source for {module}")
    return ast.parse(path.read_text(encoding="utf-8"))


def _package(module: str) -> str:
    """The package a module's relative imports start from."""
    path = module_file(module)
    return module if path is not None and path.name == "__init__.py" else module.rpartition(".")[0]


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _package(module).split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def lookup(module: str, name: str, depth: int = 0) -> tuple[str, ast.AST]:
    """(module, node) that defines `name` at `module`'s top level: a class, a function or the value
    assigned last, following `from … import` into other modules."""
    if depth > 20:
        raise Unreadable(f"{module}.{name}: too deep")
    found: tuple[str, ast.AST] | None = None
    for node in _tree(module).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
            found = (module, node)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            found = (module, node.value)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):  # A, B = 1, 2
            for target in node.targets:
                names = [t.id if isinstance(t, ast.Name) else None for t in getattr(target, "elts", [])]
                if name in names and len(names) == len(node.value.elts):
                    found = (module, node.value.elts[names.index(name)])
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            found = (module, node.value) if node.value is not None else found
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    source = _absolute(module, node)
                    if module_file(f"{source}.{alias.name}") is not None:  # a submodule, not a value
                        raise Unreadable(f"{name} is a module")
                    found = lookup(source, alias.name, depth + 1)
        elif isinstance(node, (ast.If, ast.Try)) and name in {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}:
            raise Unreadable(f"{module}.{name} is set under a condition")
    if found is None:
        raise Unreadable(f"{module} does not define {name}")
    return found


def evaluate(module: str, node: ast.AST | None, scope: dict[str, ast.AST] | None = None) -> Any:
    """The value of an expression made of literals, spreads, arithmetic and top-level names."""
    scope = scope or {}
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values):
            if key is None:
                spread = evaluate(module, value, scope)
                if not isinstance(spread, dict):
                    raise Unreadable("a ** spread of a non-dict")
                out.update(spread)
            else:
                out[evaluate(module, key, scope)] = evaluate(module, value, scope)
        return out
    if isinstance(node, (ast.List, ast.Tuple)):
        items = []
        for item in node.elts:
            if isinstance(item, ast.Starred):
                items.extend(evaluate(module, item.value, scope))
            else:
                items.append(evaluate(module, item, scope))
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = evaluate(module, node.operand, scope)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        return BINARY[type(node.op)](evaluate(module, node.left, scope), evaluate(module, node.right, scope))
    if isinstance(node, ast.Name):
        if node.id in scope:
            return evaluate(module, scope[node.id])
        where, found = lookup(module, node.id)
        if isinstance(found, (ast.ClassDef, ast.FunctionDef)):
            raise Unreadable(f"{node.id} is a {type(found).__name__}")
        return evaluate(where, found)
    if isinstance(node, ast.JoinedStr):  # f"{NAME} …", no format specs or conversions
        parts = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue) and part.conversion == -1 and part.format_spec is None:
                parts.append(str(evaluate(module, part.value, scope)))
            elif isinstance(part, ast.Constant):
                parts.append(part.value)
            else:
                raise Unreadable("a formatted f-string")
        return "".join(parts)
    if isinstance(node, ast.Subscript):  # TABLE["key"]
        try:
            return evaluate(module, node.value, scope)[evaluate(module, node.slice, scope)]
        except (KeyError, IndexError, TypeError) as exc:
            raise Unreadable(f"{ast.unparse(node)}: {exc!r}") from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":  # dict(X, k=v)
        args = [evaluate(module, a, scope) for a in node.args]
        kwargs = [evaluate(module, k.value, scope) if k.arg is None else {k.arg: evaluate(module, k.value, scope)}
                  for k in node.keywords]
        return dict(*args, **{k: v for d in kwargs for k, v in d.items()})
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):  # Base.attr: a class attribute
        where, found = lookup(module, node.value.id)
        if isinstance(found, ast.ClassDef):
            return class_attribute(where, found, node.attr)
    raise Unreadable(f"{module}: {type(node).__name__} needs running")


def _body(cls: ast.ClassDef) -> dict[str, ast.AST]:
    out: dict[str, ast.AST] = {}
    for node in cls.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out[node.target.id] = node.value
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = node
    return out


def _bases(module: str, cls: ast.ClassDef) -> list[tuple[str, ast.ClassDef]]:
    out = []
    for base in cls.bases:
        if isinstance(base, ast.Subscript):  # Generic[T], Protocol[T]
            base = base.value
        if isinstance(base, ast.Name) and base.id in OPAQUE:
            continue
        if not isinstance(base, ast.Name):
            raise Unreadable(f"{cls.name}'s base {ast.unparse(base)}")
        where, found = lookup(module, base.id)
        if not isinstance(found, ast.ClassDef):
            raise Unreadable(f"{cls.name}'s base {base.id} is not a class")
        out.append((where, found))
    return out


def _mro(module: str, cls: ast.ClassDef) -> list[tuple[str, ast.ClassDef]]:
    """The class and its bases in method resolution order (C3, as Python computes it)."""
    seqs = [_mro(m, c) for m, c in _bases(module, cls)] + [_bases(module, cls)]
    out = [(module, cls)]
    while any(seqs):
        seqs = [s for s in seqs if s]
        for seq in seqs:
            head = seq[0]
            if not any(head in s[1:] for s in seqs):
                break
        else:
            raise Unreadable(f"{cls.name}: no consistent base order")
        out.append(head)
        seqs = [s[1:] if s[0] == head else s for s in seqs]
    return out


def class_attribute(module: str, cls: ast.ClassDef, name: str) -> Any:
    """`cls.name` as Python would find it: the first class in the MRO that assigns it."""
    for where, klass in _mro(module, cls):
        body = _body(klass)
        if name in body:
            if isinstance(body[name], (ast.FunctionDef, ast.ClassDef)):
                raise Unreadable(f"{klass.name}.{name} is computed")
            return evaluate(where, body[name], {k: v for k, v in body.items() if k != name})
    raise AttributeError(name)


def read(value: str, attributes: tuple[str, ...], base: str | None = None) -> tuple[str, dict[str, Any]]:
    """(docstring as inspect.getdoc gives it, {attribute: value}) of the object an entry point
    `module:Name` names; attributes it lacks are left out. A class must derive from fsbench.api's
    `base` (else importing it is what reports the broken plugin). Raises `Unreadable`."""
    import inspect

    module, _, name = value.partition(":")
    if not name or "." in name:
        raise Unreadable(f"entry point {value}")
    where, node = lookup(module, name)
    if isinstance(node, ast.FunctionDef):
        return inspect.cleandoc(ast.get_docstring(node, clean=False) or ""), {}
    if not isinstance(node, ast.ClassDef):
        raise Unreadable(f"{value} is not a class or function")
    mro = _mro(where, node)
    if base is not None and not any(m == "fsbench.api" and c.name == base for m, c in mro):
        raise Unreadable(f"{value} does not derive from fsbench.api.{base}")
    doc = next((d for _, c in mro if (d := ast.get_docstring(c, clean=False)) is not None), "")
    found = {}
    for attribute in attributes:
        try:
            found[attribute] = class_attribute(where, node, attribute)
        except AttributeError:
            pass
    return inspect.cleandoc(doc), found


def class_reference(value: str, attribute: str) -> tuple[str, str] | None:
    """(module, class name) of the class that the attribute `attribute` of entry point `module:Name`
    names (e.g. a method's `config_class = Hand2VecConfig`), found in the source along the bases;
    None when no class assigns it, or assigns None. Raises `Unreadable`."""
    module, _, name = value.partition(":")
    where, node = lookup(module, name)
    if not isinstance(node, ast.ClassDef):
        raise Unreadable(f"{value} is not a class")
    for klass_module, klass in _mro(where, node):
        found = _body(klass).get(attribute)
        if found is None:
            continue
        if isinstance(found, ast.Constant) and found.value is None:
            return None
        if not isinstance(found, ast.Name):
            raise Unreadable(f"{klass.name}.{attribute} is not a plain class name")
        target_module, target = lookup(klass_module, found.id)
        if not isinstance(target, ast.ClassDef):
            raise Unreadable(f"{klass.name}.{attribute} does not name a class")
        return target_module, target.name
    return None
