"""Sphinx configuration of the sksurv-camlif documentation.

Build (no network needed; intersphinx is deliberately off)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import os
import sys

# Document the working tree, also when the package is not installed.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from sksurv_camlif import __version__  # noqa: E402

project = "sksurv-camlif"
author = "sksurv-camlif developers"
copyright = "sksurv-camlif developers; GPL-3.0-or-later"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# -- MyST --------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- autodoc / autosummary / napoleon ------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"  # the numpy docstrings carry the types
autosummary_generate = False  # api.rst lists the objects itself; nothing is generated

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True
# The network modules describe tensor shapes in "Shape" / "Forward" sections (PyTorch
# style); render them as notes instead of letting them become section titles.
napoleon_custom_sections = [("Shape", "notes_style"), ("Forward", "notes_style")]

# No network: never fetch inventories of other projects.
intersphinx_mapping = {}

# -- HTML --------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"sksurv-camlif {release}"
html_static_path = []
html_theme_options = {
    "description": "CA-MLIF multimodal deep survival model for scikit-survival",
    "fixed_sidebar": True,
}
