# Shared helpers for the local stack scripts. Sourced, never run.
# shellcheck shell=bash

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$LOCAL_DIR/../.." && pwd)"
# shellcheck source=../stack.env
source "$LOCAL_DIR/stack.env"

DATA_DIR="${PARLEY_DATA_DIR:-$REPO_DIR/.data}"
RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
CACHE_DIR="${PARLEY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/parley}"
mkdir -p "$RUN_DIR" "$LOG_DIR" "$CACHE_DIR"

say() { printf '\033[1m[stack]\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[33m[stack]\033[0m %s\n' "$*" >&2; }
die() {
  printf '\033[31m[stack] error:\033[0m %s\n' "$*" >&2
  exit 1
}

is_root() { [ "$(id -u)" = 0 ]; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if is_root; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (install it yourself, or install sudo)"
  fi
}

APT_UPDATED=""
# Installs Debian packages that provide a missing command. Used only when the command is absent.
apt_install() {
  command -v apt-get >/dev/null || die "cannot install $* here: no apt-get. Install it and re-run."
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 ||
      die "apt-get update failed, see $LOG_DIR/apt.log"
    APT_UPDATED=1
  fi
  say "installing Debian packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >>"$LOG_DIR/apt.log" 2>&1 || die "apt-get install $* failed, see $LOG_DIR/apt.log"
}

pid_file() { echo "$RUN_DIR/$1.pid"; }

pid_alive() {
  local f
  f="$(pid_file "$1")"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Fails with a clear message when a port we need is held by a process we did not start.
ensure_port_free() {
  local name="$1" port="$2"
  if port_open "$port"; then
    die "port $port (for $name) is taken by another process. Free it, or change ${name^^}_PORT in infra/local/stack.env"
  fi
}

# Starts a long-running process in its own session, detached from this terminal, logging to a file.
spawn() {
  local name="$1"
  shift
  local log="$LOG_DIR/$name.log"
  : >"$log"
  setsid nohup "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$(pid_file "$name")"
}

# Waits until "$check" succeeds, or the process dies, or the timeout passes.
wait_healthy() {
  local name="$1" check="$2" timeout="${3:-60}" start
  start=$(date +%s)
  while ! "$check" 2>/dev/null; do
    if [ -f "$(pid_file "$name")" ] && ! pid_alive "$name"; then
      tail -n 30 "$LOG_DIR/$name.log" >&2 || true
      die "$name exited during start-up; last lines of $LOG_DIR/$name.log above"
    fi
    if (($(date +%s) - start > timeout)); then
      tail -n 30 "$LOG_DIR/$name.log" >&2 || true
      die "$name not healthy after ${timeout}s; last lines of $LOG_DIR/$name.log above"
    fi
    sleep 0.5
  done
}

# Sends TERM, waits, then KILL; removes the pid file.
stop_pid() {
  local name="$1" grace="${2:-30}" pid i
  pid_alive "$name" || {
    rm -f "$(pid_file "$name")"
    return 0
  }
  pid="$(cat "$(pid_file "$name")")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  rm -f "$(pid_file "$name")"
}

java_bin() {
  local candidate
  for candidate in "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/java-17-openjdk-amd64/bin/java \
    /usr/lib/jvm/java-17-openjdk-arm64/bin/java "$(command -v java || true)"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    local major
    major="$("$candidate" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}')"
    if [ "${major%%.*}" -ge 17 ] 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_java() {
  java_bin >/dev/null || apt_install openjdk-17-jre-headless
  java_bin >/dev/null || die "Java 17 or later not found (set JAVA_HOME)"
}

ensure_maven() {
  command -v mvn >/dev/null || apt_install maven
}

# Maven with its local repository under the cache, so a second run downloads nothing.
mvn_cached() {
  mvn -B -q -Dmaven.repo.local="$CACHE_DIR/m2" "$@"
}
