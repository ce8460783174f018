"""Data cells as Markdown that MyST shows as text and never parses as markup.

Chapters that turn data into Markdown (``IPython.display.Markdown``, rendered by MyST because
``nb_render_markdown_format`` is ``myst``) pass every cell through :func:`text` or :func:`code`.
Otherwise a model name such as ``x` {download}`../secret.txt` `y`` would close a code span, open
a role and copy a file from outside the repository into the site; ``$...$`` would become math,
``<b>`` HTML, ``*`` emphasis. ``llmbook validate`` also refuses backticks and braces in key
columns; this module makes the chapters safe whatever the validator lets through.
"""

from __future__ import annotations

import re

#: ASCII punctuation: CommonMark lets a backslash escape any of it, and MyST honours the escape
#: for its own syntax too (roles ``{name}``, targets ``(x)=``, ``$`` math, ``:`` fences).
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_BACKTICK_RUN = re.compile(r"`+")


def text(value: object) -> str:
    """``value`` as literal Markdown text: every ASCII punctuation character backslash-escaped,
    line breaks replaced by spaces (a cell is one line; a newline could start a block)."""
    flat = " ".join(str(value).splitlines())
    return _PUNCTUATION.sub(r"\\\1", flat)


def code(value: object) -> str:
    """``value`` as an inline code span whatever it contains (CommonMark §6.1): the fence is one
    backtick longer than the longest run inside, padded with spaces when the content starts or
    ends with a backtick. Nothing inside a code span is parsed: no roles, no math, no HTML."""
    flat = " ".join(str(value).splitlines())
    longest = max((len(run) for run in _BACKTICK_RUN.findall(flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or flat.strip() == "" else ""
    return f"{fence}{pad}{flat}{pad}{fence}"
