# FerretDB 1.24 (MongoDB wire protocol on its own database in the local PostgreSQL), built with Go from the module proxy through
# the small launcher in infra/local/ferretdb. Production uses MongoDB itself.
# shellcheck shell=bash

# The FerretDB version is pinned in infra/local/ferretdb/go.mod; the binary is cached per launcher
# source hash, so a version bump rebuilds it.
FERRETDB_BIN="$CACHE_DIR/bin/parley-ferretdb-$(cat "$LOCAL_DIR"/ferretdb/{go.mod,go.sum,main.go} | sha256sum | cut -c1-12)"
FERRETDB_DATABASE=ferretdb

ferretdb_provision() {
  [ -x "$FERRETDB_BIN" ] && return 0
  command -v go >/dev/null || die "Go (1.24 or later) is needed to build FerretDB: install it and re-run"
  say "building FerretDB ($(awk '$1 ~ /FerretDB\/FerretDB$/ {print $2} $2 ~ /FerretDB\/FerretDB$/ {print $3}' "$LOCAL_DIR/ferretdb/go.mod")) with Go (cached in $FERRETDB_BIN; takes a few minutes once)"
  mkdir -p "$CACHE_DIR/bin"
  (cd "$LOCAL_DIR/ferretdb" && GOFLAGS=-mod=mod go build -trimpath -o "$FERRETDB_BIN.tmp" .) \
    >"$LOG_DIR/ferretdb-provision.log" 2>&1 || die "building FerretDB failed, see $LOG_DIR/ferretdb-provision.log"
  mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
}

ferretdb_healthy() { port_open "$FERRETDB_PORT" && grep -q "ferretdb listening" "$LOG_DIR/ferretdb.log"; }

ferretdb_start() {
  postgres_healthy || die "FerretDB stores its data in PostgreSQL: start postgres first"
  postgres_ensure_database "$FERRETDB_DATABASE"
  # FerretDB makes a PostgreSQL transaction of each document write; waiting for the WAL flush
  # of each made the stand-in disk-bound. Locally a crash may lose the last writes' durability,
  # not their order or atomicity (MongoDB's own default acknowledges before its journal sync too).
  "$(pg_bindir)/psql" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U parley -d postgres \
    -c "alter database $FERRETDB_DATABASE set synchronous_commit = off" >/dev/null
  # Lookups by _id served by an index (see the file).
  PGOPTIONS="-c client_min_messages=warning" "$(pg_bindir)/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$POSTGRES_PORT" -U parley \
    -d "$FERRETDB_DATABASE" -f "$LOCAL_DIR/ferretdb/id-index.sql" >/dev/null
  ensure_port_free ferretdb "$FERRETDB_PORT"
  # FerretDB's default pool (50 connections) can deadlock: a collection creation holds its
  # metadata lock while waiting for a connection that queries waiting on that lock hold. With
  # more connections than all clients' MongoDB pools together (20 each by default) it cannot.
  spawn ferretdb "$FERRETDB_BIN" -listen "127.0.0.1:$FERRETDB_PORT" \
    -postgresql-url "postgres://parley@127.0.0.1:$POSTGRES_PORT/$FERRETDB_DATABASE?pool_max_conns=150"
  wait_healthy ferretdb ferretdb_healthy 60
}

ferretdb_stop() { stop_pid ferretdb 15; }
ferretdb_url() { echo "mongodb://127.0.0.1:$FERRETDB_PORT/parley"; }
