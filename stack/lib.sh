# Shared helpers of the local stack scripts (sourced, not run).
# shellcheck shell=bash
set -euo pipefail

STACK_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd "$STACK_SRC_DIR/.." && pwd)"
STACK_DIR="${LOCAL_STACK_DIR:-$PROJECT_DIR/.stack}"
STACK_ENV_FILE="$STACK_DIR/env"
VENV_PY="$PROJECT_DIR/.venv/bin/python"

PG_PORT="${LOCAL_PG_PORT:-54329}"
CASSANDRA_CQL_PORT="${LOCAL_CASSANDRA_PORT:-19042}"
CASSANDRA_STORAGE_PORT="${LOCAL_CASSANDRA_STORAGE_PORT:-17000}"
CASSANDRA_VERSION="${LOCAL_CASSANDRA_VERSION:-5.0.9}"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# A random password, generated once per stack and kept in .stack/secrets/ (never printed by the scripts).
stack_secret() {
  local name="$1" file="$STACK_DIR/secrets/$1"
  mkdir -p "$STACK_DIR/secrets"; chmod 700 "$STACK_DIR/secrets"
  if [[ ! -s "$file" ]]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 32 > "$file")
  fi
  cat "$file"
}

# Write .stack/env: the connection settings every tool reads by default.
write_stack_env() {
  mkdir -p "$STACK_DIR"
  local tmp="$STACK_ENV_FILE.tmp"
  (umask 077; cat > "$tmp" <<ENV
# Local stack connection settings (written by stack/*.sh; \`make env\` prints them).
export POSTGRES_DSN='postgresql://loader:$(stack_secret pg_loader)@127.0.0.1:$PG_PORT/app'
export APP_POSTGRES_DSN='postgresql://app_owner:$(stack_secret pg_app_owner)@127.0.0.1:$PG_PORT/app'
export CASSANDRA_HOSTS='127.0.0.1:$CASSANDRA_CQL_PORT'
export CASSANDRA_USERNAME='loader'
export CASSANDRA_PASSWORD='$(stack_secret cassandra_loader)'
export APP_CASSANDRA_USERNAME='app_owner'
export APP_CASSANDRA_PASSWORD='$(stack_secret cassandra_app_owner)'
export CASSANDRA_KEYSPACE='app'
export CASSANDRA_LOCAL_DC='datacenter1'
export WAREHOUSE_PATH='$PROJECT_DIR/warehouse/warehouse.duckdb'
ENV
  )
  mv "$tmp" "$STACK_ENV_FILE"
}

# Print the last lines of a log file to stderr (used when a server fails to start).
show_log_tail() {
  local file="$1" lines="${2:-40}"
  if [[ -f "$file" ]]; then
    log "last $lines lines of $file:"
    tail -n "$lines" "$file" >&2 || true
  fi
}

# Wait until a command succeeds, polling; fail after a timeout (seconds).
wait_until() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then return 1; fi
    sleep 0.5
  done
}
