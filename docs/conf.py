"""Sphinx configuration: API reference from the numpydoc docstrings, CLI reference from the argparse parsers."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "tensorkit"
author = "the tensorkit developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "cli_reference"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# scikit-learn generates set_<method>_request methods whose docstrings link into its own docs
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True,
                           "exclude-members": "set_fit_request, set_predict_request, set_score_request"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
suppress_warnings = ["ref.python"]  # tensor types in hints resolve to external projects we do not link
