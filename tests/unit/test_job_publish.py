"""Publishing swaps a readers' copy (no raw schema, no personal data) and docs in, atomically."""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from loaders.duckdb_memory import memory_bytes
from loaders.errors import UserError
from loaders.job import pseudonym_key, publish, reader_docs
from loaders.job.personal_data import PersonalDataPolicy, Treatment, policy_from_manifest

KEY = "0123456789abcdef" * 4


@pytest.fixture()
def published_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "published"
    monkeypatch.setenv("PUBLISHED_DIR", str(target))
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "build.duckdb"))
    monkeypatch.setenv(pseudonym_key.KEY_ENV, KEY)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return target


def _build(path: Path, value: int) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema if not exists gold")
        conn.execute("create or replace table gold.answer as select ? as value", [value])


def _hmac(text: str) -> str:
    return hmac.new(KEY.encode(), text.encode("utf-8"), hashlib.sha256).hexdigest()


USERS = [("alex_1", "alex.1@example.com", "Paris"), ("zoë🎉2", "o'brien.2@exämple.de", None)]


def _build_with_personal_data(path: Path) -> None:
    with duckdb.connect(str(path)) as conn:
        for schema in ("raw_postgres", "staging", "intermediate", "gold", "ops"):
            conn.execute(f"create schema {schema}")
        conn.execute("create table raw_postgres.users (id int, username varchar, email varchar)")
        conn.execute("insert into raw_postgres.users values (1, 'alex_1', 'alex.1@example.com')")
        conn.execute(
            "create table staging.stg_users (user_id int, username varchar, email varchar, city varchar)"
        )
        conn.executemany(
            "insert into staging.stg_users values (?, ?, ?, ?)", [(i, *u) for i, u in enumerate(USERS)]
        )
        conn.execute("create table staging.stg_messages (message_id int, body varchar, phone varchar)")
        conn.execute("insert into staging.stg_messages values (1, 'see you there', '+33 6 12 34 56 78')")
        conn.execute(
            "create view intermediate.int_cities as select city, count(*) as users from staging.stg_users group by city"
        )
        conn.execute("create table gold.gold_counts as select 2 as users")
        conn.execute("create table ops.table_loads (table_name varchar, rows_loaded bigint)")
        conn.execute("insert into ops.table_loads values ('users', 2)")


def _tables(path: Path) -> set[tuple[str, str]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return set(conn.execute("select table_schema, table_name from information_schema.tables").fetchall())


def test_publish_replaces_the_readers_copy_and_open_readers_keep_theirs(
    tmp_path: Path, published_dir: Path
) -> None:
    build = tmp_path / "build.duckdb"
    _build(build, 1)
    first = publish.publish_warehouse(build)
    assert first == published_dir / "warehouse.duckdb"
    assert stat.S_IMODE(first.stat().st_mode) == 0o444, "readers' copy is read-only"

    reader = duckdb.connect(str(first), read_only=True)
    _build(build, 2)
    publish.publish_warehouse(build)

    # the reader that opened version 1 still reads version 1 (DuckDB keeps the open file per path
    # in a process); once every connection to the path is closed, a new one sees version 2
    assert reader.execute("select value from gold.answer").fetchone() == (1,)
    reader.close()
    with duckdb.connect(str(first), read_only=True) as new_reader:
        assert new_reader.execute("select value from gold.answer").fetchone() == (2,)
    assert not list(published_dir.glob(".*.tmp*")), "no staging file left behind"


def test_the_readers_copy_has_no_raw_schema_and_no_personal_data(tmp_path: Path, published_dir: Path) -> None:
    build = tmp_path / "build.duckdb"
    _build_with_personal_data(build)
    policy = PersonalDataPolicy(by_column={("staging", "stg_messages", "phone"): Treatment.HASH})

    published = publish.publish_warehouse(build, policy=policy)

    assert _tables(published) == {
        ("staging", "stg_users"),
        ("staging", "stg_messages"),
        ("intermediate", "int_cities"),
        ("gold", "gold_counts"),
        ("ops", "table_loads"),
        ("ops", "publication"),
    }
    with duckdb.connect(str(published), read_only=True) as conn:
        users = conn.execute(
            "select username_hmac, email_hmac, city from staging.stg_users order by user_id"
        ).fetchall()
        messages = conn.execute("select * from staging.stg_messages").fetchall()
        message_columns = [d[0] for d in conn.execute("select * from staging.stg_messages").description]
        cities = conn.execute(
            "select table_type from information_schema.tables where table_name = 'int_cities'"
        ).fetchall()
        ops = conn.execute("from ops.table_loads").fetchall()
        fingerprint = conn.execute("select pseudonym_key_fingerprint from ops.publication").fetchone()
    assert users == [
        (_hmac(name), _hmac(email), city) for name, email, city in USERS
    ]  # HMAC-SHA256 under the key
    assert message_columns == ["message_id", "phone_hmac"]  # body dropped, the declared column hashed
    assert messages == [(1, _hmac("+33 6 12 34 56 78"))]
    assert cities == [("BASE TABLE",)], "a view is published as a table (its SQL names private relations)"
    assert ops == [("users", 2)], "ops is copied whole"
    assert fingerprint == (pseudonym_key.key_fingerprint(KEY.encode()),) and KEY not in fingerprint[0]
    raw_bytes = published.read_bytes()
    for secret in ("alex.1@example.com", "see you there", KEY):
        assert secret.encode() not in raw_bytes, secret


def test_a_failing_copy_leaves_the_last_good_warehouse_and_no_file(
    tmp_path: Path, published_dir: Path
) -> None:
    build = tmp_path / "build.duckdb"
    _build(build, 1)
    good = publish.publish_warehouse(build)
    with duckdb.connect(str(build)) as conn:
        conn.execute("create schema staging")
        conn.execute(
            "create view staging.broken as select cast(value || 'x' as integer) as n from gold.answer"
        )

    with pytest.raises(UserError) as failure:
        publish.publish_warehouse(build)

    message = str(failure.value)
    assert "\n" not in message and "readers keep the last good warehouse" in message and "rerun" in message
    assert sorted(p.name for p in published_dir.iterdir()) == ["warehouse.duckdb"], "no temporary file left"
    with duckdb.connect(str(good), read_only=True) as conn:
        assert conn.execute("select value from gold.answer").fetchone() == (1,)


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("needs a tmpfs mount (root) for a real full disk")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_a_full_disk_names_the_fix_and_keeps_the_last_good_copy(
    tmp_path: Path, published_dir: Path, tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLISHED_DIR", str(tiny_disk))
    build = tmp_path / "build.duckdb"
    _build(build, 1)
    good = publish.publish_warehouse(build)
    with duckdb.connect(str(build)) as conn:  # a table that no longer fits beside it
        conn.execute("create table gold.big as select md5(range::varchar) as h from range(200000)")

    with pytest.raises(UserError) as failure:
        publish.publish_warehouse(build)

    message = str(failure.value)
    assert "\n" not in message and "no space left" in message and "free space" in message
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["warehouse.duckdb"]
    with duckdb.connect(str(good), read_only=True) as conn:
        assert conn.execute("select value from gold.answer").fetchone() == (1,)


def test_a_real_enospc_is_recognised_as_a_full_disk() -> None:
    with pytest.raises(OSError) as full, open("/dev/full", "wb") as handle:
        handle.write(b"x")
        handle.flush()
    assert full.value.errno == errno.ENOSPC
    assert publish._is_disk_full(full.value)
    assert not publish._is_disk_full(OSError(errno.EACCES, "Permission denied"))


def test_a_killed_runs_half_written_copy_is_removed_by_the_next(tmp_path: Path, published_dir: Path) -> None:
    build = tmp_path / "build.duckdb"
    _build(build, 1)
    published_dir.mkdir()
    (published_dir / ".warehouse.duckdb.4242.tmp").write_bytes(b"half")
    (published_dir / ".warehouse.duckdb.4242.tmp.wal").write_bytes(b"half")
    publish.publish_warehouse(build)
    assert sorted(p.name for p in published_dir.iterdir()) == ["warehouse.duckdb"]


def test_meta_pii_in_the_manifest_adds_to_the_name_list(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "nodes": {
                    "model.x.stg_people": {
                        "resource_type": "model",
                        "schema": "staging",
                        "alias": "stg_people",
                        "columns": {
                            "phone": {"name": "phone", "meta": {"pii": "hash"}},
                            "note": {"name": "note", "config": {"meta": {"pii": True}}},
                            "email": {"name": "email", "meta": {"pii": "drop"}},
                            "city": {"name": "city", "meta": {"pii": False}},
                        },
                    },
                    "test.x.t": {
                        "resource_type": "test",
                        "schema": "staging",
                        "alias": "t",
                        "columns": {"n": {"name": "n", "meta": {"pii": True}}},
                    },
                }
            }
        )
    )
    policy = policy_from_manifest(manifest)
    assert policy.treatment("staging", "stg_people", "phone") is Treatment.HASH
    assert policy.treatment("staging", "stg_people", "note") is Treatment.DROP
    assert policy.treatment("staging", "stg_people", "email") is Treatment.DROP, (
        "drop wins over the list's hash"
    )
    assert policy.treatment("staging", "stg_people", "city") is None
    assert policy.treatment("gold", "anything", "Username") is Treatment.HASH, (
        "the name list covers every table"
    )
    assert policy.treatment("staging", "t", "n") is None, "only models, seeds and snapshots declare columns"

    manifest.write_text(
        json.dumps(
            {
                "nodes": {
                    "model.x.m": {
                        "resource_type": "model",
                        "schema": "s",
                        "alias": "m",
                        "columns": {"c": {"meta": {"pii": "maybe"}}},
                    }
                }
            }
        )
    )
    with pytest.raises(UserError, match="meta.pii is 'maybe': use true, 'hash' or 'drop'"):
        policy_from_manifest(manifest)


def test_the_local_key_is_generated_once_private_and_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(pseudonym_key.KEY_ENV, raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "wh" / "warehouse.duckdb"))
    first = pseudonym_key.pseudonym_key()
    key_file = tmp_path / "wh" / pseudonym_key.LOCAL_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert pseudonym_key.pseudonym_key() == first and len(first) >= pseudonym_key.MIN_KEY_CHARS
    key_file.chmod(0o644)
    with pytest.raises(UserError, match="readable by others.*chmod 600"):
        pseudonym_key.pseudonym_key()


def test_a_pod_without_the_key_secret_fails_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(pseudonym_key.KEY_ENV, raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.43.0.1")
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    with pytest.raises(UserError) as missing:
        pseudonym_key.pseudonym_key()
    assert "PUBLISH_PSEUDONYM_KEY is not set" in str(missing.value) and "\n" not in str(missing.value)
    assert not (tmp_path / pseudonym_key.LOCAL_KEY_FILE).exists(), "no key generated on the claim"

    monkeypatch.setenv(pseudonym_key.KEY_ENV, "short-secret")
    with pytest.raises(UserError) as short:
        pseudonym_key.pseudonym_key()
    assert "12 characters" in str(short.value) and "short-secret" not in str(short.value)


def _docs_site(target: Path) -> None:
    target.mkdir()
    (target / "index.html").write_text("<html>dbt docs</html>")
    columns = {
        "user_id": {"name": "user_id", "description": "Key."},
        "email": {"name": "email", "description": "E-mail address."},
        "body": {"name": "body", "description": "Message text."},
    }
    manifest = {
        "nodes": {
            "model.o.stg_users": {
                "resource_type": "model",
                "schema": "staging",
                "alias": "stg_users",
                "name": "stg_users",
                "columns": columns,
                "description": "Users.",
            },
            "test.o.unique_x": {
                "resource_type": "test",
                "schema": "staging",
                "alias": "unique_x",
                "columns": {},
            },
        },
        "sources": {
            "source.o.raw.users": {
                "resource_type": "source",
                "schema": "raw_postgres",
                "identifier": "users",
                "name": "users",
                "columns": columns,
                "description": "Raw users.",
            }
        },
    }
    catalog_columns = {
        n: {"type": "VARCHAR", "index": i, "name": n, "comment": None}
        for i, n in enumerate(["user_id", "email", "body"], 1)
    }
    catalog = {
        "metadata": {"dbt_version": "1"},
        "nodes": {
            "model.o.stg_users": {
                "metadata": {"schema": "staging", "name": "stg_users"},
                "columns": catalog_columns,
                "stats": {},
            }
        },
        "sources": {
            "source.o.raw.users": {
                "metadata": {"schema": "raw_postgres", "name": "users"},
                "columns": catalog_columns,
                "stats": {},
            }
        },
        "errors": None,
    }
    (target / "manifest.json").write_text(json.dumps(manifest))
    (target / "catalog.json").write_text(json.dumps(catalog))


def test_the_published_docs_describe_only_what_readers_can_open(tmp_path: Path, published_dir: Path) -> None:
    build = tmp_path / "build.duckdb"
    with duckdb.connect(str(build)) as conn:
        conn.execute("create schema raw_postgres")
        conn.execute("create table raw_postgres.users (user_id int, email varchar, body varchar)")
        conn.execute("create schema staging")
        conn.execute("create table staging.stg_users (user_id int, email varchar, body varchar)")
    publish.publish_warehouse(build)
    target = tmp_path / "target"
    _docs_site(target)

    link = publish.publish_docs(target)

    catalog = json.loads((link / "catalog.json").read_text())
    assert catalog["sources"] == {}
    assert list(catalog["nodes"]) == ["model.o.stg_users"]
    assert catalog["nodes"]["model.o.stg_users"]["columns"] == {
        "user_id": {"type": "INTEGER", "index": 1, "name": "user_id", "comment": None},
        "email_hmac": {"type": "VARCHAR", "index": 2, "name": "email_hmac", "comment": None},
    }
    manifest = json.loads((link / "manifest.json").read_text())
    model = manifest["nodes"]["model.o.stg_users"]
    assert list(model["columns"]) == ["user_id", "email_hmac"]
    assert "HMAC-SHA256" in model["columns"]["email_hmac"]["description"]
    source = manifest["sources"]["source.o.raw.users"]
    assert source["columns"] == {} and source["description"].startswith(reader_docs.NOT_PUBLISHED)
    assert (link / "index.html").read_text() == "<html>dbt docs</html>"


def test_publish_docs_swaps_a_symlink_and_keeps_few_versions(tmp_path: Path, published_dir: Path) -> None:
    _build(tmp_path / "build.duckdb", 1)
    publish.publish_warehouse(tmp_path / "build.duckdb")
    target = tmp_path / "target"
    _docs_site(target)
    for version in range(4):
        (target / "index.html").write_text(f"index.html v{version}")
        link = publish.publish_docs(target, keep=2)
        assert link.is_symlink()
        assert (link / "index.html").read_text() == f"index.html v{version}"
    assert len(list(published_dir.glob("docs-*"))) <= 2


def test_publish_docs_refuses_an_incomplete_site(tmp_path: Path, published_dir: Path) -> None:
    (tmp_path / "index.html").write_text("x")
    with pytest.raises(FileNotFoundError, match="catalog.json"):
        publish.publish_docs(tmp_path)
    assert not (published_dir / "docs").exists()


def _loads(path: Path, schema: str, rows: list[tuple[str, int, str]]) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute(f"create schema if not exists {schema}")
        conn.execute(
            f"create table if not exists {schema}._dlt_loads "
            "(load_id varchar, status bigint, inserted_at timestamp with time zone)"
        )
        conn.executemany(f"insert into {schema}._dlt_loads values (?, ?, cast(? as timestamptz))", rows)


def test_newest_committed_load_spans_both_raw_schemas_and_skips_unfinished_loads(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    _loads(
        warehouse,
        "raw_postgres",
        [("1.0", 0, "2026-11-30 08:00:00+00"), ("2.0", 0, "2026-11-30 09:15:30.25+01")],
    )
    _loads(
        warehouse,
        "raw_cassandra",
        [("3.0", 0, "2026-11-30 08:20:00+00"), ("4.0", 1, "2026-11-30 10:00:00+00")],
    )

    newest = publish.newest_committed_load(warehouse)

    assert newest is not None and newest.isoformat() == "2026-11-30T08:20:00+00:00"


def test_a_published_copy_remembers_the_newest_load_it_was_built_from(
    tmp_path: Path, published_dir: Path
) -> None:
    build = tmp_path / "build.duckdb"
    _loads(build, "raw_postgres", [("1.0", 0, "2026-11-30 08:00:00+00")])
    _loads(
        build, "raw_cassandra", [("3.0", 0, "2026-11-30 08:20:00+00"), ("4.0", 1, "2026-11-30 10:00:00+00")]
    )
    _build(build, 1)

    published = publish.publish_warehouse(build)

    assert not any(schema.startswith("raw_") for schema, _ in _tables(published))
    newest = publish.newest_committed_load(published)
    assert newest is not None and newest.isoformat() == "2026-11-30T08:20:00+00:00"


def test_newest_committed_load_is_none_without_loads(tmp_path: Path, published_dir: Path) -> None:
    assert publish.newest_committed_load(tmp_path / "missing.duckdb") is None
    empty = tmp_path / "empty.duckdb"
    _build(empty, 1)
    assert publish.newest_committed_load(empty) is None
    assert publish.newest_committed_load(publish.publish_warehouse(empty)) is None


def test_the_hmac_pads_give_the_standard_hmac(tmp_path: Path) -> None:
    from loaders.job.reader_copy import _HMAC_SQL, hmac_pads

    long_key = b"k" * 100  # longer than a block: hashed first, as RFC 2104 says
    for key in (KEY.encode(), long_key):
        ipad, opad = hmac_pads(key)
        with duckdb.connect() as conn:
            got = conn.execute(
                f"select {_HMAC_SQL.format(column='$3')}", [ipad, opad, "naïve café 😀"]
            ).fetchone()
        assert got == (hmac.new(key, "naïve café 😀".encode(), hashlib.sha256).hexdigest(),)


def test_published_docs_are_removed_when_writing_them_fails(tmp_path: Path, published_dir: Path) -> None:
    _build(tmp_path / "build.duckdb", 1)
    publish.publish_warehouse(tmp_path / "build.duckdb")
    target = tmp_path / "target"
    _docs_site(target)
    (target / "catalog.json").write_text("{not json")
    with pytest.raises(UserError, match="publishing the docs failed .*readers keep the last good docs"):
        publish.publish_docs(target)
    assert not list(published_dir.glob("docs-*")) and not (published_dir / "docs").exists()


def test_the_copy_is_written_under_its_own_memory_limit_also_on_dbt_s_database(
    tmp_path: Path, published_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dbt's DuckDB, still open in the job's process (192MB), or DuckDB's default (80 % of RAM) when
    # no dbt ran: the publish sets LOADERS_PUBLISH_MEMORY_LIMIT on top of what the database holds
    build = tmp_path / "build.duckdb"
    _build(build, 1)

    def shown(conn: duckdb.DuckDBPyConnection) -> float:
        row = conn.execute("select current_setting('memory_limit')").fetchone()
        assert row is not None
        return memory_bytes(str(row[0]))

    def held(conn: duckdb.DuckDBPyConnection) -> float:
        row = conn.execute("select sum(memory_usage_bytes) from duckdb_memory()").fetchone()
        assert row is not None
        return float(row[0] or 0)

    with duckdb.connect(str(build)) as dbt_s:
        dbt_s.execute("set memory_limit = '192MB'")  # as dbt-duckdb applies profiles.yml's settings
        publish.publish_warehouse(build)
        assert 128e6 <= shown(dbt_s) <= 128e6 + held(dbt_s) + 2**20  # the default 128MB, on top
        # a temporary table of dbt's session: memory the database holds and cannot give back
        dbt_s.execute("create temporary table kept as select range as n from range(4000000)")
        holding = held(dbt_s)
        assert holding > 20e6
        monkeypatch.setenv(publish.PUBLISH_MEMORY_LIMIT_SETTING, "64MB")
        publish.publish_warehouse(build)
        assert 64e6 + 0.9 * holding <= shown(dbt_s) <= 64e6 + held(dbt_s) + 2**20
        monkeypatch.setenv(publish.PUBLISH_MEMORY_LIMIT_SETTING, "lots")
        with pytest.raises(
            UserError, match=r"^LOADERS_PUBLISH_MEMORY_LIMIT='lots' is not a memory size: set it"
        ):
            publish.publish_warehouse(build)
    assert _tables(published_dir / "warehouse.duckdb") >= {("gold", "answer")}
