#!/usr/bin/env bash
# npm start: install what is missing, bring up the local stack, create topics, start every service
# (in the background, logs under .data/logs), print the URLs. Safe to run again: what runs is kept,
# services are restarted with the current code.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_node_modules
ensure_dev_keys
step "local stack"
bash infra/local/stack.sh up
bootstrap_topics
step "services"
for name in "${APP_SERVICES[@]}"; do
  start_app "$name"
  say "$name live"
done

printf '\n\033[1mParley is running.\033[0m\n'
for name in "${APP_SERVICES[@]}"; do
  url="http://127.0.0.1:${APP_PORTS[$name]}"
  ready="$(curl -s -o /dev/null -w '%{http_code}' "$url/health/ready" || true)"
  printf '  %-12s %s   (ready: %s, metrics: %s/metrics)\n' "$name" "$url" "$([ "$ready" = 200 ] && echo yes || echo "no, see $url/health/ready")" "$url"
done
printf '\n  stack:\n'
bash infra/local/stack.sh status | sed 's/^/    /'
printf '\n  logs: npm run stack:logs [-- <service>] or .data/logs/   stop: npm stop\n'
