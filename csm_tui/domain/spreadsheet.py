"""Rows as CSV that a spreadsheet opens as the view: a header row, numbers as numbers, and no
cell that a spreadsheet would run as a formula.

One function for every CSV csm-tui writes (`csm-tui today --csv`, `--due --csv`, and the app's
`x` export). Text from the CRM or typed by a user can start with ``=``, ``+``, ``-`` or ``@``;
Excel, LibreOffice and Google Sheets read such a cell as a formula (``=HYPERLINK(...)``). OWASP's
advice (owasp.org/www-community/attacks/CSV_Injection; ASVS 5.0 requirement 1.2.10 adds tab and
NUL): such a text cell starts with a single quote, which the spreadsheet shows as text and
hides, and quotes inside a cell are doubled (the csv module does that). Numbers are written as
numbers, so a trend of -17 stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


def spreadsheet_cell(value: object) -> str | int | float:
    """One cell: a number as is, nothing as empty, text that could be a formula with a quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_text(
    rows: Iterable[Mapping[str, object]],
    columns: Sequence[str],
    headers: Sequence[str] | None = None,
) -> str:
    """``rows`` as CSV: a header row (``headers``, else the column names), then ``columns`` of
    each row in that order (a key a row lacks is an empty cell)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([spreadsheet_cell(h) for h in (headers or columns)])
    for row in rows:
        writer.writerow([spreadsheet_cell(row.get(column)) for column in columns])
    return out.getvalue()
