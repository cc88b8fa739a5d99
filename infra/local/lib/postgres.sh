# PostgreSQL from Debian's packages. The server refuses to run as root, so as root it runs as
# the `postgres` system user that the package creates.
# shellcheck shell=bash

POSTGRES_DATA="$DATA_DIR/postgres"

pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/pg_ctl" ] && echo "$dir"; done | sort -V | tail -n 1
}

# Runs a command as the cluster's owner; setpriv execs, so a recorded pid is the server's own.
pg_as_owner() {
  if is_root; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

postgres_provision() {
  [ -n "$(pg_bindir)" ] || apt_install postgresql
  [ -n "$(pg_bindir)" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
  command -v psql >/dev/null || apt_install postgresql-client
}

postgres_healthy() { "$(pg_bindir)/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT"; }

postgres_start() {
  local bin
  bin="$(pg_bindir)"
  if [ ! -f "$POSTGRES_DATA/PG_VERSION" ]; then
    say "initialising PostgreSQL cluster in $POSTGRES_DATA"
    mkdir -p "$POSTGRES_DATA"
    is_root && chown postgres:postgres "$POSTGRES_DATA"
    chmod 700 "$POSTGRES_DATA"
    # Loopback only and trust auth: a local dev cluster holds no secrets (stage/prod use passwords
    # from the environment, see docs/adr/0004).
    pg_as_owner "$bin/initdb" -D "$POSTGRES_DATA" -U parley --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$LOG_DIR/postgres-init.log" 2>&1 || die "initdb failed, see $LOG_DIR/postgres-init.log"
  fi
  ensure_port_free postgres "$POSTGRES_PORT"
  local owner=()
  is_root && owner=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  spawn postgres "${owner[@]}" "$bin/postgres" -D "$POSTGRES_DATA" -h 127.0.0.1 -p "$POSTGRES_PORT" \
    -k "$POSTGRES_DATA" -c max_connections=400 -c shared_buffers=256MB
  wait_healthy postgres postgres_healthy 60
  postgres_ensure_database parley
}

postgres_ensure_database() {
  local bin
  bin="$(pg_bindir)"
  if ! "$bin/psql" -h 127.0.0.1 -p "$POSTGRES_PORT" -U parley -d postgres -tAc \
    "select 1 from pg_database where datname = '$1'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$POSTGRES_PORT" -U parley "$1"
  fi
}

postgres_stop() { stop_pid postgres 30; }
postgres_url() { echo "postgres://parley@127.0.0.1:$POSTGRES_PORT/parley"; }
