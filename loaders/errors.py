"""Errors a user can fix: the CLI prints their one-line message and exits non-zero."""

from __future__ import annotations


class UserError(RuntimeError):
    """An error the user can fix; its message is one line naming the cause and the fix."""

    exit_code: int = 2
