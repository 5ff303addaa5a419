"""The notebook repr links each estimator to its page of the built docs.

scikit-learn's HTML repr links the "?" icon to ``_get_doc_link()`` and each
parameter and fitted attribute name to that page plus a text fragment, the
name followed by its docstring type line (skgd/_doc_links.py). These tests
check the links against the docs' sources without building them (a build
runs every gallery example: minutes, and it writes into docs/): the page is
one that docs/api.rst has autosummary generate, and each fragment is the
estimator's own numpydoc entry for that name, the text its page shows. The
built HTML is checked by the docs build itself (docs/_ext/skgd_docs.py,
``check_doc_links``), which CI runs with ``-W``.
"""

import email.message
import inspect
import re
import warnings
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import pytest
from numpydoc.docscrape import NumpyDocString

import skgd
from skgd import _doc_links
from skgd._doc_links import DOCS_URL, PAGE, documentation_url

ROOT = Path(__file__).resolve().parents[1]
ESTIMATORS = [
    getattr(skgd, name)
    for name in skgd.__all__
    if hasattr(getattr(skgd, name), "_get_doc_link")
]
_HREF = re.compile(r'href="([^"]*)"')


def _entries(cls, section):
    """``{name: type line}`` of a numpydoc section of ``cls``'s docstring."""
    return {p.name: p.type for p in NumpyDocString(inspect.getdoc(cls))[section]}


def _fragment_link(cls, name, type_line):
    """The link that finds ``name : type_line`` on ``cls``'s page."""
    text = f"{quote(name)},-{quote(type_line.replace('`', ''))}"
    return f"{cls()._get_doc_link()}#:~:text={text}"


def _fitted(cls):
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = X[:, 0] if "Regressor" in cls.__name__ else X[:, 0] > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(max_iter=3).fit(X, y)


def test_estimators_are_found():
    assert {skgd.GDRegressor, skgd.GDMLPClassifier} <= set(ESTIMATORS)
    assert skgd.LossCurveDisplay not in ESTIMATORS


def test_documentation_url_is_pyprojects():
    """One address: pyproject's [project.urls], which the metadata carries."""
    tomllib = pytest.importorskip("tomllib")
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Documentation"] == DOCS_URL
    assert documentation_url() == DOCS_URL


@pytest.mark.parametrize(
    "entries, expected",
    [
        (["Source, https://x.org/src", "documentation, https://x.org/d"], "d/"),
        (["Documentation, https://x.org/d/"], "d/"),
        (["Source, https://x.org/src"], None),
        ([], None),
    ],
)
def test_documentation_url_reads_the_metadata(monkeypatch, entries, expected):
    message = email.message.Message()
    for entry in entries:
        message["Project-URL"] = entry
    monkeypatch.setattr(_doc_links.metadata, "metadata", lambda name: message)
    documentation_url.cache_clear()
    try:
        url = documentation_url()
    finally:
        documentation_url.cache_clear()
    assert url == (DOCS_URL if expected is None else "https://x.org/" + expected)


def test_documentation_url_without_metadata(monkeypatch):
    def missing(name):
        raise _doc_links.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(_doc_links.metadata, "metadata", missing)
    documentation_url.cache_clear()
    try:
        assert documentation_url() == DOCS_URL
    finally:
        documentation_url.cache_clear()


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_doc_link_is_the_estimators_page(cls):
    page = f"generated/skgd.{cls.__name__}.html"
    assert cls()._get_doc_link() == documentation_url() + page
    assert PAGE.format(estimator_module="skgd", estimator_name=cls.__name__) == page
    # the "?" icon of the repr
    assert f'href="{documentation_url() + page}"' in cls()._repr_html_()


def test_subclass_outside_skgd_has_no_link():
    """As in scikit-learn: skgd's docs have no page for a user's subclass."""

    class Mine(skgd.GDRegressor):
        pass

    assert Mine.__module__ == __name__
    assert Mine()._get_doc_link() == ""


def test_doc_link_template_can_be_overridden_per_instance():
    est = skgd.GDRegressor()
    est._doc_link_template = "https://example.org/{estimator_name}.html"
    assert est._get_doc_link() == "https://example.org/GDRegressor.html"
    assert skgd.GDRegressor()._get_doc_link().startswith(DOCS_URL)


def test_api_rst_generates_the_linked_pages():
    """docs/api.rst has autosummary write each page the repr links to."""
    generate = pytest.importorskip("sphinx.ext.autosummary.generate")
    api = ROOT / "docs" / "api.rst"
    entries = generate.find_autosummary_in_files([str(api)])
    built = {
        f"{Path(e.path).name}/{e.name}.html"
        for e in entries
        if e.path is not None and e.template is not None
    }
    templates = {e.template for e in entries}
    assert all((ROOT / "docs" / "_templates" / t).is_file() for t in templates)
    for cls in ESTIMATORS:
        page = cls()._get_doc_link().removeprefix(documentation_url())
        assert page in built


# sklearn links the first line that contains "<name> : ", and these entries
# sit below another whose name ends in theirs (huber_epsilon, then
# learning_rate_init_ or intercept_ for t_): the link finds the other's text.
# Moving them above it in the docstrings (skgd/_linear.py, skgd/_docstrings.py)
# fixes them, and then these strict xfails fail: remove them.


def _cases(section):
    cases = []
    for cls in ESTIMATORS:
        for name in _entries(cls, section):
            cases.append(pytest.param(cls, name, id=f"{cls.__name__}-{name}"))
    return cases


@pytest.mark.parametrize("cls, name", _cases("Parameters"))
def test_parameter_links_find_their_own_entry(cls, name):
    """The repr links ``name`` to the text ``name`` + its own type line."""
    assert name in cls().get_params()
    html = cls()._repr_html_()
    expected = _fragment_link(cls, name, _entries(cls, "Parameters")[name])
    assert f'href="{expected}"' in html


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_parameter_is_linked(cls):
    links = {
        unquote(href.partition("#:~:text=")[2]).partition(",-")[0]
        for href in _HREF.findall(cls()._repr_html_())
    }
    assert set(cls().get_params()) <= links


@pytest.mark.parametrize("cls, name", _cases("Attributes"))
def test_fitted_attribute_links_find_their_own_entry(cls, name):
    est = _fitted(cls)
    if not hasattr(est, name):
        pytest.skip(f"{name} is not set by this fit")
    expected = _fragment_link(cls, name, _entries(cls, "Attributes")[name])
    assert f'href="{expected}"' in est._repr_html_()
