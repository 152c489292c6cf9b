"""The layout's import rules, read from the source (README, "Layout"):

- ``harness`` never imports ``reference`` (it knows only the wire), and neither of them
  imports ``simulation`` or ``tests``; only tests import ``simulation``;
- inside ``reference`` a layer imports only itself and the layers below it;
- no module imports itself back through others (no import circles), counting imports
  inside functions too, since a circle hidden in a function is still a circle.

Imports under ``if TYPE_CHECKING:`` are annotations only and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("reference", "harness", "simulation", "bench")

# reference's layers, lowest first (the folder names under reference/).
LAYERS = ("data", "wire", "txn", "storage", "monitor", "raft", "relay", "reconcile", "server")

# package -> packages it may never import.
FORBIDDEN = {
    "harness": {"reference", "simulation", "tests", "bench"},
    "reference": {"harness", "simulation", "tests", "bench"},
    "simulation": {"tests", "bench"},
    "bench": {"simulation", "tests"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path, known: set[str], name: str | None = None) -> set[str]:
    """The project modules ``path`` (module ``name``) imports at run time, resolved to
    known modules."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # "from pkg import module" imports pkg.module
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    resolved = set()
    for imported in found:
        while imported and imported not in known:
            imported = imported.rpartition(".")[0]
        if imported and imported != name:
            resolved.add(imported)
    return resolved


def project_graph() -> dict[str, set[str]]:
    files = [p for pkg in (*PACKAGES, "tests") for p in (REPO / pkg).rglob("*.py")
             if ".venv" not in p.parts]
    known = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, known) for p in files}


GRAPH = project_graph()


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "reference" or len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def test_every_reference_module_sits_in_a_layer():
    stray = [m for m in GRAPH if m.startswith("reference.") and layer_of(m) is None]
    assert not stray, f"modules outside reference's layer folders {LAYERS}: {stray}"


def test_packages_keep_to_their_side():
    bad = [f"{m} imports {i}" for m, imports in GRAPH.items()
           for i in imports if i.split(".")[0] in FORBIDDEN.get(m.split(".")[0], ())]
    assert not bad, "\n".join(bad)


def test_reference_layers_import_only_downwards():
    bad = []
    for m, imports in GRAPH.items():
        mine = layer_of(m)
        if mine is None:
            continue
        for i in imports:
            theirs = layer_of(i)
            if theirs is not None and theirs > mine:
                bad.append(f"{m} ({LAYERS[mine]}) imports {i} ({LAYERS[theirs]})")
    assert not bad, "\n".join(bad)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = walk(node)
            if found:
                return found
    return None


def test_no_import_circles():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


@pytest.mark.parametrize("graph, bad", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
    ({"p": {"p.x"}, "p.x": {"p"}}, True),   # a module importing its package back
    ({"p": {"p.x"}, "p.x": set()}, False),
])
def test_the_circle_finder_finds_circles(graph, bad):
    assert (find_cycle(graph) is not None) == bad


def test_the_rules_see_a_planted_violation(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("from reference.server.core import ServerCore\n"
                       "import harness.client\n"
                       "if TYPE_CHECKING:\n    import reference.monitor\n")
    imports = imports_of(planted, set(GRAPH), "reference.data.planted")
    assert "reference.monitor" not in imports
    assert "reference.server.core" in imports and "harness.client" in imports
    assert layer_of("reference.data._planted_violation") < layer_of("reference.server.core")
