"""The shape of the code, checked: no import circle, no loop between folders, arrows only run
down the floors of the house, no module over 400 lines (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "fsbench": ROOT / "fsbench",
    **{p.name: p for p in (ROOT / "plugins").glob("*/src/fsbench_*")},
}
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for pkg, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [pkg, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node except those under `if TYPE_CHECKING:` (type-only imports draw no arrow)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """Every fsbench module `path` imports, at any depth (lazy imports close circles too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in (t for t in targets if t in known):
            # importing fsbench.a.b runs fsbench.a's __init__ first: that is an edge too
            parts = t.split(".")
            out |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)} & known.keys()
    own = name.split(".")  # a module's own packages are initialised before it: no edge
    return out - {".".join(own[:i]) for i in range(1, len(own) + 1)}


def test_no_import_circle():
    known = modules()
    graph = {m: imports(p, m, known) for m, p in known.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                pytest.fail("import circle: " + " → ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_is_small(name):
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by job (limit {MAX_LINES})"


#: the floors of the core, bottom (0) to top: a module imports its own floor or below
FLOORS = {
    **dict.fromkeys(["errors", "names", "paths", "atomic", "runtime", "progress", "device", "api", "configs", "record",
                     "cost", "registry", "deprecated", "limits", "__init__"], 0),
    **dict.fromkeys(["data", "protocol"], 1),
    **dict.fromkeys(["features", "training", "heads", "methods", "testing"], 2),
    **dict.fromkeys(["evaluation", "evaluate"], 3),  # evaluate: the shim of the old module name
    **dict.fromkeys(["deploy", "sweep", "report", "boards", "results"], 4),  # results: shims of the moved modules
    **dict.fromkeys(["python_api", "cli"], 5),  # the public API (fsbench.run, …) and the CLI that calls it
}


def _folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def folder_edges() -> dict[tuple[str, str], list[tuple[str, str]]]:
    known = modules()
    edges: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for m, p in known.items():
        if not m.startswith("fsbench."):
            continue
        for n in imports(p, m, known):
            a, b = _folder(m), _folder(n)
            if n.startswith("fsbench.") and a != b:
                edges.setdefault((a, b), []).append((m, n))
    return edges


def test_every_core_folder_has_a_floor():
    assert {_folder(m) for m in modules() if m.startswith("fsbench.")} <= FLOORS.keys()


def test_no_loop_between_folders():
    edges = folder_edges()
    loops = sorted((a, b, edges[a, b][0]) for a, b in edges if (b, a) in edges)
    assert not loops, f"folders import each other: {loops}"


def test_arrows_run_down_the_floors():
    up = sorted((m, n) for (a, b), pairs in folder_edges().items() if FLOORS[b] > FLOORS[a] for m, n in pairs)
    assert not up, f"imports that run back up the house: {up[:5]}"


def test_test_files_have_unique_names():
    """pytest imports test files without packages by basename: two of one name stop collection."""
    seen: dict[str, Path] = {}
    for path in sorted([*(ROOT / "tests").rglob("test_*.py"), *(ROOT / "plugins").glob("*/tests/**/test_*.py")]):
        assert path.name not in seen, f"{path} and {seen[path.name]} share a name: rename one"
        seen[path.name] = path
