"""Sphinx configuration of the suffstat documentation.

Build with ``python -m sphinx -b html docs docs/_build/html`` (add ``-W`` to turn
warnings into errors, as the test suite does).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Document the source tree next to this folder when there is one, so that the docs
# build without installing the package.
_ROOT = Path(__file__).resolve().parents[1]
if (_ROOT / "suffstat" / "__init__.py").is_file():
    sys.path.insert(0, str(_ROOT))

import suffstat  # noqa: E402

project = "suffstat"
author = "the suffstat developers"
copyright = "the suffstat developers"  # noqa: A001
version = suffstat.__version__
release = suffstat.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_static_path = ["_static"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"

# -- autodoc / autosummary -----------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"  # types are written in the numpydoc docstrings

# -- numpydoc ------------------------------------------------------------------------
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# No intersphinx: the docs must build offline. Unresolved references to numpy or
# scipy objects are therefore left as plain text (nitpicky is off).
nitpicky = False

# -- sphinx-gallery (issue 15) ------------------------------------------------------
# The examples run when the docs are built, drawing their pictures. The test suite
# builds with ``-D plot_gallery=0`` (pages with code, no pictures, seconds) and runs
# every script itself at a small size (tests/test_gallery.py).
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "show_memory": False,
}
exclude_patterns += ["examples/*.rst"]

# -- HTML ----------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"suffstat {release}"
html_theme_options = {
    "description": "Exact, streaming and parallel fitting through additive sufficient statistics",
    "fixed_sidebar": True,
}
