#!/usr/bin/env bash
# Local PostgreSQL: a private cluster under .stack/postgres on 127.0.0.1:$PG_PORT.
#   stack/postgres.sh up|down|status
# Environment: LOCAL_STACK_DIR (default .stack), LOCAL_PG_PORT (54329), LOCAL_PG_OS_USER,
# LOCAL_STACK_TLS=1|0 (TLS only / off; unset keeps the stack's last choice).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_HOME="$STACK_DIR/postgres"
PG_DATA="$PG_HOME/data"
PG_RUN="$PG_HOME/run"
PG_LOG="$PG_HOME/postgres.log"
PG_OS_USER="${LOCAL_PG_OS_USER:-}"

pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [[ -x "$dir/postgres" ]]; then echo "$dir"; fi
  done | sort -V | tail -n 1
}

ensure_installed() {
  if [[ -z "$(pg_bindir)" ]]; then
    log "PostgreSQL server not found: installing Debian's postgresql package"
    command -v apt-get >/dev/null || die "no apt-get: install a PostgreSQL server (15+) by hand"
    local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    # Debian starts a default cluster on 5432; ours is separate, leave theirs alone.
  fi
  [[ -n "$(pg_bindir)" ]] || die "PostgreSQL server still missing after install"
}

# PostgreSQL refuses to run as root: use a dedicated unprivileged OS user then.
os_user() {
  if [[ -n "$PG_OS_USER" ]]; then echo "$PG_OS_USER"; return; fi
  if [[ $(id -u) -eq 0 ]]; then echo "stackpg"; else id -un; fi
}

as_pg() {
  local user; user="$(os_user)"
  if [[ "$user" == "$(id -un)" ]]; then "$@"; else runuser -u "$user" -- "$@"; fi
}

psql_super() { as_pg "$(pg_bindir)/psql" -h "$PG_RUN" -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

is_running() { [[ -f "$PG_DATA/postmaster.pid" ]] && as_pg "$(pg_bindir)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

ready() { psql_super -d app -tAc "select 1" 2>/dev/null | grep -q 1; }

# The OS user that runs PostgreSQL must be able to traverse every folder above its data
# (a clone inside `mktemp -d`, mode 0700, is not). Grant traverse only (o+x), and say so.
let_os_user_reach_home() {
  local user dir; user="$(os_user)"
  [[ "$user" == "$(id -un)" ]] && return 0
  # from the root down: a folder is tested once every folder above it can be traversed, so that
  # only the folders that lack it get o+x (the stack's own folder has it through its group, 0710)
  local -a chain=(); dir="$STACK_DIR"
  while [[ "$dir" != "/" ]]; do chain=("$dir" "${chain[@]}"); dir="$(dirname "$dir")"; done
  for dir in "${chain[@]}"; do
    if ! runuser -u "$user" -- test -x "$dir" 2>/dev/null; then
      log "letting the PostgreSQL OS user $user traverse $dir (chmod o+x)"
      chmod o+x "$dir" || die "cannot let $user reach $PG_HOME: give it traverse (x) permission on $dir"
    fi
  done
}

init_cluster() {
  local user; user="$(os_user)"
  if [[ "$user" == "stackpg" ]] && ! id stackpg >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin stackpg
  fi
  secure_stack_dir
  mkdir -p "$PG_HOME" "$PG_RUN"
  [[ "$user" == "$(id -un)" ]] || chown -R "$user" "$PG_HOME"
  let_os_user_reach_home
  log "initialising a PostgreSQL cluster in $PG_DATA"
  # peer on the socket (the OS user running the scripts is mapped to the superuser in write_auth_config),
  # SCRAM over TCP; never trust
  as_pg "$(pg_bindir)/initdb" -D "$PG_DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$PG_HOME/initdb.log" 2>&1 || { show_log_tail "$PG_HOME/initdb.log"; die "initdb failed"; }
  cat >>"$PG_DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
shared_buffers = 256MB
max_connections = 50
fsync = on
log_min_messages = warning
CONF
}

# Files the scripts own inside the data folder, rewritten on every `up` (a running server reloads them):
# pg_hba.conf / pg_ident.conf (who may log in, how) and stack.conf (TLS), included by postgresql.conf.
write_server_config() {
  local user; user="$(os_user)"
  cat >"$PG_DATA/pg_ident.conf" <<IDENT
# Written by stack/postgres.sh on every \`up\`: the OS user that runs the stack is the superuser on the socket.
# MAPNAME  SYSTEM-USERNAME  PG-USERNAME
stack      $user            postgres
IDENT
  local host_rules="host      all  all  127.0.0.1/32  scram-sha-256"
  if [[ "$STACK_TLS" == 1 ]]; then
    host_rules="hostssl   all  all  127.0.0.1/32  scram-sha-256
hostnossl all  all  127.0.0.1/32  reject"
  fi
  cat >"$PG_DATA/pg_hba.conf" <<HBA
# Written by stack/postgres.sh on every \`up\`. No trust anywhere.
# TYPE    DATABASE USER      ADDRESS       METHOD
local     all  postgres                    peer map=stack
local     all  all                         scram-sha-256
$host_rules
HBA
  if [[ "$STACK_TLS" == 1 ]]; then
    mkdir -p "$PG_HOME/tls"
    cp "$TLS_DIR/server.crt" "$TLS_DIR/server.key" "$PG_HOME/tls/"
    chmod 700 "$PG_HOME/tls"; chmod 600 "$PG_HOME/tls"/*
    cat >"$PG_DATA/stack.conf" <<CONF
# Written by stack/postgres.sh on every \`up\` (LOCAL_STACK_TLS=1): TLS with the stack CA's certificate.
ssl = on
ssl_cert_file = '$PG_HOME/tls/server.crt'
ssl_key_file = '$PG_HOME/tls/server.key'
ssl_min_protocol_version = 'TLSv1.2'
unix_socket_permissions = 0700
CONF
  else
    printf '%s\n' "# Written by stack/postgres.sh on every \`up\`: TLS off (LOCAL_STACK_TLS=1 turns it on)." "ssl = off" \
      "unix_socket_permissions = 0700" >"$PG_DATA/stack.conf"
  fi
  grep -q "^include_if_exists = 'stack.conf'" "$PG_DATA/postgresql.conf" \
    || printf '%s\n' "include_if_exists = 'stack.conf'" >>"$PG_DATA/postgresql.conf"
  chmod -R go-rwx "$PG_HOME"  # a stack made before umask 077 had 0755 folders
  [[ "$user" == "$(id -un)" ]] || chown -R "$user" "$PG_HOME"
}

# The passwords reach psql through its environment (\getenv), never its command line; the server
# does not log these statements (log_statement, log_min_error_statement for this session only).
create_roles() {
  STACK_PG_OWNER_PASSWORD="$(stack_secret pg_app_owner)" STACK_PG_LOADER_PASSWORD="$(stack_secret pg_loader)" \
    psql_super -d postgres <<'SQL'
\getenv owner_pw STACK_PG_OWNER_PASSWORD
\getenv loader_pw STACK_PG_LOADER_PASSWORD
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SELECT format('CREATE ROLE app_owner LOGIN PASSWORD %L', :'owner_pw') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_owner') \gexec
SELECT format('ALTER ROLE app_owner PASSWORD %L', :'owner_pw') \gexec
SELECT format('CREATE ROLE loader LOGIN PASSWORD %L', :'loader_pw') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'loader') \gexec
SELECT format('ALTER ROLE loader PASSWORD %L', :'loader_pw') \gexec
ALTER ROLE loader SET default_transaction_read_only = on;
SELECT 'CREATE DATABASE app OWNER app_owner' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'app') \gexec
SQL
  psql_super -d app <<'SQL'
ALTER SCHEMA public OWNER TO app_owner;
REVOKE ALL ON DATABASE app FROM PUBLIC;
GRANT CONNECT ON DATABASE app TO app_owner, loader;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO loader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO loader;
ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA public GRANT SELECT ON TABLES TO loader;
SQL
}

up() {
  ensure_installed
  ensure_openssl  # LOCAL_STACK_TLS=1 makes the stack's CA with it, and so do the TLS tests
  persist_tls_mode
  ensure_tls_material
  [[ -f "$PG_DATA/PG_VERSION" ]] || init_cluster
  secure_stack_dir
  let_os_user_reach_home
  write_server_config
  if is_running; then  # a running server re-reads pg_hba.conf, pg_ident.conf and stack.conf
    as_pg "$(pg_bindir)/pg_ctl" -D "$PG_DATA" reload >/dev/null
  fi
  if is_running && wait_until 10 "PostgreSQL" ready; then
    log "PostgreSQL already up on 127.0.0.1:$PG_PORT"
  else
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
    [[ "$(os_user)" == "$(id -un)" ]] || chown -R "$(os_user)" "$PG_HOME"
    let_os_user_reach_home
    as_pg "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -o "-p $PG_PORT" start -w -t 60 >/dev/null \
      || { show_log_tail "$PG_LOG"; die "PostgreSQL did not start: see $PG_LOG"; }
    # readiness is proven by a real query on the server, not assumed from the pid file
    wait_until 60 "PostgreSQL" psql_super -d postgres -tAc "select 1" \
      || { show_log_tail "$PG_LOG"; die "PostgreSQL does not answer queries: see $PG_LOG"; }
  fi
  create_roles
  write_stack_env
  local tls="without TLS"; [[ "$STACK_TLS" == 1 ]] && tls="TLS only (CA $TLS_CA_CERT)"
  log "PostgreSQL ready: $(psql_super -d app -tAc 'show server_version' | head -1) on 127.0.0.1:$PG_PORT, database app, $tls"
}

down() {
  # the OS user running PostgreSQL must reach its data again (a parent folder's mode may have changed since up)
  [[ -f "$PG_DATA/postmaster.pid" ]] && let_os_user_reach_home
  if is_running; then
    as_pg "$(pg_bindir)/pg_ctl" -D "$PG_DATA" stop -m fast -w -t 60 >/dev/null
    log "PostgreSQL stopped"
  else
    log "PostgreSQL not running"
  fi
}

status() {
  [[ -f "$PG_DATA/postmaster.pid" ]] && let_os_user_reach_home
  if is_running && ready; then
    echo "postgresql: up on 127.0.0.1:$PG_PORT (database app, data $PG_DATA, log $PG_LOG)"
  else
    echo "postgresql: down"
    return 1
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
