"""Full mode: a whole history (months of activity) into empty stores."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cassandra.cluster import Session
from psycopg2.extensions import connection

from datagen import activity, cassandra_store, entities, gc_tuning, parallel, postgres_store, rows
from datagen.progress import Progress, TableStat
from datagen.randomness import activity_weights, stream
from datagen.timeline import Window
from datagen.volumes import Volumes
from datagen.world import World
from loaders.errors import UserError
from loaders.settings import CassandraSettings


@dataclass(frozen=True)
class FullPlan:
    seed: int
    scale: float
    window: Window


def build_entities(world: World, seed: int, volumes: Volumes) -> None:
    """Users, groups, members, outings and participations of the whole history (in memory)."""
    users_rng = stream(seed, "users")
    entities.add_users(
        world,
        users_rng,
        volumes.users,
        taken=set(),
        weights=activity_weights(users_rng, volumes.users),
        launch_cohort=0.3,
        deleted_share=0.03,
    )
    groups = entities.add_groups(
        world, stream(seed, "groups"), volumes.groups, front_loaded=True, deleted_share=0.02
    )
    members_rng = stream(seed, "group_members")
    mean_size = volumes.group_members / max(1, len(groups))
    for group in groups:
        size = min(entities.heavy_tailed_size(members_rng, mean_size, minimum=2), 200, len(world.users))
        entities.add_members(world, members_rng, group, size - 1, leave_share=0.08)
        group.weight = len(group.members) * members_rng.paretovariate(1.5)
    world.invalidate_groups()
    outings = entities.add_outings(world, stream(seed, "outings"), volumes.outings)
    participants_rng = stream(seed, "outing_participants")
    mean_participants = volumes.outing_participants / max(1, len(outings))
    for outing in outings:
        count = entities.heavy_tailed_size(participants_rng, mean_participants, minimum=1, alpha=2.5)
        entities.add_participants(world, participants_rng, outing, count)


def generate(
    plan: FullPlan,
    conn: connection,
    session: Session,
    keyspace: str,
    *,
    reset: bool,
    progress: Progress,
    concurrency: int,
    settings: CassandraSettings | None = None,
    processes: int = 1,
) -> None:
    """Refuse non-empty stores unless ``reset``; then fill PostgreSQL (one transaction) and Cassandra.

    With ``processes`` > 1 (and ``settings``, to connect again), the Cassandra tables are written
    by ``processes - 1`` child processes forked once the world is built, while this process
    copies PostgreSQL: the same rows as one process would write (each table draws from its own
    random stream), in about the time of the slowest store.
    """
    busy = [f"postgres {name}" for name in postgres_store.non_empty_tables(conn)]
    busy += [f"cassandra {name}" for name in cassandra_store.non_empty_tables(session, keyspace)]
    if busy and not reset:
        raise UserError(
            f"the stores already hold data ({', '.join(busy)}): add --reset to empty both stores first, "
            "or use --continue to append a day of activity"
        )
    volumes = Volumes.full(plan.scale)
    progress.note(f"generating {plan.window.describe()} at scale {plan.scale:g}, seed {plan.seed}")
    if reset:
        progress.note("emptying the app's tables in PostgreSQL and Cassandra (--reset)")
        postgres_store.truncate(conn)
        cassandra_store.truncate(session, keyspace)

    started = time.perf_counter()
    world = World(plan.window)
    build_entities(world, plan.seed, volumes)
    notifications = activity.notifications(
        world, stream(plan.seed, "notifications"), volumes.notifications, first_id=1
    )
    progress.note(f"entities built in memory in {time.perf_counter() - started:.1f} s")
    sources = CassandraSources(plan, world, notifications, volumes)
    gc_tuning.freeze_built_objects()  # the world, before the fork: never traversed again

    children: list[parallel.Child] = []
    if processes > 1 and settings is not None:
        for work in parallel.spread(CASSANDRA_WORK, processes - 1):
            children.append(
                parallel.fork(_write_cassandra, settings, sources, work, concurrency, progress.quiet)
            )
    try:
        _write_postgres(conn, plan, world, notifications, volumes, progress)
        if not children:
            writer = cassandra_store.CassandraWriter(session, keyspace, concurrency=concurrency)
            for name, index, parts in CASSANDRA_WORK:
                writer.write(
                    name, sources.rows(name, (index, parts)), progress, work_label(name, index, parts)
                )
        for child in children:
            progress.add(child.result())
    finally:
        for child in children:
            child.stop()


# The Cassandra tables' work by decreasing volume (spread over the child processes in that
# order): user_events and messages in two halves each (alternate days), so that two writer
# processes get about the same number of rows.
CASSANDRA_WORK: tuple[tuple[str, int, int], ...] = (
    ("user_events", 0, 2),
    ("user_events", 1, 2),
    ("messages", 0, 2),
    ("messages", 1, 2),
    ("notification_states", 0, 1),
)


def work_label(name: str, index: int, parts: int) -> str:
    return name if parts == 1 else f"{name} ({index + 1}/{parts})"


@dataclass(frozen=True)
class CassandraSources:
    """What the Cassandra tables' rows are drawn from (built once, before any fork)."""

    plan: FullPlan
    world: World
    notifications: activity.Notifications
    volumes: Volumes

    def rows(self, name: str, part: activity.Part = activity.WHOLE) -> Iterator[tuple[Any, ...]]:
        seed = self.plan.seed
        if name == "notification_states":
            return self.notifications.state_rows(stream(seed, "notification_states"))
        if name == "messages":
            return activity.message_rows(self.world, stream(seed, "messages"), self.volumes.messages, part)
        return activity.event_rows(self.world, stream(seed, "user_events"), self.volumes.user_events, part)


def _write_postgres(
    conn: connection,
    plan: FullPlan,
    world: World,
    notifications: activity.Notifications,
    volumes: Volumes,
    progress: Progress,
) -> None:
    postgres_store.copy_table(conn, "users", rows.users(world.users), progress)
    postgres_store.copy_table(conn, "groups", rows.groups(world, world.groups), progress)
    members = [member for group in world.groups for member in group.members]
    postgres_store.copy_table(conn, "group_members", rows.members(world, members), progress)
    postgres_store.copy_table(conn, "outings", rows.outings(world, world.outings), progress)
    postgres_store.copy_table(
        conn, "outing_participants", rows.participations(world, world.participations), progress
    )
    payments = activity.payment_rows(world, stream(plan.seed, "payments"), volumes.payments)
    postgres_store.copy_table(conn, "payments", payments, progress)
    postgres_store.copy_table(conn, "notifications", notifications.rows(), progress)
    postgres_store.sync_notification_ids(conn)
    conn.commit()


def _write_cassandra(
    settings: CassandraSettings,
    sources: CassandraSources,
    work: tuple[tuple[str, int, int], ...],
    concurrency: int,
    quiet: bool,
) -> list[TableStat]:
    """In a child process: its own connection, the given tables (or parts), their stats for the summary."""
    progress = Progress(quiet=quiet)
    cluster, session = cassandra_store.connect(settings)
    try:
        writer = cassandra_store.CassandraWriter(session, settings.keyspace, concurrency=concurrency)
        for name, index, parts in work:
            writer.write(name, sources.rows(name, (index, parts)), progress, work_label(name, index, parts))
    finally:
        cluster.shutdown()
    return progress.stats
