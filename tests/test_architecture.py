"""The shape of the house (../shared/ARCHITECTURE.md), checked on the code itself: imports at the top
of files, no import cycle, services that never end a transaction, content and CLI helpers at app level."""

from __future__ import annotations

import ast
from pathlib import Path

from app.config import PROJECT_ROOT

APP = PROJECT_ROOT / "app"
#: Modules that own transactions: the flows, the routes and API, the CLI and the jobs loop (and
#: app/db.py, the home of `committed`, which they use).
TRANSACTION_OWNERS = {
    "flows.py",
    "routes.py",
    "api.py",
    "cli.py",
    "deps.py",
    "jobs.py",
    "conversation_tests.py",
    "db.py",
}


def modules() -> dict[str, Path]:
    """Return every module of app/ (migration scripts aside) by dotted name."""
    found = {}
    for path in sorted(APP.rglob("*.py")):
        if "versions" in path.parts:
            continue
        name = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imported(node: ast.AST, module: str) -> list[str]:
    """Return the app modules an import statement names (`from app.x import y` names app.x and app.x.y)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module:
        names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in names if name == "app" or name.startswith("app.")]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle of graph (its nodes, the first repeated at the end), or None."""
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        trail.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return trail[trail.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        trail.pop()
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_app_modules_are_imported_at_the_top_of_files():
    inside: list[str] = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if imported(node, name):
                    inside.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert inside == [], "an import of app inside a function hides a cycle; import at the top of the file"


def test_the_import_graph_has_no_cycle():
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = {target for node in ast.walk(tree) for target in imported(node, name) if target in known}
        # A package's own modules do not import its __init__ by importing each other.
        graph[name] = {t for t in targets if t != name and not name.startswith(t + ".")}
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_only_flows_routes_and_commands_end_transactions():
    offenders = []
    for _name, path in modules().items():
        if path.name in TRANSACTION_OWNERS or path.parent == APP / "migrations":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("commit", "rollback")
                and isinstance(node.ctx, ast.Load)
            ):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} .{node.attr}()")
    assert offenders == [], "services and helpers only flush: the flow or route that calls them commits"


def test_domains_take_shared_machinery_from_app_level():
    """Content checking, CLI helpers and language names have one home each (app/content.py,
    app/cli_helpers.py, app/languages.py): no domain reaches into another's private helpers."""
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app."):
                private = [
                    alias.name for alias in node.names if alias.name.startswith("_") and alias.name != "_"
                ]
                assert not private, (
                    f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} imports private {private}"
                )
                domain = name.split(".")[1] if name.count(".") >= 2 else None
                other = node.module.split(".")[1]
                if node.module.endswith(".cli") and domain and other != domain:
                    where = f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}"
                    raise AssertionError(f"{where}: CLI helpers live in app/cli_helpers.py")


#: Modules at the top of a domain, which may use any other domain's services: pages, API, flows, commands.
TOP_OF_DOMAIN = {"routes.py", "api.py", "flows.py", "cli.py", "deps.py", "conversation_tests.py"}


def test_domain_services_and_models_form_no_cycle_between_domains():
    """Below routes and flows, a domain uses only domains beneath it (cases never imports partners'
    service while partners imports cases, say); crossings upwards belong in a flow."""
    known = modules()
    lower = {
        name: path
        for name, path in known.items()
        if name.count(".") >= 2 and path.name not in TOP_OF_DOMAIN and "migrations" not in path.parts
    }
    edges: dict[str, set[str]] = {}
    for name, path in lower.items():
        domain = name.split(".")[1]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            for target in imported(node, name):
                parts = target.split(".")
                if len(parts) >= 3 and (APP / parts[1]).is_dir() and parts[1] != domain:
                    edges.setdefault(domain, set()).add(parts[1])
    cycle = find_cycle(edges)
    assert cycle is None, " -> ".join(cycle)
