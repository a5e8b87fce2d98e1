"""Where the source contract's DDL lives: the top-level ``contracts/`` folder of the repository.

The DDL is the app's contract (``../shared/spec/sources.md``), not generator internals: the
loaders' checks and the tests read the same files.
"""

from __future__ import annotations

from pathlib import Path

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
POSTGRES_DDL = CONTRACTS_DIR / "postgres.sql"
CASSANDRA_DDL = CONTRACTS_DIR / "cassandra.cql"
