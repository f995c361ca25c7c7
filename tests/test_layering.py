"""House rules turned into failing checks: layer imports, no import cycles, one jit decorator,
no print."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import suffstat

PKG = Path(suffstat.__file__).parent
SOURCES = sorted(PKG.rglob("*.py"))

# A layer may import only from the layers listed for it (plus itself).
ALLOWED = {
    "kernels": set(),
    "statistics": set(),
    "exceptions": set(),
    "_validation": {"exceptions"},
    "_version": set(),
    "_registry": set(),
    # issue 12: files are read and written without knowing any model (models -> io)
    "io": {"exceptions", "_registry", "_version"},
    "snapshots": {"exceptions", "io", "_registry"},
    "_nested": set(),
    "_estimator": set(),
    "steps": {"exceptions", "_validation", "statistics"},  # adaptive rules map over records
    "sources": {"exceptions", "_validation"},
    "parallel": {"exceptions", "_validation", "sources"},
    "prediction": {"exceptions", "_validation", "parallel", "sources"},
    # issue 11: the models never reach the engine's loop; the engine never imports a model
    "distributions": {"statistics", "kernels", "_validation", "exceptions", "_nested", "_registry", "io",
                      "_estimator"},
    "fitting": {"statistics", "sources", "parallel", "steps", "_validation", "exceptions", "_nested", "io",
                "snapshots"},
    # an estimator's fit is a thin face over the engine (suffstat.fitting.fit)
    # issue 15: pictures read models, snapshots and data by duck typing, never the engine
    "plot": {"exceptions", "snapshots", "sources"},
    # issue 13: conjugate priors are variational mixture components over the families' records
    "priors": {"distributions", "statistics", "kernels", "_validation", "exceptions", "_registry"},
    "mixtures": {"distributions", "statistics", "kernels", "_validation", "exceptions", "_nested",
                 "_estimator", "prediction", "sources", "fitting", "priors"},
    # issue 18: hidden Markov models are learners over sequences, like the mixtures
    "hmm": {"distributions", "statistics", "kernels", "_validation", "exceptions", "_nested",
            "_estimator", "sources", "parallel", "fitting", "_registry", "io"},
    # issue 18: Bayes classifiers stream labelled rows through the sources and the ordered
    # map (labels ride as an extra column); their class distributions may be mixtures
    "classifiers": {"distributions", "mixtures", "statistics", "sources", "parallel", "prediction",
                    "_validation", "exceptions", "_estimator", "_registry", "io"},
    # issue 16: a streaming summarizer over the sources and the ordered map; its summaries
    # become a mixture (to_mixture), it never runs the EM engine
    "agglomerative": {"kernels", "statistics", "sources", "parallel", "_validation", "exceptions",
                      "_estimator", "distributions", "mixtures", "fitting"},
}
#: The modules above every layer: the public namespace and the command line.
TOP = {"__init__", "__main__", "cli", "_cli_files", "_cli_parser"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level > 0:  # from .. import x
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("suffstat."):
            found.add(node.module.split(".")[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_do_not_import_upper_layers(layer):
    files = [p for p in SOURCES if p.relative_to(PKG).parts[0].removesuffix(".py") == layer]
    assert files
    for path in files:
        inner = {p.stem for p in (PKG / layer).glob("*.py")} if (PKG / layer).is_dir() else set()
        bad = _imports(path) - ALLOWED[layer] - inner - {layer}
        assert not bad, f"{path.relative_to(PKG)} imports {bad}"


def test_every_module_has_a_layer():
    """A new module must be placed in the table (issue 11: the layering covers every layer)."""
    layers = {p.relative_to(PKG).parts[0].removesuffix(".py") for p in SOURCES}
    assert layers - set(ALLOWED) - TOP == set()


def test_the_layer_check_sees_relative_package_imports(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from .. import mixtures\nfrom ..fitting import driver\n")
    assert _imports(path) == {"mixtures", "fitting"}


def test_numba_options_only_in_the_jit_module():
    for path in SOURCES:
        if path.name == "_jit.py":
            continue
        text = path.read_text()
        for word in ("fastmath", "prange", "parallel=True", "numba.njit", "@njit", "@jit", "import numba"):
            assert word not in text, f"{path.relative_to(PKG)} mentions {word!r}"


def test_no_print_in_the_library():
    for path in SOURCES:
        if path.name in {"cli.py", "callbacks.py", "driver.py"}:  # the verbose reporters
            continue
        tree = ast.parse(path.read_text())
        calls = [
            n for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert not calls, f"{path.relative_to(PKG)} calls print()"


# -- issue 12: no import cycles between suffstat modules ----------------------------------


def _module_name(path: Path) -> str:
    parts = ("suffstat", *path.relative_to(PKG).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in SOURCES}


def _targets(importer: str, path: Path) -> set[str]:
    """The suffstat modules ``importer`` imports anywhere (module level, function
    bodies, ``from . import x``, ``from .. import x``, absolute forms), each with the
    packages that importing it runs first (except the importer's own)."""
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    explicit: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            explicit.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:  # a submodule, or a name defined in the module
                sub = f"{module}.{alias.name}"
                explicit.add(sub if sub in MODULES else module)
    explicit = {name for name in explicit if name in MODULES}
    # Importing a.b.c runs the packages a and a.b first; those enclosing the importer
    # are already being imported. An explicit import of an enclosing package (such as
    # ``from . import __version__``) does count: it needs that package initialised.
    found = set(explicit)
    for name in explicit:
        parts = name.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if not (importer == parent or importer.startswith(parent + ".")):
                found.add(parent)
    found.discard(importer)
    return found


def _import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
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
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def _cycle_path(graph: dict[str, set[str]], component: list[str]) -> str:
    """One closed path through ``component``, for the message."""
    start, inside = component[0], set(component)
    paths = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph[v] & inside):
            if w == start:
                return " -> ".join([*paths[v], start])
            if w not in paths:
                paths[w] = [*paths[v], w]
                todo.append(w)
    return " -> ".join(component)


IMPORT_GRAPH = {name: _targets(name, path) for name, path in MODULES.items()}


def test_no_import_cycles_between_suffstat_modules():
    """Issue 12: ``distributions/_base.py`` imported ``io`` (inside ``save``) while
    ``io`` imported ``distributions`` (inside ``load``), and ``io`` imported the
    package for ``__version__``. Imports in function bodies count: they are cycles in
    spirit, and they fail the day someone moves them to the top."""
    cycles = _import_cycles(IMPORT_GRAPH)
    assert not cycles, "import cycles: " + "; ".join(_cycle_path(IMPORT_GRAPH, c) for c in cycles)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from .. import io", {"suffstat.io"}),
        ("from .. import __version__", {"suffstat"}),
        ("from . import _base", {"suffstat.distributions._base"}),
        ("def f():\n    from ..io import save\n", {"suffstat.io"}),
        ("import suffstat", {"suffstat"}),
        ("from suffstat.mixtures.general import x", {"suffstat.mixtures.general", "suffstat.mixtures"}),
        ("from ..mixtures import GeneralMixtureModel", {"suffstat.mixtures"}),
    ],
)
def test_the_cycle_check_sees_every_import_form(source, expected, tmp_path, monkeypatch):
    """Issue 12: the import graph of the cycle check, for each form of import (as if
    written in ``suffstat/distributions/normal.py``)."""
    path = PKG / "distributions" / "normal.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source if self == path else "")
    assert _targets("suffstat.distributions.normal", path) == expected


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _import_cycles(graph) == [["a", "b", "c"]]
    assert _cycle_path(graph, ["a", "b", "c"]) == "a -> b -> c -> a"
