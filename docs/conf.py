"""Sphinx configuration of the skgd documentation.

Build with ``pip install -e ".[docs]"`` then ``sphinx-build -b html docs
docs/_build/html``. Without sphinx-gallery the gallery is left out; without
matplotlib the examples are rendered but not executed.
"""

import importlib.util
import os
import sys
import warnings

# document the working tree even when skgd is not installed
sys.path.insert(0, os.path.abspath(".."))

import skgd

project = "skgd"
author = "the skgd developers"
copyright = "the skgd developers"
release = skgd.__version__
version = ".".join(release.split(".")[:2])

# no intersphinx: builds must work offline
extensions = ["sphinx.ext.autodoc", "numpydoc"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "alabaster"

autodoc_member_order = "bysource"
# numpydoc renders the Attributes and methods from the docstrings; autosummary
# stubs for every method would need a separate generation step
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

if importlib.util.find_spec("sphinx_gallery") is not None:
    extensions.append("sphinx_gallery.gen_gallery")
    sphinx_gallery_conf = {
        "examples_dirs": "../examples",
        "gallery_dirs": "auto_examples",
        "filename_pattern": r"/plot_",
        "plot_gallery": importlib.util.find_spec("matplotlib") is not None,
        "download_all_examples": False,
        "write_computation_times": False,
    }
    gallery_toctree = "auto_examples/index"
else:
    warnings.warn(
        "sphinx-gallery is not installed: the example gallery is left out "
        '(pip install -e ".[docs]").',
        stacklevel=1,
    )
    gallery_toctree = None


def _gallery_toctree(app, docname, source):
    # index.rst lists the gallery only when it is built
    if docname == "index":
        source[0] = source[0].replace("GALLERY_TOCTREE_ENTRY", gallery_toctree or "")


def setup(app):
    app.connect("source-read", _gallery_toctree)
