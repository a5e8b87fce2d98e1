"""The status page's tables, rendered from facts alone (the browser test reads them from real runs)."""

from __future__ import annotations

from datetime import UTC, datetime

from loaders.ops.facts import AnomalyFacts, OpsFacts, ReconciliationFacts
from loaders.ops.status_page import render

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_empty_sections_say_there_is_nothing_to_show() -> None:
    page = render(OpsFacts(read_at=NOW))
    assert 'id="reconciliation-none"' in page and 'id="anomalies-none"' in page
    assert '<table id="reconciliation">' not in page and '<table id="anomalies">' not in page


def test_reconciliation_and_anomalies_rows_carry_their_values_escaped() -> None:
    facts = OpsFacts(
        read_at=NOW,
        reconciliation=[
            ReconciliationFacts("r1", "postgres", "payments", 10, 9, 9, 0, -1, "error"),
            ReconciliationFacts("r1", "cassandra", "messages", None, 5, 5, None, None, "uncounted"),
        ],
        anomalies=[
            AnomalyFacts("r1", "postgres", "users", "volume", "warn", 3.0, 120.0, 7, "rows <fell> sharply"),
        ],
    )
    page = render(facts)
    assert '<table id="reconciliation"><tr><th>table</th>' in page
    assert 'data-table="postgres.payments" data-difference="-1"' in page
    assert 'data-table="cassandra.messages" data-difference=""' in page
    assert 'data-table="postgres.users" data-kind="volume" data-observed="3"' in page
    assert "rows &lt;fell&gt; sharply" in page and "<fell>" not in page
    assert 'id="reconciliation-none"' not in page and 'id="anomalies-none"' not in page
