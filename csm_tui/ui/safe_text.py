"""Untrusted text made safe to show: escape sequences and control characters removed, long
strings cropped, and rich Text built without ever parsing markup."""

from __future__ import annotations

import re

from rich.text import Text

# ANSI/VT escape sequences (CSI, OSC, other ESC-introduced ones), removed whole.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS / SOS / PM / APC ... ST
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# C0 and C1 controls, DEL, bidirectional overrides that can reorder what is shown, and
# zero-width characters (terminals disagree on their width, which breaks column alignment).
_CONTROLS = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
_WHITESPACE = re.compile(r"[\t\n\r]+")
ELLIPSIS = "…"


def clean(text: object, max_len: int | None = None) -> str:
    """``text`` as one safe line: escapes and controls removed, newlines and tabs become spaces,
    cropped to ``max_len`` characters with an ellipsis."""
    value = "" if text is None else str(text)
    value = _ESCAPES.sub("", value)
    value = _WHITESPACE.sub(" ", value)
    value = _CONTROLS.sub("", value)
    if max_len is not None and len(value) > max_len:
        value = value[: max(0, max_len - 1)] + ELLIPSIS if max_len > 0 else ""
    return value


def safe(text: object, style: str = "", max_len: int | None = None) -> Text:
    """A rich Text of ``text`` shown literally (no markup), cleaned and cropped."""
    return Text(clean(text, max_len), style=style, no_wrap=False, end="")


def fit(text: str, width: int) -> str:
    """``text`` cropped with an ellipsis or padded with spaces to exactly ``width`` cells."""
    from rich.cells import cell_len, set_cell_size

    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + ELLIPSIS
    return set_cell_size(text, width)
