"""Reading a user's CSV file (`cohorts --csv`, `score-check --csv`): every failure is one line
naming the file, and the line and column of a value that cannot be read."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from csm_tui.errors import CsmError

SAMPLE_VALUE_CHARS = 40  # an unreadable value is quoted in the error, cut to this length


def sample(value: str) -> str:
    """A value as an error quotes it: printable, at most SAMPLE_VALUE_CHARS characters."""
    value = "".join(ch if ch.isprintable() else " " for ch in value)
    if len(value) > SAMPLE_VALUE_CHARS:
        value = value[: SAMPLE_VALUE_CHARS - 1] + "…"
    return repr(value)


def csv_rows(
    path: Path, required: Sequence[tuple[str, str]], error: type[CsmError]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each row of the UTF-8 CSV at ``path`` (a spreadsheet's byte-order
    mark allowed), once its header has every ``(column, flag)`` of ``required``.

    A missing file, a missing column, bytes that are not UTF-8 and a malformed CSV raise
    ``error`` in one line.
    """
    if not path.is_file():
        raise error(f"CSV file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            if not columns:
                raise error(f"{path}: the file is empty (expected a header row)")
            for name, flag in required:
                if name not in columns:
                    found = ", ".join(repr(c) for c in columns)
                    raise error(f"{path}: no column {name!r} ({flag}); the columns are: {found}")
            for row in reader:
                yield reader.line_num, row
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; save the CSV as UTF-8") from None
    except csv.Error as exc:
        raise error(f"{path}: not a readable CSV ({exc})") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror})") from None
