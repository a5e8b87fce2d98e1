# Shared helpers of the local stack scripts (sourced, not run).
# shellcheck shell=bash
set -euo pipefail
# Everything the stack scripts create (and the servers they start) is private to its owner.
umask 077

STACK_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd "$STACK_SRC_DIR/.." && pwd)"
STACK_DIR="${LOCAL_STACK_DIR:-$PROJECT_DIR/.stack}"
STACK_ENV_FILE="$STACK_DIR/env"
VENV_PY="$PROJECT_DIR/.venv/bin/python"

PG_PORT="${LOCAL_PG_PORT:-54329}"
CASSANDRA_CQL_PORT="${LOCAL_CASSANDRA_PORT:-19042}"
CASSANDRA_STORAGE_PORT="${LOCAL_CASSANDRA_STORAGE_PORT:-17000}"
CASSANDRA_VERSION="${LOCAL_CASSANDRA_VERSION:-5.0.9}"

# TLS (optional): LOCAL_STACK_TLS=1 at `up` turns it on for this stack dir, =0 off; unset keeps the
# stack's last choice (marker file .stack/tls/enabled). The private CA lives in .stack/tls/.
TLS_DIR="$STACK_DIR/tls"
TLS_CA_CERT="$TLS_DIR/ca.crt"
case "${LOCAL_STACK_TLS:-}" in
  1|on|true|yes) STACK_TLS=1 ;;
  0|off|false|no) STACK_TLS=0 ;;
  "") if [[ -f "$TLS_DIR/enabled" ]]; then STACK_TLS=1; else STACK_TLS=0; fi ;;
  *) printf '[stack] error: LOCAL_STACK_TLS=%s: use 1 (TLS on) or 0 (TLS off)\n' "$LOCAL_STACK_TLS" >&2; exit 2 ;;
esac

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# The stack's folders are private (0700). When PostgreSQL runs as another OS user (stackpg, because
# the scripts run as root), the stack's top folder gives that user's group traverse only (0710).
secure_stack_dir() {
  mkdir -p "$STACK_DIR"
  if [[ $(id -u) -eq 0 ]] && id stackpg >/dev/null 2>&1 && [[ -z "${LOCAL_PG_OS_USER:-}" || "${LOCAL_PG_OS_USER:-}" == stackpg ]]; then
    chgrp "$(id -gn stackpg)" "$STACK_DIR" && chmod 710 "$STACK_DIR"  # one change: never a moment without traverse
  else
    chmod 700 "$STACK_DIR"
  fi
}

# A random password, generated once per stack and kept in .stack/secrets/ (never printed by the scripts).
stack_secret() {
  local name="$1" file="$STACK_DIR/secrets/$1"
  mkdir -p "$STACK_DIR/secrets"; chmod 700 "$STACK_DIR/secrets"; chmod 600 "$STACK_DIR/secrets"/* 2>/dev/null || true
  if [[ ! -s "$file" ]]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 32 > "$file")
  fi
  cat "$file"
}

# Write .stack/env: the connection settings every tool reads by default.
write_stack_env() {
  mkdir -p "$STACK_DIR"
  local tmp="$STACK_ENV_FILE.tmp" pg_tls="" cassandra_tls=""
  if [[ "$STACK_TLS" == 1 ]]; then
    pg_tls="?sslmode=verify-full&sslrootcert=$TLS_CA_CERT"
    cassandra_tls="export CASSANDRA_SSL_CA_FILE='$TLS_CA_CERT'"
  fi
  (umask 077; cat > "$tmp" <<ENV
# Local stack connection settings (written by stack/*.sh; \`make env\` prints them).
export POSTGRES_DSN='postgresql://loader:$(stack_secret pg_loader)@127.0.0.1:$PG_PORT/app$pg_tls'
export APP_POSTGRES_DSN='postgresql://app_owner:$(stack_secret pg_app_owner)@127.0.0.1:$PG_PORT/app$pg_tls'
export CASSANDRA_HOSTS='127.0.0.1:$CASSANDRA_CQL_PORT'
$cassandra_tls
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

# ---------------------------------------------------------------------------------------------
# TLS: a private CA (made once) and a server certificate for 127.0.0.1 / localhost signed by it.
#   .stack/tls/ca.crt        the CA certificate clients verify with (CASSANDRA_SSL_CA_FILE, sslrootcert)
#   .stack/tls/ca.key        the CA's key (never leaves the folder)
#   .stack/tls/server.{crt,key}  PostgreSQL's certificate and key
#   .stack/tls/server.p12    the same for Cassandra (PKCS12, password in .stack/secrets/tls_keystore)
# No secret on a command line: openssl reads the keystore password from its environment.
persist_tls_mode() {
  if [[ "$STACK_TLS" == 1 ]]; then
    mkdir -p "$TLS_DIR"; chmod 700 "$TLS_DIR"; : >"$TLS_DIR/enabled"
  else
    rm -f "$TLS_DIR/enabled"
  fi
}

ensure_openssl() {
  command -v openssl >/dev/null && return
  log "openssl not found: installing Debian's openssl package"
  command -v apt-get >/dev/null || die "no apt-get: install openssl by hand (needed for LOCAL_STACK_TLS=1)"
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openssl >/dev/null
}

ensure_tls_material() {
  [[ "$STACK_TLS" == 1 ]] || return 0
  ensure_openssl
  mkdir -p "$TLS_DIR"; chmod 700 "$TLS_DIR"
  local out="$TLS_DIR/openssl.log"
  if [[ ! -s "$TLS_DIR/ca.key" || ! -s "$TLS_CA_CERT" ]]; then
    log "TLS: generating the stack's private CA in $TLS_DIR"
    rm -f "$TLS_DIR"/server.*
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLS_DIR/ca.key" -out "$TLS_CA_CERT" -days 3650 \
      -subj "/CN=local stack CA $(hostname -s 2>/dev/null || echo host)" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      >"$out" 2>&1 || { show_log_tail "$out"; die "openssl could not make the CA: see $out"; }
  fi
  if [[ ! -s "$TLS_DIR/server.crt" || ! -s "$TLS_DIR/server.key" ]]; then
    log "TLS: generating the server certificate for 127.0.0.1 / localhost"
    openssl req -new -newkey rsa:2048 -nodes -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" \
      -subj "/CN=localhost" >"$out" 2>&1 || { show_log_tail "$out"; die "openssl could not make the server key: see $out"; }
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" >"$TLS_DIR/server.ext"
    openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_CA_CERT" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
      -days 825 -sha256 -extfile "$TLS_DIR/server.ext" -out "$TLS_DIR/server.crt" >"$out" 2>&1 \
      || { show_log_tail "$out"; die "openssl could not sign the server certificate: see $out"; }
    rm -f "$TLS_DIR/server.csr" "$TLS_DIR/server.p12"
  fi
  if [[ ! -s "$TLS_DIR/server.p12" ]]; then
    STACK_TLS_KEYSTORE_PASSWORD="$(stack_secret tls_keystore)" \
      openssl pkcs12 -export -in "$TLS_DIR/server.crt" -inkey "$TLS_DIR/server.key" -name server \
        -out "$TLS_DIR/server.p12" -passout env:STACK_TLS_KEYSTORE_PASSWORD >"$out" 2>&1 \
      || { show_log_tail "$out"; die "openssl could not write the PKCS12 keystore: see $out"; }
  fi
  chmod 600 "$TLS_DIR"/*
}
