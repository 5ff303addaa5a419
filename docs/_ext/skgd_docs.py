"""Sphinx helpers of the skgd documentation (a local extension, see conf.py).

- ``.. skgd-output:: compare --task classify`` runs ``python -m skgd compare
  --task classify`` with the interpreter that runs Sphinx and shows the
  command and its output as a literal block: the pages show what this
  version of skgd prints, not a copy that goes stale.
- Every option that ``skgd --help`` and ``skgd compare --help`` list must be
  described by an ``.. option::`` directive under the matching ``.. program::``
  (and no other option may be): a new option without documentation is a
  warning, so ``-W`` fails the build.
- Every public name of ``skgd.__all__`` must be documented (api.rst).
- scikit-learn's docstrings (the methods the estimators inherit) refer to
  labels and glossary terms of scikit-learn's own site, which this offline
  build cannot link to: those references become plain text.
- The built pages may not load scripts or style sheets from the network (the
  site must work offline, math included): any ``<script src="http...">`` or
  ``<link href="http...">`` is a warning.
- The notebook repr of every estimator links to its page of this site and
  each parameter and fitted attribute to a text fragment, the name followed
  by its docstring type line (skgd/_doc_links.py): the page must be built,
  and show every such entry with that type line verbatim.
"""

import html
import inspect
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from docutils import nodes
from numpydoc.docscrape import NumpyDocString
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

# program name in the docs -> the arguments after ``python -m skgd``
PROGRAMS = {"skgd": [], "skgd compare": ["compare"]}
# the working tree's skgd, as conf.py documents it, even when not installed
_ROOT = Path(__file__).resolve().parents[2]
# argparse wraps --help to the terminal width: fix it, so that every build
# shows the same text
_ENV = {
    **os.environ,
    "COLUMNS": "80",
    "PYTHONIOENCODING": "utf-8",
    "PYTHONPATH": os.pathsep.join(
        p for p in (str(_ROOT), os.environ.get("PYTHONPATH", "")) if p
    ),
}
_outputs: dict[tuple[str, ...], subprocess.CompletedProcess] = {}


def run_skgd(args) -> subprocess.CompletedProcess:
    """``python -m skgd *args`` with this interpreter, once per build."""
    key = tuple(args)
    if key not in _outputs:
        _outputs[key] = subprocess.run(
            [sys.executable, "-m", "skgd", *key],
            capture_output=True,
            text=True,
            env=_ENV,
            timeout=600,
        )
    return _outputs[key]


class SkgdOutput(SphinxDirective):
    """``.. skgd-output:: ARGS``: the output of ``skgd ARGS``, as run now."""

    required_arguments = 1
    final_argument_whitespace = True

    def run(self):
        command = self.arguments[0].strip()
        proc = run_skgd(shlex.split(command))
        if proc.returncode != 0:
            raise self.error(
                f"skgd {command} exited with status {proc.returncode}:\n"
                f"{proc.stderr.strip()}"
            )
        text = f"$ skgd {command}\n{proc.stdout.rstrip()}"
        block = nodes.literal_block(text, text, language="text")
        self.set_source_info(block)
        return [block]


def help_options(help_text: str) -> set[str]:
    """The option strings of the ``options:`` section of an argparse --help."""
    options: set[str] = set()
    section = False
    for line in help_text.splitlines():
        if line.rstrip().endswith(":") and not line.startswith(" "):
            section = line.strip() in ("options:", "optional arguments:")
            continue
        match = re.match(r"  (-\S.*?)(?:  |$)", line) if section else None
        if match:
            # "-h, --help" or "--task {regress,classify}" or "--max-iter N"
            for part in match.group(1).split(", "):
                options.add(part.split()[0])
    return options


def check_options(app, env) -> None:
    """Warn about options of --help without an ``.. option::``, and back."""
    documented = set(env.get_domain("std").progoptions)
    for program, args in PROGRAMS.items():
        proc = run_skgd([*args, "--help"])
        if proc.returncode != 0:
            logger.warning("skgd %s --help failed: %s", " ".join(args), proc.stderr)
            continue
        key = program.replace(" ", "-")
        in_docs = {option for prog, option in documented if prog == key}
        for option in sorted(help_options(proc.stdout) - in_docs):
            logger.warning(
                "'%s %s' is in --help but not documented: add "
                "'.. option:: %s' under '.. program:: %s' (docs/cli.rst)",
                program,
                option,
                option,
                program,
            )
        for option in sorted(in_docs - help_options(proc.stdout)):
            logger.warning(
                "'.. option:: %s' of '%s' is not in its --help", option, program
            )


def check_api(app, env) -> None:
    """Warn about public names of skgd that no page documents."""
    import skgd

    documented = env.get_domain("py").objects
    for name in skgd.__all__:
        if not name.startswith("_") and f"skgd.{name}" not in documented:
            logger.warning(
                "skgd.%s is public but not documented: add it to docs/api.rst", name
            )


_SKLEARN_REF = re.compile(r":(?:ref|term):`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")


def plain_sklearn_references(app, what, name, obj, options, lines) -> None:
    """``:ref:`text <label>``` -> ``text`` in docstrings written by scikit-learn."""
    if getattr(obj, "__module__", None) and obj.__module__.startswith("sklearn"):
        for i, line in enumerate(lines):
            lines[i] = _SKLEARN_REF.sub(lambda m: m.group(1) or m.group(2), line)


_REMOTE = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"(https?:)?//[^\"]*\"")


def check_offline(app, exception) -> None:
    """Warn about every page that loads a script or a style sheet remotely."""
    if exception is not None or app.builder.format != "html":
        return
    for page in sorted(Path(app.outdir).rglob("*.html")):
        for match in _REMOTE.finditer(page.read_text(encoding="utf-8")):
            logger.warning(
                "%s loads %s from the network; the docs must work offline",
                page.relative_to(app.outdir),
                match.group(0),
            )


# a numpydoc entry as rendered: <dt><strong>alpha</strong><span
# class="classifier">float, default=0.0001</span></dt>
_ENTRY = re.compile(
    r'<dt[^>]*>\s*<strong>([^<]*)</strong>\s*<span class="classifier">(.*?)</span>'
    r"\s*</dt>",
    re.DOTALL,
)
_TAG = re.compile(r"<[^>]+>")


def _shown_entries(page: Path) -> set[tuple[str, str]]:
    """``(name, type line)`` of every numpydoc entry of a built page."""
    return {
        (html.unescape(name), " ".join(html.unescape(_TAG.sub("", kind)).split()))
        for name, kind in _ENTRY.findall(page.read_text(encoding="utf-8"))
    }


def check_doc_links(app, exception) -> None:
    """Warn unless each estimator's repr links to a built page showing its entries."""
    if exception is not None or app.builder.name != "html":
        return
    import skgd
    from skgd._doc_links import documentation_url

    root = documentation_url()
    for name in skgd.__all__:
        cls = getattr(skgd, name)
        if not hasattr(cls, "_get_doc_link"):
            continue
        link = cls()._get_doc_link()
        page = Path(app.outdir, link.removeprefix(root))
        if not link.startswith(root) or not page.is_file():
            logger.warning(
                "the notebook repr of skgd.%s links to %s, a page this build does "
                "not make (docs/api.rst, skgd/_doc_links.py)",
                name,
                link,
            )
            continue
        shown = _shown_entries(page)
        doc = NumpyDocString(inspect.getdoc(cls))
        for section in ("Parameters", "Attributes"):
            for entry in doc[section]:
                # the repr's fragment drops backquotes, as the page does
                kind = " ".join(entry.type.replace("`", "").split())
                if (entry.name, kind) not in shown:
                    logger.warning(
                        "%s does not show '%s : %s' (skgd.%s, %s) as written: "
                        "the repr's link to it finds no text",
                        page.relative_to(app.outdir),
                        entry.name,
                        kind,
                        name,
                        section,
                    )


def setup(app):
    app.add_directive("skgd-output", SkgdOutput)
    app.connect("env-check-consistency", check_options)
    app.connect("env-check-consistency", check_api)
    app.connect("autodoc-process-docstring", plain_sklearn_references)
    app.connect("build-finished", check_offline)
    app.connect("build-finished", check_doc_links)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
