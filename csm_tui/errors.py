"""Errors a user can meet: each carries one line that says what is wrong and what to do."""

from __future__ import annotations


class CsmError(Exception):
    """Base of every user-facing error; ``exit_code`` is what the CLI exits with."""

    exit_code = 1
