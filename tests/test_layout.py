"""The package's shape: imports run one way (no cycles, between modules or between stages), and each edge of
the design keeps its libraries (docs/design.md §2: only the store imports SQLAlchemy; responders never reach back
into the pipeline)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("monitor", "responders")


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """Every module of ours that `path` imports, at the top or inside a function."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, name, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def stage(module: str) -> str:
    """monitor.deadlines.book -> monitor.deadlines; monitor.pipeline -> monitor.pipeline."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back():
    assert cycles(graph()) == []


def test_stages_import_one_way():
    """Between stages (core, config, understanding, dedupe, deadlines, sources, store, web, cli, responders…)
    the arrows form no cycle either; the CLI's registry is the only arrow that runs back up, from cli.main."""
    edges: dict[str, set[str]] = {}
    for src, targets in graph().items():
        edges.setdefault(stage(src), set()).update(stage(t) for t in targets if stage(t) != stage(src))
    assert cycles(edges) == []


def test_core_imports_nothing_of_ours_but_core():
    for name, targets in graph().items():
        if name.startswith("monitor.core"):
            assert all(t.startswith("monitor.core") or t == "monitor" for t in targets), (name, targets)


def test_only_the_store_imports_sqlalchemy():
    for name, path in modules().items():
        if name.startswith("monitor.store"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(m.split(".")[0] in ("sqlalchemy", "alembic") for m in mods), name


def test_responders_use_no_pipeline_stage():
    """Channels read rows and settings; they act only through commands, never through the stages."""
    allowed = ("monitor.core", "monitor.config", "monitor.store", "responders")
    for name, targets in graph().items():
        if name.startswith("responders"):
            assert all(t.startswith(allowed) for t in targets), (name, sorted(targets))
