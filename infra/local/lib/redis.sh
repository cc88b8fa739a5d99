# Redis from Debian's redis-server package.
# shellcheck shell=bash

REDIS_DATA="$DATA_DIR/redis"

redis_provision() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
}

redis_healthy() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

redis_start() {
  mkdir -p "$REDIS_DATA"
  ensure_port_free redis "$REDIS_PORT"
  spawn redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DATA" \
    --appendonly yes --appendfsync everysec --save "" --protected-mode yes --daemonize no
  wait_healthy redis redis_healthy 30
}

redis_stop() { stop_pid redis 15; }
redis_url() { echo "redis://127.0.0.1:$REDIS_PORT"; }
