"""Every code example of the README and of ``docs/`` runs (issue 12, "Docs and tests").

Extraction rule
---------------
* ``README.md`` and ``docs/*.md``: every fenced block opened by a line that is exactly
  ```` ```python ```` (or ```` ```py ````). Other fences (``bash``, ``text``, ...) are not Python.
* ``docs/*.rst``: every ``.. code-block:: python`` (or ``py``, ``python3``, ``pycon``)
  directive; its body is the indented text after the directive's options. Plain ``::``
  literal blocks and ``.. code-block:: text`` are never run: a literal block is only
  ever output or a listing in these docs, and a Python example must say so with an
  explicit ``.. code-block:: python``. (:func:`test_no_unmarked_python_literal_blocks`
  checks that no ``::`` literal block looks like Python, so nothing is silently left out.)

How the blocks run
------------------
All the blocks of one file run in order, in one namespace, in a fresh temporary working
directory (so files that they write go to ``tmp_path``), with ``np.random.seed(0)`` and
``random.seed(0)`` set first and every warning turned into an error. One test per file:
a later block may use what an earlier block made, as a reader would.

Conventions in the doc sources
------------------------------
* **Checked output.** A top-level statement whose last line ends with a comment
  ``# -> EXPECTED`` (or that is followed by a comment line ``# -> EXPECTED``) must print
  ``EXPECTED`` (compared as by doctest with ``ELLIPSIS`` and
  ``NORMALIZE_WHITESPACE``, so ``...`` stands for any text). Use it only for output that
  is deterministic (seeded data, exact results). A plain ``# comment`` after a ``print``
  is prose and is not checked: write ``# ->`` to make a claim that the test keeps honest.
* **Checked output blocks.** A ``.. code-block:: text`` preceded by the rst comment
  ``.. expected-output`` is the whole printed output of the Python block just before it
  (same comparison). Unmarked ``text`` blocks (traces with timings, shell output) are
  illustrations and are not compared.
* **Skipped blocks.** A block that cannot run here (a Dask cluster, a 100 GB file, ...)
  is preceded by a comment naming the reason: in rst ``.. skip-example: REASON`` (an rst
  comment, invisible in the rendered page), in Markdown ``<!-- skip-example: REASON -->``.
  The file's test then reports the block as skipped with that reason (``-rs``) rather than
  leaving it out silently; the other blocks of the file still run.
* **Warnings.** A block whose point is a warning shows it with ``warnings.catch_warnings``
  or ``pytest.warns``-free code the reader can copy, e.g.
  ``with warnings.catch_warnings(record=True) as caught: ...``. Any other warning fails.

Shell blocks
------------
``bash`` blocks (the ``suffstat ...`` sessions of ``docs/cli.rst``, installation
commands) are not run here: the command line is exercised end to end by
``tests/test_cli.py``, and replaying the sessions needs a shell and one interpreter
start per command (tens of seconds for ``cli.rst`` alone). Each such block is reported
as skipped with that reason, so it stays visible.
"""

from __future__ import annotations

import ast
import doctest
import io
import random
import re
import warnings
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

PY_LANGS = {"python", "py", "python3", "pycon"}
SHELL_LANGS = {"bash", "sh", "shell", "console"}
SHELL_REASON = (
    "shell block: not replayed (needs a shell and one interpreter start per command; "
    "the suffstat commands are tested end to end in tests/test_cli.py)"
)
EXPECT = re.compile(r"#\s*->\s?(.*)$")
RST_SKIP = re.compile(r"^\.\.\s+skip-example:\s*(.+?)\s*$")
RST_OUTPUT = re.compile(r"^\.\.\s+expected-output\s*$")
MD_SKIP = re.compile(r"^<!--\s*skip-example:\s*(.+?)\s*-->\s*$")


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the first code line
    lang: str
    code: str
    skip: str | None = None
    expected_output: bool = False  # a text block marked ``.. expected-output``

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _md_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = re.match(r"^```\s*([\w+-]*)\s*$", lines[i])
        if m and m.group(1):
            lang = m.group(1).lower()
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            skip = None
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            if k >= 0 and (s := MD_SKIP.match(lines[k].strip())):
                skip = s.group(1)
            blocks.append(Block(path, i + 2, lang, "\n".join(lines[i + 1 : j]) + "\n", skip))
            i = j + 1
        else:
            i += 1
    return blocks


def _rst_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)\.\.\s+(?:code-block|code|sourcecode)::\s*(\S+)\s*$", line)
        if not m:
            continue
        indent, lang = len(m.group(1)), m.group(2).lower()
        j = i + 1
        # directive options (":caption: ..."), then the body: lines indented deeper
        while j < len(lines) and re.match(r"^\s+:\w[\w-]*:", lines[j]):
            j += 1
        body: list[str] = []
        first = None
        while j < len(lines):
            text = lines[j]
            if text.strip() and len(text) - len(text.lstrip()) <= indent:
                break
            if text.strip() and first is None:
                first = j + 1
            body.append(text)
            j += 1
        while body and not body[-1].strip():
            body.pop()
        skip = None
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        if k >= 0 and (s := RST_SKIP.match(lines[k].strip())):
            skip = s.group(1)
        code = _dedent(body)
        marked = k >= 0 and bool(RST_OUTPUT.match(lines[k].strip()))
        blocks.append(Block(path, first or i + 1, lang, code, skip, marked))
    return blocks


def _dedent(body: list[str]) -> str:
    import textwrap

    return textwrap.dedent("\n".join(body)).strip("\n") + "\n"


def doc_files() -> list[Path]:
    files = [ROOT / "README.md"]
    files += sorted(DOCS.glob("*.rst")) + sorted(DOCS.glob("*.md"))
    return files


def blocks_of(path: Path) -> list[Block]:
    return _md_blocks(path) if path.suffix == ".md" else _rst_blocks(path)


def _checker_matches(expected: str, got: str) -> bool:
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    return doctest.OutputChecker().check_output(expected + "\n", got, flags)


def run_block(block: Block, namespace: dict) -> str:
    """Run one block statement by statement, checking ``# -> expected`` comments.

    Return everything the block printed.
    """
    printed = []
    src_lines = block.code.splitlines()
    tree = ast.parse(block.code, filename=block.where())
    for stmt in tree.body:
        last = src_lines[stmt.end_lineno - 1]
        expected = None
        # the comment must sit on the statement's last line, after the code
        tail = last[stmt.end_col_offset :] if stmt.lineno == stmt.end_lineno else last
        m = EXPECT.search(tail) if "#" in tail else None
        if m:
            expected = m.group(1).strip()
        elif stmt.end_lineno < len(src_lines):
            # or on a comment line of its own just below the statement
            nxt = src_lines[stmt.end_lineno].strip()
            if nxt.startswith("#") and (m := EXPECT.match(nxt)):
                expected = m.group(1).strip()
        module = ast.Module(body=[stmt], type_ignores=[])
        # line numbers in tracebacks point into the doc source
        ast.increment_lineno(module, block.line - 1)
        code = compile(module, str(block.path.relative_to(ROOT)), "exec")
        out = io.StringIO()
        with redirect_stdout(out):
            exec(code, namespace)
        printed.append(out.getvalue())
        if expected is not None:
            got = out.getvalue()
            assert _checker_matches(expected, got), (
                f"{block.path.relative_to(ROOT)}:{block.line + stmt.end_lineno - 1}: "
                f"the doc says the output is\n    {expected}\nbut it is\n    {got.strip()}"
            )
    return "".join(printed)


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


FILES = doc_files()


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_doc_examples_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: the Python blocks of one doc file run in order and print what they claim."""
    blocks = blocks_of(path)
    python = [b for b in blocks if b.lang in PY_LANGS]
    # a text block marked ``.. expected-output`` right after a Python block is its output
    outputs = {
        id(a): b.code for a, b in zip(blocks, blocks[1:]) if a.lang in PY_LANGS and b.expected_output
    }
    if not python:
        pytest.skip("no Python blocks")
    monkeypatch.chdir(tmp_path)
    np.random.seed(0)
    random.seed(0)
    namespace: dict = {"__name__": "__doc_example__"}
    ran = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for block in python:
            if block.skip:
                continue
            printed = run_block(block, namespace)
            ran += 1
            if id(block) in outputs:
                assert _checker_matches(outputs[id(block)].rstrip("\n"), printed), (
                    f"{block.where()}: the output shown after this block is\n"
                    f"{outputs[id(block)]}\nbut the block prints\n{printed}"
                )
    assert ran or all(b.skip for b in python)


NOT_RUN = [
    (b, b.skip if b.lang in PY_LANGS else SHELL_REASON)
    for p in FILES
    for b in blocks_of(p)
    if (b.lang in PY_LANGS and b.skip) or b.lang in SHELL_LANGS
]


@pytest.mark.parametrize(
    ("block", "reason"), NOT_RUN, ids=[b.where() for b, _ in NOT_RUN]
)
def test_doc_example_not_run(block: Block, reason: str) -> None:
    """Issue 12: each block that is not run is reported as skipped, with its reason."""
    pytest.skip(f"{block.where()}: {reason}")


def test_extraction_finds_the_examples() -> None:
    """Issue 12: the extractor sees the blocks (a broken parser would make every test pass)."""
    readme = [b for b in blocks_of(ROOT / "README.md") if b.lang in PY_LANGS]
    assert len(readme) >= 4
    assert "GeneralMixtureModel.from_samples" in "".join(b.code for b in readme)
    rst = [b for p in DOCS.glob("*.rst") for b in blocks_of(p) if b.lang in PY_LANGS]
    n_directives = sum(
        len(re.findall(r"^\s*\.\. code-block:: python\s*$", p.read_text(), re.M))
        for p in DOCS.glob("*.rst")
    )
    assert len(rst) == n_directives > 20
    assert all(b.code.strip() for b in rst), [b.where() for b in rst if not b.code.strip()]


def test_expected_output_convention(tmp_path: Path) -> None:
    """Issue 12: a wrong ``# ->`` claim fails, a right one (with ``...``) passes."""
    good = Block(tmp_path / "x.md", 1, "python", "x = 2\nprint(x, [1, 2])  # -> 2 [1, ...]\n")
    bad = Block(tmp_path / "x.md", 1, "python", "print(3)  # -> 4\n")
    good.path = bad.path = ROOT / "README.md"
    run_block(good, {})
    with pytest.raises(AssertionError, match="the doc says"):
        run_block(bad, {})


def test_no_unmarked_python_literal_blocks() -> None:
    """Issue 12: no ``::`` literal block of the docs is Python in disguise (it would not run)."""
    suspects = []
    for path in DOCS.glob("*.rst"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if not line.rstrip().endswith("::") or re.match(r"^\s*\.\.\s", line):
                continue
            body = []
            for text in lines[i + 1 :]:
                if text.strip() and not text.startswith((" ", "\t")):
                    break
                body.append(text)
            code = _dedent(body)
            if re.search(r"^(import |from \w+ import |>>> )", code, re.M):
                suspects.append(f"{path.name}:{i + 1}")
    assert not suspects, f"use '.. code-block:: python' for these: {suspects}"
