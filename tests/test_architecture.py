"""The house as its own imports draw it: no import cycle (imports inside functions counted), the
writer apart from the reader, the layers of ``docs/ARCHITECTURE.md`` followed, short functions.

The graph is read from the source with ``ast``, not from ``sys.modules``: a function-level import
that a test never reaches still counts. Imports under ``if TYPE_CHECKING:`` do not run and are
left out. A package's ``__init__.py`` that only hands names on (a face) draws no arrows of its
own: an import through it is followed to the submodule that defines the name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ARCHITECTURE = SRC.parent / "docs" / "ARCHITECTURE.md"
#: imports from a lower layer into a higher one that the house allows (issue 36)
MAX_UPWARD = 4
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / "ifrnet").rglob("*.py"))}


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _runtime_imports(tree: ast.Module):
    """Every import statement that can run, at any depth, skipping ``if TYPE_CHECKING:`` blocks."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _graph() -> dict[str, set[str]]:
    """Module -> the ifrnet modules it imports (through faces to the defining submodule)."""
    modules = _modules()
    trees = {name: ast.parse(path.read_text()) for name, path in modules.items()}
    raw: dict[str, list[tuple[str, str | None]]] = {}  # (target module, name imported from it)
    for name, tree in trees.items():
        package = name if _is_package(modules[name]) else name.rpartition(".")[0]
        found = []
        for node in _runtime_imports(tree):
            if isinstance(node, ast.Import):
                found += [(a.name, None) for a in node.names if a.name.startswith("ifrnet")]
                continue
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
            elif not (node.module or "").startswith("ifrnet"):
                continue
            target = ".".join(base + ([node.module] if node.module and node.level else []))
            if not node.level:
                target = node.module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub, None) if sub in modules else (target, alias.name))
        raw[name] = found

    def faces_provider(package: str, name: str | None) -> str:
        """The submodule a face takes ``name`` from, else the package itself."""
        if name is None or not _is_package(modules.get(package, Path("x.py"))):
            return package
        for target, imported in raw.get(package, []):
            if imported == name and target != package:
                return faces_provider(target, name)
        return package

    graph: dict[str, set[str]] = {}
    for name, found in raw.items():
        if _is_package(modules[name]) and _is_face(trees[name]):
            graph[name] = set()
            continue
        targets = {faces_provider(t, n) for t, n in found}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _is_face(tree: ast.Module) -> bool:
    """An ``__init__.py`` that defines no function or class: it only hands names on."""
    return not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), and self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _layers() -> list[tuple[str, list[str]]]:
    """The layer table of ARCHITECTURE.md, from the ground up: (layer, its paths under src/ifrnet)."""
    rows = []
    for line in ARCHITECTURE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] not in ("layer", "---") and line.startswith("|"):
            paths = re.findall(r"`([\w/]+(?:\.py|/))`", cells[1])
            if paths:
                rows.append((cells[0], paths))
    return rows


def _layer_of(modules: dict[str, Path]) -> dict[str, int]:
    layers = _layers()
    where: dict[str, int] = {}
    for name, path in modules.items():
        rel = path.relative_to(SRC / "ifrnet").as_posix()
        for i, (_, paths) in enumerate(layers):
            if any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in paths):
                where.setdefault(name, i)
    return where


def test_the_graph_reader_sees_relative_function_level_and_face_imports():
    graph = _graph()
    assert "ifrnet.video.reader" in graph["ifrnet.video.pipeline"]  # from .reader import ...
    assert "ifrnet.jobs.ray_cluster" in graph["ifrnet.commands.video"]  # inside a function
    assert "ifrnet.video" not in graph["ifrnet.commands.video"]  # from ..video import X: X's module
    assert graph["ifrnet.video"] == set()  # a face draws no arrows


def test_no_import_cycles():
    cycles = _cycles(_graph())
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_writer_imports_no_reader():
    assert "ifrnet.video.reader" not in _graph()["ifrnet.video.writer"]


def test_every_module_has_a_layer_and_few_imports_run_back_up():
    modules = _modules()
    layer = _layer_of(modules)
    missing = sorted(set(modules) - set(layer))
    assert missing == [], f"modules in no layer of docs/ARCHITECTURE.md: {missing}"
    names = [n for n, _ in _layers()]
    upward = sorted(
        f"{a} ({names[layer[a]]}) -> {b} ({names[layer[b]]})"
        for a, targets in _graph().items()
        for b in targets
        if layer[b] > layer[a]
    )
    assert len(upward) <= MAX_UPWARD, "imports running back up:\n" + "\n".join(upward)


def test_no_function_is_longer_than_a_screen():
    long = [
        f"{path.relative_to(SRC)}: {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in sorted((SRC / "ifrnet").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == [], f"functions over {MAX_FUNCTION_LINES} lines: {long}"
