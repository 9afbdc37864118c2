#!/usr/bin/env bash
# Throwaway Redis and PostgreSQL servers on loopback, for the tests: ports of their own, data in a temp dir,
# stopped by pid. Installs the Debian packages if missing.
#   eval "$(bash scripts/services.sh start)"   start both; prints the export lines the tests read
#   bash scripts/services.sh stop              stop both and delete their data
#   bash scripts/services.sh env               print the export lines again
set -euo pipefail
DIR=${CHATSTATE_SERVICES_DIR:-/tmp/chatstate-services}
REDIS_PORT=${CHATSTATE_REDIS_PORT:-6390}
PG_PORT=${CHATSTATE_PG_PORT:-5440}

say() { echo "$@" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_missing() {
  local need=()
  { command -v redis-server && command -v redis-cli; } >/dev/null || need+=(redis-server)
  { ls /usr/lib/postgresql/*/bin/postgres /usr/lib/postgresql/*/bin/initdb && id postgres; } >/dev/null 2>&1 || need+=(postgresql)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    as_root apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >&2
  fi
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

env_lines() {
  echo "export CHATSTATE_TEST_REDIS=redis://127.0.0.1:$REDIS_PORT/0"
  echo "export CHATSTATE_TEST_POSTGRES=postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
}

start() {
  install_missing
  mkdir -p "$DIR"; chmod 755 "$DIR"   # the postgres user must be able to enter it
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --daemonize yes --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$DIR" --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >&2
    for i in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$REDIS_PORT" ping >/dev/null || { say "redis did not start: see $DIR/redis.log"; exit 1; }
  fi
  local bin; bin=$(pg_bin)
  if [ ! -f "$DIR/pg/PG_VERSION" ]; then
    mkdir -p "$DIR/pg"; [ "$(id -u)" = 0 ] && chown -R postgres: "$DIR/pg"
    as_pg "$bin/initdb" -D "$DIR/pg" -U postgres -A trust >/dev/null
  fi
  if ! as_pg "$bin/pg_ctl" -D "$DIR/pg" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$DIR/pg" -l "$DIR/pg/log" -w \
      -o "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >&2
  fi
  say "redis on 127.0.0.1:$REDIS_PORT, postgresql on 127.0.0.1:$PG_PORT, data in $DIR"
  env_lines
}

stop() {
  if [ -f "$DIR/redis.pid" ]; then kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true; fi
  if [ -f "$DIR/pg/postmaster.pid" ]; then as_pg "$(pg_bin)/pg_ctl" -D "$DIR/pg" -m fast -w stop >&2 || true; fi
  rm -rf "$DIR"
  say "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) env_lines ;;
  *) say "usage: $0 start|stop|env"; exit 2 ;;
esac
