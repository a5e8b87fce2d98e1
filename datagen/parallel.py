"""Child processes forked to write some tables while this process writes others.

A child inherits the generated world (copy-on-write), opens its own connections, and sends
back either its result or the one-line error a user can fix; the parent raises that error.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from loaders.errors import UserError

T = TypeVar("T")


def spread(work: Sequence[T], processes: int) -> list[tuple[T, ...]]:
    """``work`` (heaviest first) dealt round-robin over at most ``processes`` groups."""
    count = max(1, min(processes, len(work)))
    return [tuple(work[i::count]) for i in range(count)]


class Child:
    """A forked process running one function; ``result()`` waits for its return value."""

    def __init__(self, process: BaseProcess, pipe: multiprocessing.connection.Connection) -> None:
        self.process = process
        self.pipe = pipe

    def result(self) -> Any:
        try:
            kind, value, exit_code = self.pipe.recv()
        except EOFError:
            self.process.join()
            raise UserError(
                f"a writer process died (exit code {self.process.exitcode}): rerun with --reset"
            ) from None
        self.process.join()
        if kind == "error":
            error = UserError(value)
            error.exit_code = exit_code
            raise error
        return value

    def stop(self) -> None:
        """End the process if it is still running (the parent failed first)."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self.pipe.close()


def _run(
    function: Callable[..., Any], args: tuple[Any, ...], pipe: multiprocessing.connection.Connection
) -> None:
    try:
        pipe.send(("ok", function(*args), 0))
    except UserError as exc:
        pipe.send(("error", str(exc), exc.exit_code))
    except BaseException as exc:
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        pipe.send(("error", f"a writer process failed ({detail[:300]}): rerun with --reset", 1))
    finally:
        pipe.close()


def fork(function: Callable[..., Any], *args: Any) -> Child:
    """Start ``function(*args)`` in a forked child process."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_run, args=(function, args, sender), daemon=True)
    process.start()
    sender.close()
    return Child(process, receiver)
