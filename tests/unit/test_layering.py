"""The layers of portal/, checked on the source: the imports of every module (read from its AST, so
imports inside functions count as much as those at the top), function sizes, and the test tree.

- Web-side modules (the Flask layer) may import rules modules; rules modules never import web-side ones.
- portal.ledger imports only itself and the infrastructure (portal.db, portal.clock, portal.money).
- The station side (stations, purchases) does not import the read side (queries, statistics, exports).
- No import cycle among portal modules.
- No function over 60 lines.
- A test module (test_*.py) does not import another test module: shared things live in a conftest,
  tests/builders.py, or a helper that is not a test module (tests/e2e/harness.py).

Imports under `if TYPE_CHECKING:` count too: a type named in a signature is a dependency all the same
(if two modules need each other's types, the types belong in a third module). `import portal.x.y` and
`from portal.x import y` (y a submodule) are edges to portal.x.y; the parent packages a dotted
import runs first are not counted as edges, or every module would depend on portal/__init__.py.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ROOT / "portal"
TESTS = ROOT / "tests"

MAX_FUNCTION_LINES = 60
#: What portal.ledger may import besides itself: infrastructure, no product area.
LEDGER_MAY_IMPORT = {"portal.db", "portal.clock", "portal.money"}
STATION_SIDE = ("portal.stations", "portal.purchases")
READ_SIDE = ("portal.queries", "portal.statistics", "portal.exports")
IMPORTS_TESTS = re.compile(r"^\s*(from|import)\s+(tests\b|\.)", re.MULTILINE)


@dataclass(frozen=True)
class Import:
    importer: str  #: dotted module name
    target: str  #: dotted module name of what is imported (a module, never a name inside one)
    node: ast.Import | ast.ImportFrom = field(compare=False)

    def __str__(self) -> str:
        return f"{self.importer} (line {self.node.lineno}: {ast.unparse(self.node)})"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules(top: Path = PORTAL) -> dict[str, Path]:
    return {module_name(p): p for p in sorted(top.rglob("*.py"))}


def _is_package(name: str, known: dict[str, Path]) -> bool:
    return name in known and known[name].name == "__init__.py"


def _resolve(importer: str, node: ast.ImportFrom, known: dict[str, Path]) -> str:
    if not node.level:
        return node.module or ""
    package = importer if _is_package(importer, known) else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


@cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def imports_of(name: str, path: Path, known: dict[str, Path], prefix: str = "portal") -> list[Import]:
    """Every import of `prefix` modules in the file, wherever it sits (top, function, TYPE_CHECKING)."""
    found = []
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, node, known)
            # `from portal.x import y`: the submodule portal.x.y if there is one, else portal.x.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target == prefix or target.startswith(prefix + "."):
                found.append(Import(name, target, node))
    return found


@cache
def portal_imports() -> tuple[Import, ...]:
    known = modules()
    return tuple(i for name, path in known.items() for i in imports_of(name, path, known))


def within(name: str, *areas: str) -> bool:
    return any(name == area or name.startswith(area + ".") for area in areas)


def is_web_side(name: str) -> bool:
    """The Flask layer: the app factory, extensions, CLI, the web helpers, views, forms and APIs."""
    leaf = name.rpartition(".")[2]
    return (
        name in ("portal", "portal.app", "portal.extensions")  # `portal` is create_app's lazy entry point
        or within(name, "portal.web", "portal.cli", "portal.api")  # portal.api: the customer REST API
        or leaf.startswith("views")
        or leaf.endswith("_views")  # views of one blueprint split over modules (cards.loss_views, ...)
        or leaf in ("forms", "api", "web")  # queries.web: the request-parsing helpers of two blueprints
    )


def report(title: str, offences: list[str]) -> str:
    return f"{title}: {len(offences)}\n  " + "\n  ".join(offences)


def test_rules_modules_never_import_the_web_side():
    offences = [
        f"{i} imports web-side {i.target}"
        for i in portal_imports()
        if not is_web_side(i.importer) and is_web_side(i.target)
    ]
    assert not offences, report("rules modules importing views, forms or web", offences)


def test_the_ledger_imports_only_itself_and_infrastructure():
    offences = [
        f"{i} imports {i.target}"
        for i in portal_imports()
        if within(i.importer, "portal.ledger")
        and not within(i.target, "portal.ledger")
        and i.target not in LEDGER_MAY_IMPORT
    ]
    assert not offences, report(f"portal.ledger importing beyond {sorted(LEDGER_MAY_IMPORT)}", offences)


def test_the_station_side_does_not_import_the_read_side():
    offences = [
        f"{i} imports read-side {i.target}"
        for i in portal_imports()
        if within(i.importer, *STATION_SIDE) and within(i.target, *READ_SIDE)
    ]
    assert not offences, report("station side importing queries, statistics or exports", offences)


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(v: str) -> None:  # recursion depth is bounded by the number of portal modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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
            if len(component) > 1 or v in edges.get(v, ()):
                components.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return components


def test_no_import_cycles():
    edges: dict[str, set[str]] = {}
    via: dict[tuple[str, str], Import] = {}
    for i in portal_imports():
        if i.target in modules() and i.target != i.importer:
            edges.setdefault(i.importer, set()).add(i.target)
            via.setdefault((i.importer, i.target), i)
    offences = []
    for component in import_cycles(edges):
        inside = set(component)
        links = [f"{via[a, b]} -> {b}" for a in component for b in sorted(edges.get(a, ())) if b in inside]
        offences.append(" <-> ".join(component) + "\n      " + "\n      ".join(links))
    assert not offences, report("import cycles (each: the modules, then the imports inside it)", offences)


def test_no_function_over_60_lines():
    offences = []
    for name, path in modules().items():
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    offences.append(f"{name}.{node.name} (line {node.lineno}): {lines} lines")
    assert not offences, report(f"functions over {MAX_FUNCTION_LINES} lines", offences)


def is_test_module(name: str) -> bool:
    return name.rpartition(".")[2].startswith("test_")


def test_test_modules_do_not_import_each_other():
    known = modules(TESTS)
    offences = [
        f"{i} imports test module {i.target}"
        for name, path in known.items()
        if IMPORTS_TESTS.search(path.read_text(encoding="utf-8"))  # else it imports no tests.*: skip the parse
        for i in imports_of(name, path, known, prefix="tests")
        if is_test_module(i.target) and i.target != name
    ]
    assert not offences, report("test modules importing test modules (share through conftest or builders)", offences)


# --- the checker checks itself on small cases, so a rule cannot pass by finding nothing --------------


def test_the_checker_sees_function_level_relative_and_submodule_imports(tmp_path):
    pkg = tmp_path / "portal" / "area"
    pkg.mkdir(parents=True)
    (tmp_path / "portal" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "views.py").write_text("")
    (pkg / "rules.py").write_text("def f():\n    from . import views\n    import portal.area.views as v\n")
    known = {module_name(p, tmp_path): p for p in (tmp_path / "portal").rglob("*.py")}
    found = imports_of("portal.area.rules", pkg / "rules.py", known)
    assert [(i.target, i.node.lineno) for i in found] == [("portal.area.views", 2), ("portal.area.views", 3)]
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert is_web_side("portal.auth.views_password") and is_web_side("portal.stations.api")
    assert not is_web_side("portal.stations.authorization")
