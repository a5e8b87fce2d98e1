"""The id of the job run in progress in this process (for anything that writes ``ops`` rows).

``loaders run`` sets it when it has taken the warehouse lock and written the run's
'running' row; other steps of the job (the reconciliation, the rejected-rows quarantine)
read it with :func:`current_run_id` to tag their own ``ops`` rows. It is also exported as
``LOADERS_RUN_ID`` to the environment, so dbt (``env_var('LOADERS_RUN_ID', '')``) and child
processes see it.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

RUN_ID_ENV = "LOADERS_RUN_ID"

_current: str | None = None


def new_run_id(started: datetime) -> str:
    """A sortable, unique id: the start in UTC to the second plus 6 random hex digits."""
    return f"{started.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def current_run_id() -> str | None:
    """The id of the ``loaders run`` in progress in this process; None outside a job."""
    return _current


def set_current_run_id(run_id: str | None) -> None:
    global _current
    _current = run_id
    if run_id is None:
        os.environ.pop(RUN_ID_ENV, None)
    else:
        os.environ[RUN_ID_ENV] = run_id
