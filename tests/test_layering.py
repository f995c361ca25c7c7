"""House rules turned into failing checks: layer imports, one jit decorator, no print."""

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
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("suffstat."):
            found.add(node.module.split(".")[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_do_not_import_upper_layers(layer):
    files = [p for p in SOURCES if p.relative_to(PKG).parts[0].removesuffix(".py") == layer]
    assert files
    for path in files:
        inner = {p.stem for p in (PKG / "kernels").glob("*.py")} if layer == "kernels" else set()
        bad = _imports(path) - ALLOWED[layer] - inner - {layer}
        assert not bad, f"{path.relative_to(PKG)} imports {bad}"


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
