"""Which rows changed since the last load, by transaction id: the app's clocks are never trusted.

Every row version in PostgreSQL carries ``xmin``, the id of the transaction that wrote
it. The load's snapshot (``pg_current_snapshot()``) says which transactions it sees:
all ids below its ``xmin`` had ended; ids at or above its ``xmax``, and the ones listed
as in progress, had not. So a row version that the previous load could not see was
written by a transaction whose id is at or above that load's ``xmin``: the next load
reads ``WHERE xmin`` is at or after the previous horizon, whatever ``updated_at`` says
(a transaction open across the run, an app server whose clock runs behind or ahead,
an edit that did not touch ``updated_at``).

Ids are 32 bits on disk and wrap around: rows are compared in modular arithmetic
relative to the horizon (PostgreSQL's own rule; valid while the loader runs at least
once per 2^31 transactions, far below the freeze limits PostgreSQL enforces anyway).

Rows written between the horizon's ``xmin`` and ``xmax`` by transactions that had
committed before the previous snapshot were already loaded: they are read again (the
window is held open only as long as the oldest write transaction of that snapshot
was), and dropped before dlt sees them when raw already has them with the same key
and ``updated_at``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from loaders.postgres.session import SnapshotHorizon

XID_COLUMN = "__loader_xid"  # the row version's xmin (32-bit), selected beside the columns, never loaded
_WRAP = 1 << 32
_HALF = 1 << 31


def xid32(xid: int) -> int:
    """The 32-bit on-disk form of a 64-bit transaction id (``pg_snapshot`` ids carry an epoch)."""
    return xid % _WRAP


def xid_select() -> str:
    return f'xmin::text::bigint AS "{XID_COLUMN}"'


def changed_since(horizon: SnapshotHorizon) -> str:
    """WHERE clause: row versions written by transactions at or after ``horizon.xmin``."""
    return f"((xmin::text::bigint - {xid32(horizon.xmin)} + {_WRAP}) % {_WRAP}) < {_HALF}"


def maybe_loaded(xids: pa.Array, horizon: SnapshotHorizon) -> np.ndarray:
    """Mask of the rows whose transaction the ``horizon`` snapshot already saw (they may be in raw)."""
    values = np.asarray(xids.to_numpy(zero_copy_only=False), dtype=np.int64)
    before_xmax = ((values - xid32(horizon.xmax)) % _WRAP) >= _HALF
    if horizon.in_progress:
        in_progress = np.isin(values, np.array([xid32(x) for x in horizon.in_progress], dtype=np.int64))
        return before_xmax & ~in_progress
    return before_xmax
