"""Search what readers get for the sources' personal data (e-mails, usernames, message bodies).

Used by the end-to-end test on the warehouse and docs that a real job published. The needles
are the source stores' rows as that job loaded them (its private warehouse's raw schemas); the
haystack is every value of every column of every table
of a DuckDB file (cast to text) and every string (key or value) of the docs' JSON files (their
``index.html`` is dbt's page as shipped, which the test checks byte for byte).

A value leaks when it equals an e-mail, a username or a message body, or contains one that
cannot occur by chance: every e-mail, and usernames and bodies of at least
``MIN_SUBSTRING_CHARS`` characters that are not hex-like (a 64-hex pseudonym may contain
``ada12`` by chance, never ``alex_12``). Bodies shorter than that ("ok", "yes", "no") are
words any text has (a run's status is "ok"): they are not searched, and the test checks that
they are few.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

MIN_SUBSTRING_CHARS = 8
_HEX_LIKE = set("0123456789abcdefABCDEF-.:_ ")


@dataclass(frozen=True)
class PersonalData:
    emails: frozenset[str]
    usernames: frozenset[str]
    bodies: frozenset[str]

    def values(self) -> frozenset[str]:
        """The values searched for as whole values."""
        return self.emails | self.usernames | self.searched_bodies()

    def searched_bodies(self) -> frozenset[str]:
        return frozenset(b for b in self.bodies if len(b.strip()) >= MIN_SUBSTRING_CHARS)

    def distinctive(self) -> list[str]:
        """The values a text cannot contain by chance (searched as substrings)."""
        long_enough = {
            v
            for v in self.usernames | self.searched_bodies()
            if len(v.strip()) >= MIN_SUBSTRING_CHARS and not set(v) <= _HEX_LIKE
        }
        return sorted(self.emails | long_enough, key=len, reverse=True)


def loaded_personal_data(build_warehouse: Path) -> PersonalData:
    """Every e-mail and username of PostgreSQL's users and every message body of Cassandra, as the
    job loaded them into its private warehouse (every version of every row: exactly what the
    published copy was made from, whatever other writers do to the stores meanwhile)."""
    with duckdb.connect(str(build_warehouse), read_only=True) as conn:
        users = conn.execute("select username, email from raw_postgres.users").fetchall()
        bodies = conn.execute("select body from raw_cassandra.messages where body is not null").fetchall()
    return PersonalData(
        emails=frozenset(email for _, email in users if email),
        usernames=frozenset(name for name, _ in users if name),
        bodies=frozenset(body for (body,) in bodies),
    )


def warehouse_values(path: Path) -> dict[str, set[str]]:
    """Every distinct value of every column of every table and view of a DuckDB file, as text,
    by ``schema.table.column``."""
    values: dict[str, set[str]] = {}
    with duckdb.connect(str(path), read_only=True) as conn:
        columns = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database()"
        ).fetchall()
        for schema, table, column in columns:
            rows = conn.execute(
                f'select distinct cast("{column}" as varchar) from "{schema}"."{table}" where "{column}" is not null'
            ).fetchall()
            values[f"{schema}.{table}.{column}"] = {row[0] for row in rows}
    return values


def warehouse_leaks(path: Path, personal: PersonalData) -> list[str]:
    """``schema.table.column: value`` of every personal value found in a DuckDB file."""
    return [
        f"{column}: {value!r}"
        for column, texts in warehouse_values(path).items()
        for value in leaks(texts, personal)
    ]


def json_strings(document: Any) -> Iterator[str]:
    """Every string of a parsed JSON document, keys included."""
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for key, value in document.items():
            yield str(key)
            yield from json_strings(value)
    elif isinstance(document, list):
        for value in document:
            yield from json_strings(value)


def docs_texts(docs: Path) -> list[str]:
    """The strings of the docs' JSON files (index.html is dbt's own page, the same for every project)."""
    texts: list[str] = []
    for name in ("manifest.json", "catalog.json"):
        texts.extend(json_strings(json.loads((docs / name).read_text(encoding="utf-8"))))
    return texts


def other_published_texts(published_dir: Path) -> dict[str, list[str]]:
    """Every other file readers get (a status page, metrics …), by path: a JSON file's strings,
    another file's text with HTML entities decoded. The warehouse is searched by SQL, and the
    docs' page is dbt's own."""
    texts: dict[str, list[str]] = {}
    for path in sorted(p for p in published_dir.rglob("*") if p.is_file()):
        if path.name == "warehouse.duckdb" or (
            path.name == "index.html" and path.parent.name.startswith("docs")
        ):
            continue
        raw = path.read_bytes().decode("utf-8", errors="replace")
        if path.suffix == ".json":
            texts[str(path)] = list(json_strings(json.loads(raw)))
        else:
            texts[str(path)] = [html.unescape(raw)]
    return texts


def leaks(texts: Iterable[str], personal: PersonalData) -> list[str]:
    """The personal values found in texts: exact matches, then distinctive substrings."""
    texts = set(texts)
    found = texts & personal.values()
    # a distinctive value is never hex-like: it cannot hide in a pseudonym, id, number or timestamp
    haystack = "\0".join(t for t in texts if not set(t) <= _HEX_LIKE)
    found.update(needle for needle in personal.distinctive() if needle in haystack)
    return sorted(found)
