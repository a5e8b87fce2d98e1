"""The modules of ``loaders/`` import each other as a tree: no import cycle, however indirect.

Every ``import`` and ``from ... import`` statement is read with ``ast`` (function-local and
``TYPE_CHECKING`` ones included: a cycle is a cycle in the design even when Python's lazy
imports let it run), resolved to the module of ``loaders`` it names, and the graph of those
edges is searched for a cycle. The detector itself is tested on a package made to hold one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "loaders"


def module_name(path: Path, root: Path) -> str:
    """``root/a/b.py`` -> ``<root>.a.b``; ``root/a/__init__.py`` -> ``<root>.a``."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def imported_names(path: Path, module: str) -> set[str]:
    """Dotted names this module imports (``from x import y`` gives both ``x`` and ``x.y``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this module's package
                base = module.split(".")
                keep = len(base) - node.level + (1 if is_package else 0)
                prefix = ".".join(base[:keep])
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module of the package ``name`` refers to: itself, or the module that defines it."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the package's modules it imports (itself and its own parent packages left out)."""
    modules = package_modules(root)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {resolve(name, modules) for name in imported_names(path, module)}
        graph[module] = {
            t for t in targets if t is not None and t != module and not module.startswith(t + ".")
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None when the graph is acyclic."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_loaders_has_no_import_cycle() -> None:
    graph = import_graph(PACKAGE_DIR)
    assert len(graph) > 20, "the walk found too few modules of loaders/"
    assert graph["loaders.cassandra.reader"] >= {"loaders.cassandra.scan", "loaders.cassandra.columns"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in loaders/: " + " -> ".join(cycle or [])


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("scan_imports", "cycle"),
    [
        ("def baseline():\n    from pkg.sub.reader import plan\n", ["pkg.sub.reader", "pkg.sub.scan"]),
        ("from . import reader\n", ["pkg.sub.reader", "pkg.sub.scan"]),
        ("from .. import top\n", ["pkg.sub.reader", "pkg.sub.scan", "pkg.top"]),
        ("import json\nfrom pkg.sub import other\n", None),
    ],
)
def test_the_detector_finds_cycles_through_any_import_form(
    tmp_path: Path, scan_imports: str, cycle: list[str] | None
) -> None:
    root = tmp_path / "pkg"
    write(root, "__init__.py", "")
    write(root, "top.py", "from pkg.sub.reader import plan\n")
    write(root, "sub/__init__.py", "")
    write(root, "sub/other.py", "")
    write(root, "sub/reader.py", "from pkg.sub.scan import Scan\n\ndef plan(): ...\n")
    write(root, "sub/scan.py", scan_imports + "\nclass Scan: ...\n")
    found = find_cycle(import_graph(root))
    if cycle is None:
        assert found is None
    else:
        assert found is not None and set(found) == set(cycle) and found[0] == found[-1]
