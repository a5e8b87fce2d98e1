"""Publishing: the readers' copy (ATTACH + CREATE TABLE AS SELECT per table, HMAC of the
personal columns) beside the reference, a plain copy of the whole build file (what the job
did before readers got a copy without raw schemas and personal data).

    .venv/bin/python bench/bench_publish.py [--users 20000] [--messages 2000000] [--events 4000000]

The build warehouse is synthetic (raw and staging copies of users, messages and events, and a
gold table), written once under --dir; both publishes run on it in the same run, twice each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb


def build_warehouse(path: Path, users: int, messages: int, events: int) -> None:
    with duckdb.connect(str(path)) as conn:
        for schema in ("raw_postgres", "raw_cassandra", "staging", "intermediate", "gold"):
            conn.execute(f"create schema {schema}")
        conn.execute(
            "create table raw_postgres.users as select uuid() as id, 'user_' || range as username, "
            "'user.' || range || '@example.com' as email, 'Paris' as city, now() as created_at from range(?)",
            [users],
        )
        conn.execute(
            "create table raw_cassandra.messages as select uuid() as group_id, uuid() as message_id, "
            "uuid() as user_id, 'message body number ' || range as body, now() - to_seconds(range) as sent_at "
            "from range(?)",
            [messages],
        )
        conn.execute(
            "create table raw_cassandra.user_events as select uuid() as user_id, uuid() as event_id, 'app_open' "
            'as event_type, \'{"source": "push"}\'::json as properties, now() - to_seconds(range) as event_time '
            "from range(?)",
            [events],
        )
        conn.execute(
            "create table staging.stg_postgres__users as select id as user_id, * exclude (id) from raw_postgres.users"
        )
        conn.execute("create table staging.stg_cassandra__messages as select * from raw_cassandra.messages")
        conn.execute(
            "create table staging.stg_cassandra__user_events as select * from raw_cassandra.user_events"
        )
        conn.execute(
            "create table intermediate.int_user_activity_daily as select user_id, cast(sent_at as date) as day, "
            "count(*) as messages_sent from staging.stg_cassandra__messages group by all"
        )
        conn.execute(
            "create table gold.gold_user_activity_per_day as from intermediate.int_user_activity_daily"
        )


def plain_copy(build: Path, target: Path) -> None:
    """The reference: the previous publish (checkpoint, copy the whole file, fsync, rename)."""
    with duckdb.connect(str(build)) as conn:
        conn.execute("checkpoint")
    staging = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(build, staging)
    with open(staging, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(staging, target)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--events", type=int, default=4_000_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "bench_publish")
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    build = args.dir / "build" / "warehouse.duckdb"
    os.environ["WAREHOUSE_PATH"] = str(build)
    os.environ["PUBLISHED_DIR"] = str(args.dir / "published")
    os.environ.setdefault("PUBLISH_PSEUDONYM_KEY", os.urandom(32).hex())
    from loaders.job import publish  # reads the variables above

    if not build.is_file():
        build.parent.mkdir(parents=True, exist_ok=True)
        t = time.monotonic()
        build_warehouse(build, args.users, args.messages, args.events)
        print(f"built {build} in {time.monotonic() - t:.1f} s")
    plain_target = args.dir / "plain" / "warehouse.duckdb"
    plain_target.parent.mkdir(parents=True, exist_ok=True)

    print(
        f"build warehouse: {build.stat().st_size / 1e6:.0f} MB ({args.users:,} users, "
        f"{args.messages:,} messages, {args.events:,} events, in raw and staging)"
    )
    print(f"{'publish':<52} {'run':>3} {'seconds':>8} {'MB':>6}")
    for run in (1, 2):
        t = time.monotonic()
        plain_copy(build, plain_target)
        print(
            f"{'reference: plain copy of the whole file + fsync':<52} {run:>3} {time.monotonic() - t:>8.2f} "
            f"{plain_target.stat().st_size / 1e6:>6.0f}"
        )
        t = time.monotonic()
        published = publish.publish_warehouse(build)
        print(
            f"{'readers copy: CTAS per table, no raw, HMAC, fsync':<52} {run:>3} {time.monotonic() - t:>8.2f} "
            f"{published.stat().st_size / 1e6:>6.0f}"
        )


if __name__ == "__main__":
    main()
