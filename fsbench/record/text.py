"""Text from a results file, a board, a dataset, a path or a user, escaped for where it is printed.

Names are data, never syntax: a method called `<script>` or `[/bold]`, a signer folder called
`**x**`, a config string holding a quote or a newline must print literally in every format.
`markdown` escapes for Markdown (and the HTML Markdown may hold), `toml_string` for TOML, and
rich output takes names as `rich.text.Text` (or `markup=False`) at the call site.
"""

from __future__ import annotations

import html
import re

#: characters Markdown (and GitHub's renderer) would read as syntax inside a table cell or a line
MD_SPECIAL = re.compile(r"[\\`*_\[\]|~#]")


def markdown(text: object) -> str:
    """Text as Markdown that renders literally: HTML escaped, Markdown punctuation backslashed,
    one line."""
    return MD_SPECIAL.sub(r"\\\g<0>", html.escape(str(text), quote=False)).replace("\r", " ").replace("\n", " ")


def toml_string(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters (DEL included) escaped,
    everything else literal (JSON's surrogate-pair escapes are not TOML). A lone surrogate has no
    TOML form: TypeError."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            raise TypeError(f"string {text[:40]!r} holds a lone surrogate, which has no TOML form")
        out.append("\\" + ch if ch in '"\\' else f"\\u{code:04x}" if code < 0x20 or code == 0x7F else ch)
    return '"' + "".join(out) + '"'


def comment_safe(text: str) -> str:
    """`text` for a one-line comment: control characters (a newline would end it) become '?'."""
    return "".join("?" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch for ch in text)
