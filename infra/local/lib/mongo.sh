# The local MongoDB-wire server: SecantusDB, a single-node server on WiredTiger that speaks the
# MongoDB wire protocol (wire version 27) with transactions and change streams (ADR 0029).
# Its Rust server is built once with cargo from crates.io (about 8 minutes on 2 cores) and cached;
# where no Rust toolchain can be had (rustup missing), its Python server from PyPI is installed
# instead (seconds; same protocol, a quarter of the write rate). Production uses MongoDB itself,
# as the docker-compose file does.
# shellcheck shell=bash

SECANTUS_RUST_BIN="$CACHE_DIR/secantus-$SECANTUS_VERSION/bin/secantusd-rs"
SECANTUS_PY_VENV="$CACHE_DIR/secantus-py-$SECANTUS_PY_VERSION"
MONGO_DATA="$DATA_DIR/mongo"

rustup_bin() { command -v rustup 2>/dev/null || { [ -x "$HOME/.cargo/bin/rustup" ] && echo "$HOME/.cargo/bin/rustup"; }; }

# The server binary in the cache (the Rust one first), or nothing.
mongo_server() {
  if [ -x "$SECANTUS_RUST_BIN" ]; then echo "$SECANTUS_RUST_BIN"
  elif [ -x "$SECANTUS_PY_VENV/bin/secantusd-py" ]; then echo "$SECANTUS_PY_VENV/bin/secantusd-py"
  fi
}

secantus_build_rust() {
  local rustup
  rustup="$(rustup_bin)"
  command -v cmake >/dev/null && command -v cc >/dev/null || apt_install cmake build-essential
  say "building SecantusDB $SECANTUS_VERSION (MongoDB-wire server) with Rust $SECANTUS_RUST (cached in $SECANTUS_RUST_BIN; about 8 minutes once)"
  "$rustup" toolchain install "$SECANTUS_RUST" --profile minimal >"$LOG_DIR/mongo-provision.log" 2>&1 ||
    die "installing Rust $SECANTUS_RUST with rustup failed, see $LOG_DIR/mongo-provision.log"
  local target="$CACHE_DIR/secantus-build" root="$CACHE_DIR/secantus-$SECANTUS_VERSION.tmp"
  rm -rf "$root"
  CARGO_TARGET_DIR="$target" "$rustup" run "$SECANTUS_RUST" cargo install secantus-mdb \
    --version "$SECANTUS_VERSION" --root "$root" >>"$LOG_DIR/mongo-provision.log" 2>&1 ||
    die "building SecantusDB failed, see $LOG_DIR/mongo-provision.log"
  rm -rf "$CACHE_DIR/secantus-$SECANTUS_VERSION" "$target"
  mv "$root" "$CACHE_DIR/secantus-$SECANTUS_VERSION"
}

secantus_install_python() {
  command -v python3 >/dev/null || apt_install python3 python3-venv
  warn "no rustup here: installing SecantusDB's Python server $SECANTUS_PY_VERSION instead (cached in $SECANTUS_PY_VENV)"
  # Made in place (a venv's scripts name its path); removed again if the install fails.
  rm -rf "$SECANTUS_PY_VENV"
  if ! { python3 -m venv "$SECANTUS_PY_VENV" &&
    "$SECANTUS_PY_VENV/bin/pip" install --quiet "SecantusDB==$SECANTUS_PY_VERSION"; } \
    >"$LOG_DIR/mongo-provision.log" 2>&1; then
    rm -rf "$SECANTUS_PY_VENV"
    die "installing SecantusDB failed, see $LOG_DIR/mongo-provision.log"
  fi
}

mongo_provision() {
  [ -n "$(mongo_server)" ] && return 0
  if [ -n "$(rustup_bin)" ]; then secantus_build_rust; else secantus_install_python; fi
}

mongo_healthy() { port_open "$MONGO_PORT"; }

mongo_start() {
  mkdir -p "$MONGO_DATA"
  ensure_port_free mongo "$MONGO_PORT"
  local server
  server="$(mongo_server)"
  local flags=(--host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$MONGO_DATA" --log-level WARNING)
  # The Rust server preallocates three write-ahead log files; 16 MB each is plenty here.
  [ "$server" = "$SECANTUS_RUST_BIN" ] && flags+=(--log-file-max 16MB)
  spawn mongo "$server" "${flags[@]}"
  wait_healthy mongo mongo_healthy 60
}

mongo_stop() { stop_pid mongo 15; }
# Writes acknowledged once in the journal: a crash of the server loses no acknowledged write,
# as with MongoDB's majority write concern in production.
mongo_url() { echo "mongodb://127.0.0.1:$MONGO_PORT/parley?journal=true"; }
