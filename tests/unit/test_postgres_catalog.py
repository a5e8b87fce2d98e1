"""How the PostgreSQL loader selects each column type, and the dlt type it lands as."""

from __future__ import annotations

import pytest

from loaders.postgres.catalog import SourceColumn, SourceTable, quote_ident
from loaders.postgres.session import ctid_ranges


def numeric(precision: int, scale: int) -> int:
    return (precision << 16 | scale) + 4


@pytest.mark.parametrize(
    ("column", "expression", "dlt_type"),
    [
        (SourceColumn("id", "uuid", "uuid"), '"id"', ("text", None, None)),
        (
            SourceColumn("amount", "numeric", "numeric(12,2)", numeric(12, 2)),
            '"amount"',
            ("decimal", 12, 2),
        ),
        (
            SourceColumn("whole", "numeric", "numeric(18,0)", numeric(18, 0)),
            '"whole"',
            ("decimal", 18, 0),
        ),
        (SourceColumn("wide", "numeric", "numeric(30,4)", numeric(30, 4)), '"wide"', ("decimal", 30, 4)),
        (
            SourceColumn("huge", "numeric", "numeric(40,2)", numeric(40, 2)),
            '"huge"::text AS "huge"',
            ("text", None, None),
        ),
        (SourceColumn("free", "numeric", "numeric"), '"free"::text AS "free"', ("text", None, None)),
        (SourceColumn("doc", "jsonb", "jsonb"), '"doc"::text AS "doc"', ("text", None, None)),
        (SourceColumn("at", "timestamptz", "timestamp with time zone"), '"at"', ("timestamp", None, None)),
        (SourceColumn("n", "int4", "integer"), '"n"', ("bigint", None, None)),
        (SourceColumn("c", "bpchar", "character(3)"), '"c"', ("text", None, None)),
        (SourceColumn('we"ird', "text", "text"), '"we""ird"', ("text", None, None)),
    ],
)
def test_select_expression_and_dlt_type(column: SourceColumn, expression: str, dlt_type: tuple) -> None:
    assert column.select_expression() == expression
    assert column.dlt_type == dlt_type


def test_numeric_typmod_decoding() -> None:
    assert SourceColumn("a", "numeric", "numeric(12,2)", numeric(12, 2)).numeric_precision_scale == (12, 2)
    assert SourceColumn("a", "numeric", "numeric", -1).numeric_precision_scale is None
    assert SourceColumn("a", "numeric", "numeric(38,2)", numeric(38, 2)).decimal == (38, 2)
    assert SourceColumn("a", "numeric", "numeric(39,2)", numeric(39, 2)).decimal is None


def test_table_select_list_and_name() -> None:
    table = SourceTable(
        "public", "payments", [SourceColumn("id", "uuid", "uuid"), SourceColumn("status", "text", "text")]
    )
    assert table.qualified == '"public"."payments"'
    assert table.select_list() == '"id", "status"'
    assert quote_ident("a") == '"a"'


def test_ctid_ranges_cover_the_heap_once() -> None:
    assert ctid_ranges(1000, 1) == ["TRUE"]
    ranges = ctid_ranges(1000, 3)
    assert ranges == [
        "ctid >= '(0,0)'::tid AND ctid < '(333,0)'::tid",
        "ctid >= '(333,0)'::tid AND ctid < '(666,0)'::tid",
        "ctid >= '(666,0)'::tid",
    ]
