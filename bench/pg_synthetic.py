"""Synthetic PostgreSQL data for the loader benchmark and tests, made by SQL (generate_series).

``fill(dsn, schema, payments)`` (re)creates ``schema`` with the app's DDL
(contracts/postgres.sql) and fills the seven tables, sized after
``payments`` (users = payments / 20, ...), with consistent foreign keys
(ids are md5-derived uuids), nulls where the contract allows them and
updated_at spread over six months. ``touch(dsn, schema, table, share)``
updates ``share`` of a table's rows (and its updated_at), as the app would.
It needs the app owner's role (APP_POSTGRES_DSN) and grants the loader read access.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg2

DDL = Path(__file__).resolve().parents[1] / "contracts" / "postgres.sql"


def sizes(payments: int) -> dict[str, int]:
    users = max(10, payments // 20)
    groups = max(2, users // 5)
    outings = max(2, groups * 2)
    return {
        "users": users,
        "groups": groups,
        "group_members": groups * 5,
        "outings": outings,
        "outing_participants": outings * 4,
        "payments": payments,
        "notifications": payments,
    }


def _ddl(schema: str) -> str:
    text = DDL.read_text(encoding="utf-8")
    return f'SET search_path = "{schema}";\n' + text


def fill(dsn: str, schema: str, payments: int, loader_role: str = "loader") -> dict[str, int]:
    n = sizes(payments)
    u, g, o = n["users"], n["groups"], n["outings"]
    statements = [
        f'DROP SCHEMA IF EXISTS "{schema}" CASCADE',
        f'CREATE SCHEMA "{schema}"',
        _ddl(schema),
        f"""INSERT INTO users
            SELECT md5('u' || i)::uuid, 'user_' || i || CASE WHEN i % 7 = 0 THEN ' "Zoë" 🎉' ELSE '' END,
                   'user' || i || '@example.com', CASE WHEN i % 4 = 0 THEN NULL ELSE 'Paris' END,
                   ts - interval '30 days', ts, CASE WHEN i % 50 = 0 THEN ts END
            FROM (SELECT i, now() - (i % 180) * interval '1 day' - (i % 86400) * interval '1 second' AS ts
                  FROM generate_series(1, {u}) i) s""",
        f"""INSERT INTO groups
            SELECT md5('g' || i)::uuid, 'group ' || i, md5('u' || (1 + i % {u}))::uuid,
                   ts - interval '20 days', ts, CASE WHEN i % 40 = 0 THEN ts END
            FROM (SELECT i, now() - (i % 170) * interval '1 day' AS ts FROM generate_series(1, {g}) i) s""",
        f"""INSERT INTO group_members
            SELECT md5('g' || gi)::uuid, md5('u' || (1 + (gi * 7 + k) % {u}))::uuid,
                   (ARRAY['owner','admin','member','member','member'])[k],
                   now() - interval '100 days', CASE WHEN k = 5 AND gi % 3 = 0 THEN now() - interval '5 days' END,
                   now() - (gi % 160) * interval '1 day'
            FROM generate_series(1, {g}) gi, generate_series(1, 5) k""",
        f"""INSERT INTO outings
            SELECT md5('o' || i)::uuid, md5('g' || (1 + i % {g}))::uuid, md5('u' || (1 + i % {u}))::uuid,
                   'outing ' || i || CASE WHEN i % 9 = 0 THEN E' l''été\nà Noël' ELSE '' END,
                   (ARRAY['restaurant','bar','cinema','concert','sport','trip','other'])[1 + i % 7],
                   now() + (i % 30 - 15) * interval '1 day',
                   (ARRAY['planned','confirmed','cancelled','done'])[1 + i % 4],
                   ts - interval '10 days', ts
            FROM (SELECT i, now() - (i % 150) * interval '1 day' AS ts FROM generate_series(1, {o}) i) s""",
        f"""INSERT INTO outing_participants
            SELECT md5('o' || oi)::uuid, md5('u' || (1 + (oi * 13 + k) % {u}))::uuid,
                   (ARRAY['invited','going','maybe','declined'])[k], now() - (oi % 140) * interval '1 day'
            FROM generate_series(1, {o}) oi, generate_series(1, 4) k""",
        f"""INSERT INTO payments
            SELECT md5('p' || i)::uuid, md5('u' || (1 + i % {u}))::uuid,
                   CASE WHEN i % 5 = 0 THEN NULL ELSE md5('o' || (1 + i % {o}))::uuid END,
                   ((i::bigint * 7919) % 50000 + 1) / 100.0, (ARRAY['EUR','USD','GBP','CHF'])[1 + i % 4],
                   (ARRAY['pending','succeeded','refunded','failed'])[1 + i % 4],
                   CASE WHEN i % 4 IN (1, 2) THEN ts END, ts - interval '1 hour', ts
            FROM (SELECT i, now() - interval '1 hour' - (i % 15552000) * interval '1 second' AS ts
                  FROM generate_series(1, {payments}) i) s""",
        f"""INSERT INTO notifications (user_id, kind, outing_id, group_id, created_at)
            SELECT md5('u' || (1 + i % {u}))::uuid,
                   (ARRAY['outing_invite','outing_reminder','group_invite','payment_request','new_message'])[1 + i % 5],
                   CASE WHEN i % 5 IN (0, 1) THEN md5('o' || (1 + i % {o}))::uuid END,
                   CASE WHEN i % 5 = 2 THEN md5('g' || (1 + i % {g}))::uuid END,
                   now() - interval '1 hour' - ({payments} - i) * interval '1 second'
            FROM generate_series(1, {payments}) i""",
        f'GRANT USAGE ON SCHEMA "{schema}" TO {loader_role}',
        f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {loader_role}',
    ]
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        conn.autocommit = True
        with conn.cursor() as cur:
            for table in n:
                cur.execute(f'VACUUM ANALYZE "{schema}".{table}')
    finally:
        conn.close()
    return n


def touch(dsn: str, schema: str, table: str, share: float) -> int:
    """Update ``share`` of ``table``'s rows (the app changing them now); returns how many."""
    if not re.fullmatch(r"[a-z_]+", table):
        raise ValueError(table)
    modulo = max(1, round(1 / share))
    change = {
        "users": "city = coalesce(city, '') || '+'",
        "groups": "name = name || '+'",
        "group_members": "role = role",
        "outings": "status = 'done'",
        "outing_participants": "rsvp = 'going'",
        "payments": "status = 'refunded'",
    }[table]
    key = "id" if table in ("users", "groups", "outings", "payments") else "user_id"
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                f'UPDATE "{schema}".{table} SET {change}, updated_at = clock_timestamp() '
                f"WHERE abs(hashtext({key}::text)) % {modulo} = 0"
            )
            return cur.rowcount
    finally:
        conn.close()


def append_notifications(dsn: str, schema: str, count: int) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                f'INSERT INTO "{schema}".notifications (user_id, kind, created_at) '
                f"SELECT user_id, 'new_message', now() FROM \"{schema}\".notifications ORDER BY id LIMIT %s",
                (count,),
            )
    finally:
        conn.close()
