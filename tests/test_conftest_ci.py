"""The CI guard of tests/conftest.py: a missing test dependency fails in CI (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

TESTS = '''
import sys
import pytest

def test_runtime(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)   # as if h5py were not installed
    pytest.importorskip("h5py")

def test_other(monkeypatch):
    monkeypatch.setitem(sys.modules, "not_a_test_dependency", None)
    pytest.importorskip("not_a_test_dependency")
'''

MODULE_LEVEL = '''
import sys
sys.modules["sklearn"] = None
import pytest
sklearn = pytest.importorskip("sklearn")

def test_never_runs():
    pass
'''


@pytest.mark.parametrize(("ci", "failed", "skipped"), [("true", 2, 1), ("", 0, 3)])
def test_missing_anchor_module_fails_only_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, failed: int, skipped: int
) -> None:
    """Issue 12: with CI=true, a skip for a missing sklearn/h5py/zarr/Dask is a failure.

    A guard that never fired (wrong hook, wrong message pattern, collection-time skips
    not handled) would leave both runs at three skips.
    """
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_runtime_skip=TESTS, test_module_skip=MODULE_LEVEL)
    monkeypatch.setenv("CI", ci)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", "--continue-on-collection-errors"
    )
    counts = result.parseoutcomes()
    assert counts.get("failed", 0) + counts.get("errors", 0) == failed, result.stdout.str()
    assert counts.get("skipped", 0) == skipped, result.stdout.str()
    if failed:
        result.stdout.fnmatch_lines(["*h5py is a test dependency and CI=true*"])
        result.stdout.fnmatch_lines(["*sklearn is a test dependency and CI=true*"])
