# PostgreSQL from Debian's packages. The server refuses to run as root, so as root it runs as
# the `postgres` system user that the package creates.
# shellcheck shell=bash

POSTGRES_DATA="$DATA_DIR/postgres"

# As root, the cluster belongs to the postgres user, who must be able to reach it. A checkout under
# a directory that user cannot enter (root's home is 0700, so is a mktemp -d) keeps its cluster
# under /var/lib/parley/<hash of the data folder> instead, with .data/postgres linking to it.
postgres_locate_data() {
  is_root || return 0
  [ -L "$POSTGRES_DATA" ] && POSTGRES_DATA="$(readlink "$POSTGRES_DATA")" && return 0
  [ -d "$POSTGRES_DATA" ] && pg_as_owner test -x "$POSTGRES_DATA" 2>/dev/null && return 0
  pg_as_owner test -x "$DATA_DIR" 2>/dev/null && return 0
  local outside
  outside="/var/lib/parley/$(printf '%s' "$DATA_DIR" | sha256sum | cut -c1-12)/postgres"
  say "the postgres user cannot enter $DATA_DIR; the cluster lives in $outside"
  mkdir -p "$outside"
  chmod 755 /var/lib/parley "$(dirname "$outside")"
  if [ -d "$POSTGRES_DATA" ] && [ ! -L "$POSTGRES_DATA" ]; then rmdir "$POSTGRES_DATA" 2>/dev/null || true; fi
  ln -sfn "$outside" "$POSTGRES_DATA"
  POSTGRES_DATA="$outside"
}

# What `stack.sh reset` deletes besides .data: a cluster kept outside it.
postgres_reset() {
  if [ -L "$DATA_DIR/postgres" ]; then
    local outside
    outside="$(readlink "$DATA_DIR/postgres")"
    case "$outside" in /var/lib/parley/*/postgres) rm -rf "$(dirname "$outside")" ;; esac
  fi
}

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
  postgres_locate_data
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
