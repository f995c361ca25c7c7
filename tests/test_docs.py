"""The Sphinx documentation builds without a single warning."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_docs_build_without_warnings(tmp_path: Path) -> None:
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("sphinx_gallery")
    # Build a copy, so that autosummary writes its generated pages into tmp_path
    # rather than into the repository.
    src = tmp_path / "docs"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build", "generated"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-D",
        "plot_gallery=0",  # the gallery's scripts run in tests/test_gallery.py
        "-b",
        "html",
        "-d",
        str(tmp_path / "doctrees"),
        str(src),
        str(tmp_path / "html"),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, f"sphinx failed:\n{result.stderr}\n{result.stdout}"
    assert (tmp_path / "html" / "generated" / "suffstat.Normal.html").is_file()
    gallery = tmp_path / "html" / "auto_examples"
    assert sorted(p.name for p in gallery.glob("plot_*.html")) == sorted(
        p.with_suffix(".html").name for p in (DOCS / "examples").glob("plot_*.py"))
