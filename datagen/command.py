"""Fill the app's PostgreSQL and Cassandra with realistic synthetic data, or append a day of activity.

Full mode (default) writes about six months of history ending at --end into
empty stores: users, groups, members, outings, participants, payments and
notifications in PostgreSQL (COPY, one transaction), notification states,
messages and user events in Cassandra (unlogged batches of whole partitions,
asynchronous, a bounded number in flight), the stores written at the same time
by separate processes (--processes). Volumes are linear in --scale; scale 1 is about
10k users, 1k groups, 20k outings, 100k participants, 200k payments,
500k notifications, 450k notification states, 1M messages, 2M user events.
The same --seed and --scale always give the same contents.

The data looks like production: heavy-tailed activity, null statuses and
optional columns, orphan notification states, soft-deleted users who paid,
refunds weeks after payment, text with quotes, emoji, accents, tabs,
backslashes and newlines.

--continue appends the next day after the latest data (about 1/180 of the
volume; when that day is today, only its part up to now, and when the data
already reaches into today, the rest of today: no row is ever stamped after
the current time) and updates existing rows in place with a later updated_at:
payments settle or are refunded, outings end, RSVPs and notification states
change, a user is soft-deleted. It is deterministic given --seed and the
stores' contents (and, within today, the time it runs), and exercises
incremental loads.

Examples:
  datagen --scale 0.05 --seed 42 --reset   # demo data, replacing what is there
  datagen --continue                       # one more day (scale inferred from the data)

Full mode refuses non-empty stores unless --reset (which empties the app's
tables in both stores first). Progress goes to stderr; a summary per store
(table, rows, seconds, rows/s) to stdout.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from datagen import cassandra_store, full, gc_tuning, incremental, postgres_store
from datagen.progress import Progress
from datagen.timeline import DAY, SECOND, Window, to_us
from loaders.errors import UserError
from loaders.settings import CassandraSettings, app_postgres_dsn

DEFAULT_END = "2026-10-31T23:59:59Z"
DEFAULT_DAYS = 184
DEFAULT_SEED = 42
MAX_SCALE = 100.0
DEFAULT_PROCESSES = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="volume multiplier, linear (default 1 in full mode; inferred from the data with --continue)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--end",
        default=DEFAULT_END,
        help=f"last instant of the history, UTC ISO 8601 (default {DEFAULT_END}; full mode)",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help=f"length of the history in days (default {DEFAULT_DAYS}, about six months; full mode)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--reset", action="store_true", help="empty the app's tables in both stores first (full mode)"
    )
    mode.add_argument(
        "--continue",
        dest="continue_",
        action="store_true",
        help="append the next day of activity and update existing rows",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=cassandra_store.CONCURRENCY,
        help=f"Cassandra requests in flight (default {cassandra_store.CONCURRENCY})",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=DEFAULT_PROCESSES,
        help=f"full mode: processes that write at the same time, PostgreSQL in this one and the Cassandra "
        "tables in the others (user_events and messages in two halves of alternate days, so two such "
        f"processes share the work evenly) (default {DEFAULT_PROCESSES}; 1 writes the tables one after "
        "another; the rows are the same)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines, only the summary")


def parse_end(value: str) -> int:
    """The --end instant as the exclusive end of the window (epoch microseconds)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UserError(
            f"--end {value!r} is not an ISO 8601 date-time: use e.g. --end {DEFAULT_END}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_us(moment) + SECOND  # the window includes the whole --end second


def validate(args: argparse.Namespace) -> None:
    if args.scale is not None and not 0 < args.scale <= MAX_SCALE:
        raise UserError(
            f"--scale {args.scale:g} is out of range: use a number in (0, {MAX_SCALE:g}], e.g. --scale 0.05"
        )
    if not 1 <= args.days <= 3650:
        raise UserError(f"--days {args.days} is out of range: use 1 to 3650 (default {DEFAULT_DAYS})")
    end = parse_end(args.end)
    if not args.continue_ and end > to_us(datetime.now(UTC)) + SECOND:
        raise UserError(
            f"--end {args.end} is in the future: rows would be stamped after now; use a past instant, "
            "e.g. --end $(date -u -d '2 days ago' +%Y-%m-%dT23:59:59Z)"
        )
    if args.concurrency < 1:
        raise UserError("--concurrency must be at least 1 (default 128)")
    if not 1 <= args.processes <= 4:
        raise UserError(f"--processes must be 1 to 4 (default {DEFAULT_PROCESSES})")


def run(args: argparse.Namespace) -> int:
    validate(args)
    gc_tuning.collect_less_often()
    progress = Progress(quiet=args.quiet)
    settings = CassandraSettings.from_env(owner=True)
    conn = postgres_store.connect(app_postgres_dsn())
    try:
        cluster, session = cassandra_store.connect(settings)
        try:
            postgres_store.apply_schema(conn)
            cassandra_store.apply_schema(cluster, session, settings.keyspace)
            if args.continue_:
                incremental.generate(
                    conn,
                    session,
                    settings.keyspace,
                    seed=args.seed,
                    scale=args.scale,
                    progress=progress,
                    concurrency=args.concurrency,
                )
            else:
                end = parse_end(args.end)
                plan = full.FullPlan(
                    seed=args.seed,
                    scale=1.0 if args.scale is None else args.scale,
                    window=Window(end - args.days * DAY, end),
                )
                full.generate(
                    plan,
                    conn,
                    session,
                    settings.keyspace,
                    reset=args.reset,
                    progress=progress,
                    concurrency=args.concurrency,
                    settings=settings,
                    processes=args.processes,
                )
        finally:
            cluster.shutdown()
    finally:
        conn.rollback()
        conn.close()
    print(progress.summary(), flush=True)
    return 0
