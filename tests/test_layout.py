"""The package reads from its names: no folder a reader takes for something else, no import circle, a
component's replica twin named like it, and the Redis side's Lua generic (no rule of the vendor in it)."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mock_omni"
#: Folder names every tool and reader takes for something else: third-party code, common helpers.
MISLEADING = {"vendor", "vendored", "shared", "common", "utils", "misc"}
#: Words of the vendor's API and the admin API: none belongs in a script Redis runs for the mock.
VENDOR_WORDS = ("scenario", "default", "scope", "credential", "grant", "session", "report", "flow", "channel",
                "account", "message", "token", "password")
MAX_LUA_LINES = 300


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _under_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules ``name`` imports, inside functions too; ``if TYPE_CHECKING:`` ones aside."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _under_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base) + (f".{node.module}" if node.module else "")
            else:
                origin = node.module or ""
            for alias in node.names:
                target = f"{origin}.{alias.name}"
                found.add(target if target in known else origin)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text("utf-8")))
    return {target for target in found if target in known and target != name}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                part = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == node:
                        break
                if len(part) > 1:
                    found.append(sorted(part))
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        graph[name] |= imports_of(name, path, known)
    return graph


def test_no_folder_is_named_like_something_it_is_not() -> None:
    folders = {path.name for path in PACKAGE.rglob("*") if path.is_dir() and path.name != "__pycache__"}
    assert not folders & MISLEADING, sorted(folders & MISLEADING)


def test_there_is_no_import_circle_counting_imports_inside_functions() -> None:
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph: dict[str, set[str]] = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_imports_inside_functions_and_skips_type_checking_ones(tmp_path: Path) -> None:
    known = modules()
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .app import MockOmni\n"
              "def f():\n    from .stores import open_state\n")
    module = PACKAGE / "state.py"
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    found = imports_of("mock_omni.state", probe, known)
    assert "mock_omni.stores" in found and "mock_omni.app" not in found
    assert module.exists()


def test_a_replica_twin_is_named_like_the_component_it_extends() -> None:
    """replication/webhooks.py extends api/webhooks.py's Webhooks: a reader finds one from the other."""
    checked = 0
    for name in sorted(modules()):
        if not name.startswith("mock_omni.replication."):
            continue
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or issubclass(cls, BaseException):
                continue  # errors extend the error hierarchy, not a component
            for base in cls.__bases__:
                if base.__module__.startswith("mock_omni.") and not base.__module__.startswith("mock_omni.replication"):
                    checked += 1
                    assert base.__module__.rsplit(".", 1)[1] == name.rsplit(".", 1)[1], (cls, base)
    assert checked >= 3


def test_the_lua_on_redis_is_generic_and_short() -> None:
    scripts = sorted(PACKAGE.rglob("*.lua"))
    assert scripts
    lines = 0
    for script in scripts:
        text = script.read_text("utf-8")
        lines += len(text.splitlines())
        words = sorted({word for word in VENDOR_WORDS if re.search(word, text, re.IGNORECASE)})
        assert not words, (script.name, words)
    assert lines <= MAX_LUA_LINES
