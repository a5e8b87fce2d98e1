"""Connect to Cassandra with the loaders' policies, and turn user-fixable failures into UserError.

Policies: token-aware over DC-aware round robin (local DC from CASSANDRA_LOCAL_DC),
plain-text auth. TLS when CASSANDRA_SSL_CA_FILE names a PEM CA: the driver's ``ssl_context``
verifies each node's certificate against that CA and the host name the driver connects to
(an IP address or a name of CASSANDRA_HOSTS) against the certificate's names;
CASSANDRA_SSL_HOSTNAME_CHECK=false turns off only the host-name check. A scan statement carries no partition key, so the token-aware wrapper
here also routes a statement that names a ``routing_token`` (the end of its token
range) to that range's replicas, as DSBulk and the Spark connector do.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cassandra import AuthenticationFailed, OperationTimedOut, Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable, Session
from cassandra.metadata import Murmur3Token, TableMetadata
from cassandra.policies import DCAwareRoundRobinPolicy, HostDistance, TokenAwarePolicy
from cassandra.query import tuple_factory

from loaders.errors import UserError, one_line
from loaders.settings import CassandraSettings, SettingsError

log = logging.getLogger(__name__)


class _ProtocolDowngradeFilter(logging.Filter):
    """The driver warns on every connect while it negotiates the protocol version down: expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Downgrading core protocol version")


logging.getLogger("cassandra.cluster").addFilter(_ProtocolDowngradeFilter())

CONNECT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 60.0


class RangeAwarePolicy(TokenAwarePolicy):  # type: ignore[misc]  # the driver is untyped
    """Token-aware routing that also understands a statement's ``routing_token`` (an int)."""

    def make_query_plan(self, working_keyspace: str | None = None, query: Any = None) -> Iterator[Any]:
        token = getattr(query, "routing_token", None)
        keyspace = (query.keyspace if query is not None and query.keyspace else None) or working_keyspace
        token_map = self._cluster_metadata.token_map if self._cluster_metadata else None
        if token is None or keyspace is None or token_map is None:
            yield from super().make_query_plan(working_keyspace, query)
            return
        child = self._child_policy
        replicas = token_map.get_replicas(keyspace, Murmur3Token(token))
        for replica in replicas:
            if replica.is_up and child.distance(replica) == HostDistance.LOCAL:
                yield replica
        for host in child.make_query_plan(keyspace, query):
            if host not in replicas or child.distance(host) == HostDistance.REMOTE:
                yield host


def hosts_text(settings: CassandraSettings) -> str:
    return ",".join(f"{host}:{port}" for host, port in settings.hosts)


def is_auth_failure(error: BaseException) -> bool:
    if isinstance(error, AuthenticationFailed):
        return True
    errors = getattr(error, "errors", None) or {}
    return bool(errors) and all(isinstance(e, AuthenticationFailed) for e in errors.values())


def ssl_context(settings: CassandraSettings) -> ssl.SSLContext | None:
    """The verifying TLS context of CASSANDRA_SSL_CA_FILE, or None (no TLS) when it is unset."""
    if not settings.ssl_ca_file:
        return None
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.ssl_ca_file)
    except (OSError, ssl.SSLError) as error:
        raise SettingsError(
            f"CASSANDRA_SSL_CA_FILE={settings.ssl_ca_file} cannot be read as a PEM CA certificate "
            f"({type(error).__name__}: {one_line(error, 80)}): point it at the CA that signed the nodes' certificates"
        ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = settings.ssl_hostname_check  # the chain is verified either way (CERT_REQUIRED)
    return context


def _host_errors(error: BaseException) -> list[BaseException]:
    errors = getattr(error, "errors", None) or {}
    return [e for e in errors.values() if isinstance(e, BaseException)] or [error]


def tls_error(settings: CassandraSettings, error: BaseException) -> UserError | None:
    """The one-line UserError when the TLS handshake failed (certificate, host name, plain server)."""
    found = [e for e in _host_errors(error) if isinstance(e, ssl.SSLError) or "ssl" in str(e).lower()]
    if settings.ssl_ca_file is None or not found:
        return None
    where, first = hosts_text(settings), found[0]
    text = one_line(str(first).split("Last error: ", 1)[-1], 160)  # the driver's wrapper names the host again
    if "mismatch" in text.lower():
        return UserError(
            f"Cassandra at {where}: the node's TLS certificate does not name the host connected to ({text}): "
            "connect by a name or address the certificate lists (CASSANDRA_HOSTS), or reissue the certificate; "
            "CASSANDRA_SSL_HOSTNAME_CHECK=false skips only this check"
        )
    if isinstance(first, ssl.SSLCertVerificationError) or "certificate verify failed" in text.lower():
        return UserError(
            f"Cassandra at {where}: the node's TLS certificate is not signed by the CA of "
            f"CASSANDRA_SSL_CA_FILE={settings.ssl_ca_file} ({text}): "
            "set CASSANDRA_SSL_CA_FILE to the CA that signed the nodes' certificates"
        )
    return UserError(
        f"Cassandra at {where}: the TLS handshake failed ({text}): does the node speak TLS on that port? "
        "Enable client_encryption_options on the nodes, or unset CASSANDRA_SSL_CA_FILE for a plain connection"
    )


def connect_error(settings: CassandraSettings, error: BaseException) -> UserError:
    """The one-line UserError for a failed connection (never includes the password)."""
    where = hosts_text(settings)
    tls = tls_error(settings, error)
    if tls is not None:
        return tls
    if is_auth_failure(error):
        return UserError(
            f"Cassandra at {where} rejected the login of role {settings.username!r}: "
            "check CASSANDRA_USERNAME and CASSANDRA_PASSWORD"
        )
    plain = (
        "" if settings.ssl_ca_file else "; if the nodes require TLS, set CASSANDRA_SSL_CA_FILE to their CA"
    )
    return UserError(
        f"no Cassandra host answers at {where} ({type(error).__name__}): "
        f"start it (`make up`) or fix CASSANDRA_HOSTS{plain}"
    )


def make_cluster(settings: CassandraSettings, *, request_timeout: float = REQUEST_TIMEOUT_S) -> Cluster:
    profile = ExecutionProfile(
        load_balancing_policy=RangeAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.local_dc)),
        request_timeout=request_timeout,
        row_factory=tuple_factory,
    )
    return Cluster(
        contact_points=list(settings.hosts),
        port=settings.hosts[0][1],
        auth_provider=PlainTextAuthProvider(username=settings.username, password=settings.password),
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=CONNECT_TIMEOUT_S,
        control_connection_timeout=CONNECT_TIMEOUT_S,
        ssl_context=ssl_context(settings),
        compression=False,  # a loopback/LAN scan is CPU-bound: compression only costs
    )


class _FailedConnectFilter(logging.Filter):
    """While connecting: the driver logs each failed attempt with a traceback; the caller reports it in one line."""

    PREFIXES = ("[control connection] Error connecting to", "Control connection failed to connect")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIXES)


@contextmanager
def connected(settings: CassandraSettings, **kwargs: Any) -> Iterator[tuple[Cluster, Session]]:
    """A connected (cluster, session); UserError when the hosts or the login fail. Shut down on exit."""
    cluster = make_cluster(settings, **kwargs)
    try:
        driver_log, quiet = logging.getLogger("cassandra.cluster"), _FailedConnectFilter()
        driver_log.addFilter(quiet)
        try:
            session = cluster.connect()
        except (NoHostAvailable, AuthenticationFailed, OperationTimedOut) as error:
            raise connect_error(settings, error) from None
        finally:
            driver_log.removeFilter(quiet)
        yield cluster, session
    finally:
        cluster.shutdown()


def table_metadata(cluster: Cluster, settings: CassandraSettings, table: str) -> TableMetadata:
    """The table's schema; UserError naming the fix when the keyspace or table is missing."""
    keyspace = cluster.metadata.keyspaces.get(settings.keyspace)
    if keyspace is None:
        raise UserError(
            f"Cassandra keyspace {settings.keyspace!r} does not exist at {hosts_text(settings)}: "
            "create it (`datagen`, the demo data generator) or fix CASSANDRA_KEYSPACE"
        )
    meta = keyspace.tables.get(table)
    if meta is None:
        raise UserError(
            f"Cassandra table {settings.keyspace}.{table} does not exist: "
            "create it (`datagen` applies the DDL contracts/cassandra.cql) or fix CASSANDRA_KEYSPACE"
        )
    return meta


def unauthorized_error(settings: CassandraSettings, table: str, error: Unauthorized) -> UserError:
    return UserError(
        f"Cassandra role {settings.username!r} may not read {settings.keyspace}.{table} ({one_line(error, 120)}): "
        f"GRANT SELECT ON KEYSPACE {settings.keyspace} TO {settings.username}"
    )


def node_tokens(cluster: Cluster) -> list[int]:
    """The ring's node tokens (Murmur3 values), empty when the driver has no token map."""
    token_map = cluster.metadata.token_map
    if token_map is None:
        return []
    return [int(token.value) for token in token_map.ring]
