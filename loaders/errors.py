"""Errors a user can fix: the CLI prints their one-line message and exits non-zero."""

from __future__ import annotations


class UserError(RuntimeError):
    """An error the user can fix; its message is one line naming the cause and the fix."""

    exit_code: int = 2


def one_line(text: object, limit: int = 240) -> str:
    """``text`` (an exception's message, say) as one line for an error message: its first non-blank
    line, white space folded, cut to ``limit`` characters with an ellipsis."""
    line = next((" ".join(part.split()) for part in str(text).splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"
