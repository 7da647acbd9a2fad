"""The package's layers import only downwards: data < models < evaluation < experiments < ui.

A model's ``fit`` takes callbacks instead of importing the evaluator, and analysis
(tables, significance, verdicts) lives in ``sessrec.experiments`` so that the CLI and the
pages share it; only ``sessrec.ui`` (and the pages) may use Streamlit. This test reads the
import statements of every module, the ones inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sessrec"
#: lowest first; a module may import from its own layer and the ones before it
LAYERS = ("data", "models", "evaluation", "experiments", "ui")
#: modules below every layer: any layer may use them, they use no layer
BASE = ("errors", "runtime")
#: the command line, the user tools, the reference comparisons and the demo builder sit above
#: every layer: nothing in the layers imports them
TOP = ("cli", "tools", "reference", "demo_build", "__main__")


def layer_of(module: str) -> str | None:
    """``models`` for ``sessrec.models.gru4rec``; None outside the package or for ``sessrec`` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "sessrec" else None


def imported_modules(path: Path) -> list[str]:
    """Absolute module names imported anywhere in ``path`` (relative imports resolved)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # "from sessrec import ui" names its layer in the alias, "from sessrec.ui import x" in the module
            names += [module] if layer_of(module) else [f"{module}.{alias.name}" for alias in node.names]
    return names


def violations(path: Path) -> list[str]:
    own = layer_of(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
    found = []
    for module in imported_modules(path):
        if module.split(".")[0] == "streamlit" and own != "ui":
            found.append(f"{module} (Streamlit outside sessrec.ui)")
        target = layer_of(module)
        if own in BASE + LAYERS and target in TOP:
            found.append(module)
        elif own in BASE and target in LAYERS:
            found.append(module)
        elif own in LAYERS and target in LAYERS and LAYERS.index(target) > LAYERS.index(own):
            found.append(module)
    return found


def test_no_module_imports_a_higher_layer() -> None:
    bad = {str(p.relative_to(PACKAGE.parent)): v for p in sorted(PACKAGE.rglob("*.py")) if (v := violations(p))}
    assert not bad, f"imports against the layering {' < '.join(LAYERS)}: {bad}"


@pytest.mark.parametrize("source, expected", [
    ("from sessrec.evaluation.evaluator import evaluate\n", ["sessrec.evaluation.evaluator"]),
    ("def f():\n    import streamlit as st\n", ["streamlit (Streamlit outside sessrec.ui)"]),
    ("from ..experiments import tables\n", ["sessrec.experiments"]),
    ("from sessrec import ui, data\n", ["sessrec.ui"]),
    ("from sessrec.cli import main\n", ["sessrec.cli"]),
    ("from sessrec.data.sessions import Sessions\nimport numpy\n", []),
])
def test_the_check_sees_upward_imports(tmp_path: Path, monkeypatch, source: str, expected: list[str]) -> None:
    fake = tmp_path / "sessrec" / "models" / "example.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source)
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path / "sessrec")
    assert violations(fake) == expected


def module_name(path: Path) -> str:
    """``sessrec.models.io`` for its file; ``sessrec`` for the package root's ``__init__.py``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in the file, ``TYPE_CHECKING`` blocks and
    function bodies included); ``from a import b`` counts as ``a.b`` when that is a module, else ``a``."""
    modules = {module_name(p): p for p in sorted(package.rglob("*.py"))}

    def resolve(name: str) -> str | None:
        parts = name.split(".")
        return next((".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in modules), None)

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = path.relative_to(package.parent).with_suffix("").parts[:-1]
        targets: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join((list(here[: len(here) - node.level + 1]) if node.level else [])
                                + ([node.module] if node.module else []))
                targets += [f"{base}.{alias.name}" for alias in node.names]
        graph[name] = {r for t in targets if (r := resolve(t)) and r != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_anywhere_in_the_package_root_included() -> None:
    graph = import_graph(PACKAGE)
    assert "sessrec" in graph and "sessrec.runtime" in graph["sessrec"], "the package root is read"
    assert not cycles(graph), f"import cycles: {cycles(graph)}"


def test_the_cycle_check_sees_a_cycle_through_a_function_level_import(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "sessrec"
    (root / "models").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "models" / "__init__.py").write_text("")
    (root / "models" / "a.py").write_text("from sessrec.models import b\n")
    (root / "models" / "b.py").write_text("def f():\n    from sessrec.models.a import thing\n")
    (root / "models" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sessrec\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", root)
    assert cycles(import_graph(root)) == [["sessrec.models.a", "sessrec.models.b"]]
