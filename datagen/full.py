"""Full mode: a whole history (months of activity) into empty stores."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cassandra.cluster import Session
from psycopg2.extensions import connection

from datagen import activity, cassandra_store, entities, postgres_store, rows
from datagen.progress import Progress
from datagen.randomness import stream, zipf_weights
from datagen.timeline import Window
from datagen.volumes import Volumes
from datagen.world import World
from loaders.errors import UserError


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
        weights=zipf_weights(users_rng, volumes.users),
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
) -> None:
    """Refuse non-empty stores unless ``reset``; then fill PostgreSQL (one transaction), then Cassandra."""
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
    progress.note(f"entities built in memory in {time.perf_counter() - started:.1f} s")

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
    notifications = activity.notifications(
        world, stream(plan.seed, "notifications"), volumes.notifications, first_id=1
    )
    postgres_store.copy_table(conn, "notifications", notifications.rows(), progress)
    postgres_store.sync_notification_ids(conn)
    conn.commit()

    writer = cassandra_store.CassandraWriter(session, keyspace, concurrency=concurrency)
    writer.write(
        "notification_states", notifications.state_rows(stream(plan.seed, "notification_states")), progress
    )
    writer.write(
        "messages", activity.message_rows(world, stream(plan.seed, "messages"), volumes.messages), progress
    )
    writer.write(
        "user_events",
        activity.event_rows(world, stream(plan.seed, "user_events"), volumes.user_events),
        progress,
    )
