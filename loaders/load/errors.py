"""Turn what can go wrong during a load into one line that names the cause and the fix.

Every message passes through ``redact``: a DSN or a password never reaches the user.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from loaders.duckdb_memory import is_out_of_memory, out_of_memory_message
from loaders.errors import UserError, one_line
from loaders.load.redact import redact
from loaders.settings import setting


class LoadFailed(UserError):
    """A load failed for a reason the user may not be able to fix by configuration: exit 1."""

    exit_code = 1


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it wraps (dlt wraps the source's error in several layers)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for attr in ("exception", "__cause__", "__context__"):
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException):
                stack.append(inner)


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of the chain dlt and the drivers build."""
    current, seen = exc, set()
    while id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "exception", None) or current.__cause__ or current.__context__
        # a StopIteration in the context is the generator's end that dlt was handling, not the error
        if not isinstance(inner, BaseException) or isinstance(inner, (StopIteration, GeneratorExit)):
            break
        current = inner
    return current


def postgres_target() -> str:
    """host:port/database of POSTGRES_DSN, without the credentials."""
    dsn = setting("POSTGRES_DSN") or ""
    try:
        if "://" in dsn:
            parts = urlsplit(dsn)
            return f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{parts.path.lstrip('/') or '?'}"
        fields = dict(re.findall(r"(\w+)\s*=\s*('[^']*'|\S+)", dsn))
        return f"{fields.get('host', 'localhost')}:{fields.get('port', '5432')}/{fields.get('dbname', '?')}"
    except ValueError:
        return "POSTGRES_DSN"


def _postgres_tls_message(lower: str, where: str) -> str | None:
    """libpq's TLS failures (psycopg2 and the scanner alike), with the setting that fixes each."""
    if "does not match host name" in lower:
        return (
            f"PostgreSQL at {where}: the server's TLS certificate does not name the host connected to: use a host name "
            "the certificate lists in POSTGRES_DSN, or reissue the certificate (sslmode=verify-ca skips only this check)"
        )
    if "certificate verify failed" in lower:
        return (
            f"PostgreSQL at {where}: the server's TLS certificate is not signed by the configured CA: point sslrootcert "
            "in POSTGRES_DSN (or PGSSLROOTCERT) at the CA that signed it"
        )
    if "server does not support ssl" in lower:
        return f"PostgreSQL at {where} does not offer TLS but POSTGRES_DSN requires it: enable ssl on the server or fix sslmode"
    if "no encryption" in lower and "pg_hba.conf" in lower:
        return (
            f"PostgreSQL at {where} accepts only TLS connections: set sslmode=verify-full and sslrootcert "
            "(the server's CA) in POSTGRES_DSN"
        )
    return None


def _postgres_message(text: str) -> str | None:
    where = postgres_target()
    lower = text.lower()
    tls = _postgres_tls_message(lower, where)
    if tls:
        return tls
    if "password authentication failed" in lower or "authentication failed" in lower:
        user = re.search(r'for user "([^"]+)"', text)
        role = f" of role {user.group(1)}" if user else ""
        return (
            f"PostgreSQL at {where} rejected the credentials{role}: fix the user or password in POSTGRES_DSN"
        )
    if "connection refused" in lower or "could not connect" in lower or "no route to host" in lower:
        return (
            f"PostgreSQL at {where} refused the connection (is it running?): start it (`make up`) "
            "or fix host and port in POSTGRES_DSN"
        )
    if "ssl negotiation" in lower or "server closed the connection unexpectedly" in lower:
        return f"the server at {where} does not answer as PostgreSQL: fix host and port in POSTGRES_DSN"
    if "timeout expired" in lower or "timed out" in lower:
        return f"PostgreSQL at {where} did not answer in time: check the server and the network, then rerun"
    database = re.search(r'database "([^"]+)" does not exist', text)
    if database:
        return f"PostgreSQL at {where} has no database {database.group(1)}: fix the database name in POSTGRES_DSN"
    if "could not translate host name" in lower or "name or service not known" in lower:
        return f"PostgreSQL host of {where} cannot be resolved: fix the host in POSTGRES_DSN"
    if "permission denied" in lower:
        return f"PostgreSQL denied the loader role: {one_line(redact(text))}: GRANT it SELECT on the app's tables"
    return None


def _cassandra_message(exc: BaseException) -> str | None:
    name = type(exc).__name__
    hosts = setting("CASSANDRA_HOSTS", "127.0.0.1:19042")
    text = str(exc)
    if name == "AuthenticationFailed" or (
        "authentication" in text.lower() and "cassandra" in type(exc).__module__
    ):
        return "Cassandra rejected the credentials: fix CASSANDRA_USERNAME / CASSANDRA_PASSWORD"
    if name == "NoHostAvailable":
        if "authentication" in text.lower() or "bad credentials" in text.lower():
            return "Cassandra rejected the credentials: fix CASSANDRA_USERNAME / CASSANDRA_PASSWORD"
        return f"Cassandra at {hosts} is not reachable: start it (`make up`) or fix CASSANDRA_HOSTS"
    return None


def failed_job_table(exc: BaseException) -> str | None:
    """The table an error comes from: of the dlt load job (dlt names the job:
    ``job_id=<table>.<id>.<ext>``), else of the resource whose extract raised it (dlt's ``pipe_name``)."""
    for inner in causes(exc):
        match = re.search(r"job_id=`?([A-Za-z_][A-Za-z0-9_]*)\.", str(inner))
        if match:
            return match.group(1)
    for inner in causes(exc):
        resource = getattr(inner, "pipe_name", None)
        if isinstance(resource, str) and resource:
            return resource
    return None


def out_of_memory(exc: BaseException) -> BaseException | None:
    """DuckDB's out-of-memory error among the causes of ``exc``, if it is one."""
    return next((inner for inner in causes(exc) if is_out_of_memory(inner)), None)


def _duckdb_message(exc: BaseException, warehouse: str) -> str | None:
    text = str(exc)
    if "Could not set lock on file" in text or "Conflicting lock is held" in text:
        holder = re.search(r"\(PID (\d+)\)", text)
        who = f" by process {holder.group(1)}" if holder else ""
        return f"the warehouse {warehouse} is open{who}: close that program (readers use the published copy) and rerun"
    if "No space left on device" in text:
        return f"no space left for the warehouse {warehouse}: free disk space and rerun (the run is redone)"
    return None


def user_error(exc: BaseException, step: str, pipeline: str, warehouse: str) -> UserError:
    """The one-line error for ``exc``, raised at ``step`` of ``pipeline``."""
    for inner in causes(exc):
        if isinstance(inner, UserError):
            return type(inner)(redact(str(inner)))
    for inner in causes(exc):
        module = type(inner).__module__ or ""
        from_duckdb = module.startswith(("duckdb", "_duckdb"))
        # the PostgreSQL streams are DuckDB's postgres_scanner: its errors carry libpq's text
        from_scanner = from_duckdb and "postgres" in str(inner).lower()
        if module.startswith("psycopg2") or from_scanner:
            message = _postgres_message(str(inner))
            if message:
                return UserError(redact(message))
        if module.startswith("cassandra"):
            message = _cassandra_message(inner)
            if message:
                return UserError(redact(message))
        if is_out_of_memory(inner):
            return UserError(out_of_memory_message(str(inner), step, pipeline, failed_job_table(exc)))
        if from_duckdb:
            message = _duckdb_message(inner, warehouse)
            if message:
                return UserError(redact(message))
        if isinstance(inner, OSError) and inner.errno == 28:
            return UserError(
                f"no space left on device during {step}: free disk space and rerun (the run is redone)"
            )
    root = root_cause(exc)
    # redacted before it is shortened: a cut could leave part of a secret that no longer matches
    detail = one_line(redact(f"{type(root).__name__}: {root}"))
    return LoadFailed(
        f"{pipeline}: {step} failed ({detail}): rerun with -v for details; the next run completes or redoes this one"
    )
