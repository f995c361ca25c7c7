"""The gallery's scripts (docs/examples/plot_*.py) run, at a small size (issue 15).

The docs build (tests/test_docs.py) renders the gallery without running the scripts
(``-D plot_gallery=0``); here each one runs in-process with
``SUFFSTAT_EXAMPLE_SIZE=small``, in a scratch working directory, with every warning an
error, and must draw at least one figure.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
SCRIPTS = sorted(EXAMPLES.glob("plot_*.py"))
# bnpy's AsteriskK8 file, when the shared data folder sits beside the project (or
# beside the folder of worktrees holding it)
_ROOT = Path(__file__).resolve().parents[1]
ASTERISK = next((p for p in (_ROOT.parent / "shared" / "data" / "asterisk_k8.npz",
                             _ROOT.parent.parent / "shared" / "data" / "asterisk_k8.npz")
                 if p.is_file()), _ROOT.parent / "shared" / "data" / "asterisk_k8.npz")


def _run(script: Path, tmp_path: Path, monkeypatch, **env: str) -> list:
    monkeypatch.setenv("SUFFSTAT_EXAMPLE_SIZE", "small")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    plt.close("all")
    try:
        runpy.run_path(str(script), run_name="__main__")
        return [plt.figure(n) for n in plt.get_fignums()]
    finally:
        plt.close("all")
        os.chdir(tmp_path)  # a script may change directory; monkeypatch restores it


def test_the_gallery_has_the_examples_of_issues_14_and_15():
    assert [p.name for p in SCRIPTS] == ["plot_cli_session.py", "plot_dp_moves.py", "plot_out_of_core.py",
                                         "plot_phase_transitions.py", "plot_step_rules.py",
                                         "plot_variational.py", "plot_warm_start.py"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_gallery_script_runs_small(script, tmp_path, monkeypatch):
    monkeypatch.delenv("SUFFSTAT_ASTERISK_K8", raising=False)
    figures = _run(script, tmp_path, monkeypatch)
    assert figures, f"{script.name} drew no figure"


@pytest.mark.skipif(not ASTERISK.is_file(), reason="bnpy's asterisk_k8.npz is not available")
def test_warm_start_example_on_bnpy_asterisk_k8(tmp_path, monkeypatch):
    figures = _run(EXAMPLES / "plot_warm_start.py", tmp_path, monkeypatch,
                   SUFFSTAT_ASTERISK_K8=str(ASTERISK))
    assert len(figures) == 5  # four laps grids and the trace
    assert [ax.get_title() for ax in figures[0].axes][0].startswith("lap 1")


@pytest.mark.skipif(not ASTERISK.is_file(), reason="bnpy's asterisk_k8.npz is not available")
def test_dp_moves_example_reaches_bnpys_clusters_on_asterisk_k8(tmp_path, monkeypatch):
    figures = _run(EXAMPLES / "plot_dp_moves.py", tmp_path, monkeypatch, SUFFSTAT_ASTERISK_K8=str(ASTERISK),
                   SUFFSTAT_EXAMPLE_SIZE="full")
    assert len(figures) == 3
    assert figures[0].texts[0].get_text().startswith("DP memoized VB: K = 8, loss -0.04787")
    assert figures[1].texts[0].get_text().startswith("100 points added: K = 9, loss 0.01175")
