"""The `datagen` command: demo data for the app's stores (a developer tool, not in the product image).

The options and the long help are command.py's; this module turns the errors a user can fix
into one line and a non-zero exit code, as the `loaders` command does. command.py is imported
inside ``main``: importing it reads the source-table registry (contracts/source_tables.yml),
whose errors are such one-line errors too.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from loaders.errors import UserError


def build_parser(command: ModuleType | None = None) -> argparse.ArgumentParser:
    """The parser of ``datagen``; ``command`` is datagen.command (imported here when not given)."""
    if command is None:
        command = importlib.import_module("datagen.command")
    parser = argparse.ArgumentParser(
        prog="datagen", description=command.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (never prints secrets)")
    command.add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        command = importlib.import_module("datagen.command")  # reads contracts/source_tables.yml
        parser = build_parser(command)
    except UserError as exc:
        print(f"datagen: error: {exc}", file=sys.stderr)
        return exc.exit_code
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(command.run(args))
    except UserError as exc:
        print(f"datagen: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("datagen: interrupted; rerun with --reset to start the history again", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
