"""The `loaders` command: one entry point for the loaders and the whole job.

It only reads the app's stores; the demo data generator is a separate tool (`datagen`).

Each subcommand lives in its own module, which exposes ``add_arguments(parser)``
and ``run(args) -> int``; this module only wires them together and turns the
errors a user can fix into one line and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from loaders import __version__
from loaders.errors import UserError
from loaders.malloc_tuning import hold_mmap_threshold

# name -> (module, one-line help); the module's docstring is the long help.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "load": (
        "loaders.load.command",
        "extract-load PostgreSQL and Cassandra tables into the DuckDB raw schemas with dlt (incremental)",
    ),
    "run": (
        "loaders.job.command",
        "the whole job: load, dbt build, docs, publish the warehouse for readers, print the report",
    ),
    "reconcile": (
        "loaders.load.reconcile_command",
        "check raw against the sources; --deep compares every row, key by key, and reloads what differs",
    ),
    "status": (
        "loaders.ops.status_command",
        "the job's status: last runs, freshness, tests, anomalies (exit 1 if the last run failed or a table is stale)",
    ),
    "serve": (
        "loaders.ops.serve_command",
        "serve the published docs, the status page (/status.html) and the metrics (/metrics), read-only",
    ),
}

DESCRIPTION = """\
Data platform of the outings app: moves the app's operational data
(PostgreSQL + Cassandra) into a DuckDB warehouse and builds the gold marts.

Connection settings come from the environment (POSTGRES_DSN, CASSANDRA_HOSTS,
CASSANDRA_USERNAME, CASSANDRA_PASSWORD, CASSANDRA_KEYSPACE, CASSANDRA_LOCAL_DC,
WAREHOUSE_PATH); when unset, the local stack's values (`make up`, `make env`)
are used. Run `loaders <command> --help` for each command's options.
"""


def chosen_subcommand(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in SUBCOMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, the other subcommands' modules are not imported (a load does not
    pay for the job's, the server's and the status page's imports: ~0.1 s idle, 0.3 s loaded)."""
    parser = argparse.ArgumentParser(
        prog="loaders", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (never prints secrets)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if only is not None and name != only:
            subparsers.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(
            name,
            help=help_text,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    hold_mmap_threshold()  # before the commands load their libraries: see loaders/malloc_tuning.py
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(chosen_subcommand(words))
    except UserError as exc:  # read while the commands load: contracts/source_tables.yml, say
        print(f"loaders: error: {exc}", file=sys.stderr)
        return exc.exit_code
    args = parser.parse_args(words)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"loaders {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(
            f"loaders {args.command}: interrupted; the next run completes or redoes this one", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
