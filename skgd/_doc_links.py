"""Links from the estimators' HTML representation to their documentation.

scikit-learn's notebook repr links the "?" icon of an estimator to the URL
that ``_get_doc_link`` builds from ``_doc_link_template``, and each parameter
and fitted attribute name to that URL plus a text fragment
(``#:~:text=alpha,-float%2C%20default%3D0.0001``: the name followed by its
numpydoc type line), which a browser scrolls to. The estimators' own
attributes point it at skgd's pages instead of scikit-learn's.

The documentation's root is the ``Documentation`` entry of pyproject.toml's
``[project.urls]``, read from the installed metadata; ``DOCS_URL`` is the
same address, for a tree that runs uninstalled. docs/api.rst generates one
page per public class at ``PAGE`` (autosummary, ``:toctree: generated/``),
and the docs build checks that every estimator's link resolves there.
"""

import functools
from importlib import metadata

DOCS_URL = "https://skgd.readthedocs.io/en/latest/"
# the page of a public class, relative to the documentation's root; the
# fields are those of scikit-learn's BaseEstimator._get_doc_link
PAGE = "generated/{estimator_module}.{estimator_name}.html"


@functools.cache
def documentation_url() -> str:
    """The documentation's root URL, ending in a slash."""
    try:
        entries = metadata.metadata("skgd").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        entries = []
    for entry in entries:
        label, _, url = entry.partition(",")
        # labels compare normalized (PEP 753): "Documentation", "documentation"
        if "".join(filter(str.isalnum, label)).lower() == "documentation":
            return url.strip().rstrip("/") + "/"
    return DOCS_URL


class DocLinkMixin:
    """Point scikit-learn's HTML repr at skgd's API pages (before BaseEstimator).

    A class defined outside the ``skgd`` package (a user's subclass) gets no
    link, as scikit-learn does for classes outside ``sklearn``. An instance
    may still override the template, as scikit-learn's setter allows.
    """

    _doc_link_module = "skgd"

    @property
    def _doc_link_template(self) -> str:
        return getattr(self, "__doc_link_template", documentation_url() + PAGE)

    @_doc_link_template.setter
    def _doc_link_template(self, value: str) -> None:
        setattr(self, "__doc_link_template", value)
