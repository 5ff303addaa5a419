"""Sphinx configuration of the skgd documentation.

Build from the repository root, as CI does::

    pip install -e ".[docs]"
    python -m sphinx -W -b html docs docs/_build/html

The build needs no network: MathJax comes from the sphinx-mathjax-offline
package and is copied into the site, and nothing links to other sites'
inventories. It runs every example of the gallery (``examples/``) and the
``skgd`` commands shown in cli.rst, with the interpreter that runs Sphinx.
"""

import runpy
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# document the working tree even when skgd is not installed; _ext holds the
# project's own Sphinx helpers
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS / "_ext"))

import skgd  # noqa: E402

project = "skgd"
author = "the skgd developers"
copyright = "the skgd developers"
release = skgd.__version__
version = ".".join(release.split(".")[:2])

# no intersphinx: builds must work offline
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
    # MathJax 3 bundled in a wheel, served from _static/mathjax, instead of
    # Sphinx's default script from a CDN
    "sphinx-mathjax-offline",
    "sphinx_gallery.gen_gallery",
    "skgd_docs",
]
exclude_patterns = [
    "_build",
    "_templates",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
]
# _templates/class.rst: the page of each public class, which autosummary
# writes to generated/ (docs/api.rst); the estimators' notebook repr links to
# it (skgd/_doc_links.py)
templates_path = ["_templates"]
# Quotes stay straight: the repr's parameter links end in a text fragment,
# the type line of the docstring as written (``{'l2', 'l1'}``), which a
# browser matches character for character; dashes and ellipses still change.
smartquotes_action = "De"
html_theme = "alabaster"
html_theme_options = {"description": "scikit-learn estimators trained by GD"}

autodoc_member_order = "bysource"
# A "Methods" table (inherited scikit-learn methods included) at the top of
# each class, linking to the methods that autodoc's :members: renders below;
# no stub page per method. The "Attributes" section is the docstring's.
numpydoc_show_class_members = True
numpydoc_show_inherited_class_members = True
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # execute every example, not only those named plot_*
    "filename_pattern": r"\.py$",
    "download_all_examples": False,
    "write_computation_times": False,
}

# The figure of LossCurveDisplay in the user guide is drawn by a script kept
# beside it; a fresh checkout has the script only.
_figure = DOCS / "images" / "loss_curves.png"
if not _figure.exists():
    runpy.run_path(str(_figure.with_name("make_loss_curves.py")), run_name="__main__")
