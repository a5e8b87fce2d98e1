#!/usr/bin/env bash
# Local Cassandra: one node under .stack/cassandra on 127.0.0.1:$CASSANDRA_CQL_PORT, run straight
# from Maven Central's jars (no Docker, no tarball).
#   stack/cassandra.sh up|down|status
# Environment: LOCAL_STACK_DIR (default .stack), LOCAL_CASSANDRA_PORT (19042), LOCAL_CASSANDRA_STORAGE_PORT
# (17000), LOCAL_CASSANDRA_LIB (the resolved jars, default .stack/cassandra/lib; another stack may share
# them), LOCAL_STACK_TLS=1|0 (client connections TLS only / plain; unset keeps the stack's last choice).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

C_HOME="$STACK_DIR/cassandra"
C_LIB="${LOCAL_CASSANDRA_LIB:-$C_HOME/lib}"
C_CONF="$C_HOME/conf"
C_LOGS="$C_HOME/logs"
C_PID="$C_HOME/cassandra.pid"
C_OUT="$C_LOGS/stdout.log"          # the JVM's own stdout/stderr
C_SYSTEM_LOG="$C_LOGS/system.log"   # Cassandra's log (logback)
C_SRC="$STACK_SRC_DIR/cassandra"
C_ADMIN="$STACK_SRC_DIR/cassandra_admin.py"
C_MAIN="org.apache.cassandra.service.CassandraDaemon"
START_TIMEOUT="${LOCAL_CASSANDRA_START_TIMEOUT:-180}"
STOP_TIMEOUT="${LOCAL_CASSANDRA_STOP_TIMEOUT:-60}"

apt_install() {
  command -v apt-get >/dev/null || die "no apt-get: install $* by hand"
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }

ensure_tools() {
  if ! command -v java >/dev/null; then
    log "java not found: installing openjdk-17-jre-headless"
    apt_install openjdk-17-jre-headless
  fi
  local major; major="$(java_major)"
  [[ "$major" == "17" ]] || die "Cassandra $CASSANDRA_VERSION runs here on Java 17, found Java '${major:-?}': install openjdk-17-jre-headless and make it the default java (update-alternatives --config java)"
  if ! command -v mvn >/dev/null; then
    log "mvn not found: installing maven"
    apt_install maven
  fi
  [[ -x "$VENV_PY" ]] || die "no $VENV_PY: run 'make setup' first"
}

# Cassandra's jars from Maven Central, resolved once per version (stamp file) into .stack/cassandra/lib.
ensure_jars() {
  local stamp="$C_LIB/.resolved"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$CASSANDRA_VERSION" ]] && compgen -G "$C_LIB/cassandra-all-$CASSANDRA_VERSION.jar" >/dev/null; then
    return
  fi
  log "resolving Cassandra $CASSANDRA_VERSION and its runtime jars from Maven Central (once; ~70 MB)"
  rm -rf "$C_LIB"; mkdir -p "$C_LIB"
  (cd "$C_SRC" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
      -Dcassandra.version="$CASSANDRA_VERSION" -Dcassandra.lib="$C_LIB") >"$C_HOME/mvn.log" 2>&1 \
    || { show_log_tail "$C_HOME/mvn.log"; die "Maven could not resolve cassandra-all:$CASSANDRA_VERSION: see $C_HOME/mvn.log (is Maven Central reachable?)"; }
  [[ -f "$C_LIB/cassandra-all-$CASSANDRA_VERSION.jar" ]] || die "cassandra-all-$CASSANDRA_VERSION.jar missing after mvn: see $C_HOME/mvn.log"
  echo "$CASSANDRA_VERSION" >"$stamp"
}

render_config() {
  mkdir -p "$C_CONF" "$C_LOGS" "$C_HOME/data" "$C_HOME/commitlog" "$C_HOME/saved_caches" "$C_HOME/hints" "$C_HOME/cdc_raw" "$C_HOME/triggers"
  chmod 700 "$C_HOME" "$C_CONF" "$C_LOGS"
  sed -e "s|@HOME@|$C_HOME|g" -e "s|@CQL_PORT@|$CASSANDRA_CQL_PORT|g" -e "s|@STORAGE_PORT@|$CASSANDRA_STORAGE_PORT|g" \
    "$C_SRC/cassandra.yaml.in" >"$C_CONF/cassandra.yaml"
  if [[ "$STACK_TLS" == 1 ]]; then
    # the keystore password goes into the config file (0600, folder 0700), never on a command line
    cat >>"$C_CONF/cassandra.yaml" <<YAML

# LOCAL_STACK_TLS=1: client connections (CQL) only over TLS, with the stack CA's server certificate.
client_encryption_options:
  enabled: true
  optional: false
  keystore: $TLS_DIR/server.p12
  keystore_password: "$(stack_secret tls_keystore)"
  store_type: PKCS12
  require_client_auth: false
  accepted_protocols: [TLSv1.2, TLSv1.3]
YAML
  fi
  cp "$C_SRC/logback.xml" "$C_CONF/logback.xml"
}

# Whether the running server was started with TLS (its rendered config), to warn when the mode changed.
running_tls() { if grep -q '^client_encryption_options:' "$C_CONF/cassandra.yaml" 2>/dev/null; then echo 1; else echo 0; fi; }

jvm_args() {
  grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$C_SRC/jvm17.options"
  local jamm; jamm="$(compgen -G "$C_LIB/jamm-*.jar" | head -n 1)"
  [[ -n "$jamm" ]] && echo "-javaagent:$jamm"
  echo "-Dcassandra.config=file://$C_CONF/cassandra.yaml"
  echo "-Dcassandra.storagedir=$C_HOME"
  echo "-Dcassandra.logdir=$C_LOGS"
  echo "-Dcassandra.triggers_dir=$C_HOME/triggers"
  echo "-Dlogback.configurationFile=file://$C_CONF/logback.xml"
  echo "-XX:HeapDumpPath=$C_HOME"
  echo "-Xlog:gc=info:file=$C_LOGS/gc.log:time,uptime:filecount=3,filesize=10M"
  # no JMX: neither cassandra.jmx.local.port nor cassandra.jmx.remote.port is set
}

pid_of() {
  local pid
  [[ -f "$C_PID" ]] || return 1
  pid="$(cat "$C_PID")"
  [[ "$pid" =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "$C_MAIN" || return 1
  echo "$pid"
}

admin() {  # run the Python helper with the secrets in its environment (never on the command line)
  STACK_CASSANDRA_ADMIN_PASSWORD="$(stack_secret cassandra_admin)" \
  STACK_CASSANDRA_APP_OWNER_PASSWORD="$(stack_secret cassandra_app_owner)" \
  STACK_CASSANDRA_LOADER_PASSWORD="$(stack_secret cassandra_loader)" \
  STACK_CASSANDRA_HOST=127.0.0.1 STACK_CASSANDRA_PORT="$CASSANDRA_CQL_PORT" \
  STACK_CASSANDRA_SSL_CA_FILE="$( [[ "$(running_tls)" == 1 ]] && echo "$TLS_CA_CERT" )" \
    "$VENV_PY" "$C_ADMIN" "$@"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local port
  for port in "$CASSANDRA_CQL_PORT" "$CASSANDRA_STORAGE_PORT"; do
    port_busy "$port" && die "port $port on 127.0.0.1 is taken by another process: stop it or set LOCAL_CASSANDRA_PORT / LOCAL_CASSANDRA_STORAGE_PORT"
  done
  local -a args; mapfile -t args < <(jvm_args)
  log "starting Cassandra $CASSANDRA_VERSION on 127.0.0.1:$CASSANDRA_CQL_PORT (log: $C_SYSTEM_LOG)"
  : >"$C_OUT"
  # setsid: its own session, so the caller's terminal/job control never signals it
  (cd "$C_HOME" && MALLOC_ARENA_MAX=4 exec setsid nohup java "${args[@]}" -cp "$C_LIB/*" "$C_MAIN" \
      >>"$C_OUT" 2>&1 </dev/null) &
  echo $! >"$C_PID"
  disown  # the server outlives this script; bash must not report on it
}

up() {
  local began version
  ensure_tools
  secure_stack_dir
  [[ -d "$C_HOME" ]] && chmod -R go-rwx "$C_HOME"  # a stack made before umask 077 had 0755 folders
  persist_tls_mode
  ensure_tls_material
  if pid_of >/dev/null && version="$(admin ready --timeout 10 2>/dev/null)"; then
    log "Cassandra already up on 127.0.0.1:$CASSANDRA_CQL_PORT"
    if [[ "$(running_tls)" != "$STACK_TLS" ]]; then
      log "warning: Cassandra runs with TLS=$(running_tls), the stack is now TLS=$STACK_TLS: restart it to apply ('make down && make up')"
    fi
  else
    if pid_of >/dev/null; then
      log "Cassandra process $(pid_of) runs but does not answer yet: waiting for it"
    else
      rm -f "$C_PID"
      ensure_jars
      render_config
      start
    fi
    began=$SECONDS
    # readiness is proven by a real CQL query, not assumed from the process or the port
    version="$(admin ready --timeout "$START_TIMEOUT" --pid "$(cat "$C_PID")")" || {
      [[ -s "$C_OUT" ]] && show_log_tail "$C_OUT" 20
      show_log_tail "$C_SYSTEM_LOG" 40
      die "Cassandra did not become ready: see $C_SYSTEM_LOG (stop it with 'make down')"
    }
    log "Cassandra ready in $((SECONDS - began)) s"
  fi
  admin setup-roles || { show_log_tail "$C_SYSTEM_LOG" 20; die "could not set up the Cassandra roles: see the message above"; }
  write_stack_env
  local tls="without TLS"; [[ "$(running_tls)" == 1 ]] && tls="TLS only (CA $TLS_CA_CERT)"
  log "Cassandra ready: $version on 127.0.0.1:$CASSANDRA_CQL_PORT (roles app_owner, loader), $tls"
}

down() {
  local pid
  if ! pid="$(pid_of)"; then
    rm -f "$C_PID"
    log "Cassandra not running"
    return
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "Cassandra did not stop within $STOP_TIMEOUT s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$C_PID"
  log "Cassandra stopped"
}

status() {
  local pid version
  if pid="$(pid_of)" && version="$(admin ready --timeout 5 2>/dev/null)"; then
    echo "cassandra: up on 127.0.0.1:$CASSANDRA_CQL_PORT (version $version, pid $pid, data $C_HOME/data, log $C_SYSTEM_LOG)"
  else
    echo "cassandra: down"
    return 1
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
