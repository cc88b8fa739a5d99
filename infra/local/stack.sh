#!/usr/bin/env bash
# The local stack without Docker: Kafka (KRaft), Apicurio Registry, PostgreSQL, Redis, a MongoDB-wire server
# (SecantusDB).
# Everything binds to 127.0.0.1; data lives under .data/ (gitignored); downloads and builds are
# cached under ~/.cache/parley, so a second `up` starts in seconds.
#
#   stack.sh up [service...]       provision what is missing, start, wait until healthy (idempotent)
#   stack.sh down [service...]     stop (data is kept)
#   stack.sh restart [service...]
#   stack.sh status                one line per service, exit 1 if any is down
#   stack.sh logs [service]        follow a service's log (all logs without a name)
#   stack.sh env                   print the stack's addresses as environment variables
#   stack.sh reset                 stop everything and delete .data/ (asks first on a terminal)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
for module in kafka registry postgres redis mongo; do
  # shellcheck source=/dev/null
  source "$LOCAL_DIR/lib/$module.sh"
done

# Started one after another in this order, so the output stays readable and a failure points at
# one service.
SERVICES=(kafka registry postgres redis mongo)

selected() {
  if (($# == 0)); then printf '%s\n' "${SERVICES[@]}"; else
    local s
    for s in "$@"; do
      [[ " ${SERVICES[*]} " == *" $s "* ]] || die "unknown service '$s' (one of: ${SERVICES[*]})"
      echo "$s"
    done
  fi
}

up_one() {
  local s="$1"
  "${s}_provision"
  if pid_alive "$s" && "${s}_healthy"; then
    say "$s already running ($("${s}_url"))"
    return 0
  fi
  pid_alive "$s" && stop_pid "$s" # running but unhealthy: restart it
  say "starting $s"
  local t0=$SECONDS
  "${s}_start"
  say "$s healthy in $((SECONDS - t0))s ($("${s}_url"))"
}

cmd_up() {
  local s
  for s in $(selected "$@"); do up_one "$s"; done
}

cmd_down() {
  local s list
  list="$(selected "$@" | tac)"
  for s in $list; do
    if pid_alive "$s"; then
      say "stopping $s"
      "${s}_stop"
    fi
  done
}

cmd_status() {
  local s bad=0
  for s in "${SERVICES[@]}"; do
    if pid_alive "$s" && "${s}_healthy" 2>/dev/null; then
      printf '%-9s up      %s\n' "$s" "$("${s}_url")"
    elif pid_alive "$s"; then
      printf '%-9s STARTING/UNHEALTHY (pid %s)\n' "$s" "$(cat "$(pid_file "$s")")"
      bad=1
    else
      printf '%-9s down\n' "$s"
      bad=1
    fi
  done
  return $bad
}

cmd_logs() {
  if (($# == 0)); then tail -n 20 -F "$LOG_DIR"/*.log; else
    selected "$1" >/dev/null
    tail -n 50 -F "$LOG_DIR/$1.log"
  fi
}

cmd_env() {
  cat <<EOF
KAFKA_BROKERS=$(kafka_url)
SCHEMA_REGISTRY_URL=$(registry_url)
POSTGRES_URL=$(postgres_url)
REDIS_URL=$(redis_url)
MONGO_URL=$(mongo_url)
EOF
}

cmd_reset() {
  if [ -t 0 ]; then
    read -r -p "Delete all local data in $DATA_DIR? [y/N] " answer
    [[ "$answer" == [yY]* ]] || exit 1
  fi
  cmd_down
  postgres_reset
  rm -rf "$DATA_DIR"
  say "deleted $DATA_DIR"
}

command="${1:-status}"
shift || true
case "$command" in
up) cmd_up "$@" ;;
down) cmd_down "$@" ;;
restart)
  cmd_down "$@"
  cmd_up "$@"
  ;;
status) cmd_status ;;
logs) cmd_logs "$@" ;;
env) cmd_env ;;
reset) cmd_reset ;;
*) die "unknown command '$command' (up, down, restart, status, logs, env, reset)" ;;
esac
