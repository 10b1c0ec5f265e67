"""Sphinx configuration of the irforge documentation (``make docs`` builds it into build/docs
with warnings as errors)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# the installed package (make docs uses the project's .venv, where irforge is installed
# editable, so the docstrings are the working tree's)
import irforge  # noqa: E402

project = "irforge"
author = "the irforge authors"
copyright = "the irforge authors, MIT licence"
release = version = irforge.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True           # "Attributes" as fields: no duplicate targets with properties
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
autosummary_generate = False        # the API pages are written out (docs/api/*.rst)
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = ["_static"]
html_theme_options = {"description": "Impulse responses, fast", "fixed_sidebar": True}

# the command line's --help, as it is (docs/cli.rst includes it)
import contextlib  # noqa: E402
import io  # noqa: E402

from irforge import cli as _cli  # noqa: E402

_GEN = Path(__file__).resolve().parent / "_generated"
_GEN.mkdir(exist_ok=True)
_help = [_cli._parser().format_help()]
for _verb in ("sweep", "measure", "analyze", "convolve", "deconvolve", "dereverb", "export", "demo"):
    _out = io.StringIO()
    with contextlib.redirect_stdout(_out), contextlib.suppress(SystemExit):
        _cli._parser().parse_args([_verb, "--help"])
    _help.append(_out.getvalue())
(_GEN / "cli_help.txt").write_text("\n".join(_help))
exclude_patterns.append("_generated")

# ---- numpy-style docstrings as the package writes them -------------------------------------
# The References sections list papers as ``.. [1] Author, title`` without citing them in the
# text (numpydoc's convention); as rst footnotes those warn ("not referenced", and duplicate
# targets when several functions on one page use [1]). They become a plain list here. A ``|``
# outside ``literals`` is text (|X|^2, |Y|/|X|), not a substitution reference.
import re  # noqa: E402

_FOOTNOTE = re.compile(r"^(\s*)\.\. \[(\w+)\]\s+(.*)$")
_LITERAL = re.compile(r"(``.*?``)")


def _escape_bars(line: str) -> str:
    if line.lstrip().startswith("|"):
        return line
    parts = _LITERAL.split(line)
    return "".join(p if i % 2 else p.replace("|", r"\|") for i, p in enumerate(parts))


def _numpy_references(app, what, name, obj, options, lines):
    out, base = [], None
    for line in lines:
        m = _FOOTNOTE.match(line)
        if m:
            base = len(m.group(1))
            out.append(f"{m.group(1)}- [{m.group(2)}] {m.group(3)}")
            continue
        if base is not None:
            indent = len(line) - len(line.lstrip())
            if line.strip() and indent > base:
                out.append(" " * (base + 2) + line.strip())
                continue
            base = None
        out.append(line)
    lines[:] = [_escape_bars(ln) for ln in out]


def setup(app):
    app.connect("autodoc-process-docstring", _numpy_references)
