#!/usr/bin/env bash
# npm test: the same set-up as npm start (dependencies, local stack, topics), then lint, typecheck,
# the production build, unit and integration tests against the real stack. A stack this script
# started is stopped at the end (set PARLEY_KEEP_STACK=1 to keep it); one that was already running is left alone.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_node_modules
ensure_python_tools
ensure_promtool
ensure_delivery_tools
ensure_chromium
ensure_dev_keys

started_stack=""
if ! bash infra/local/stack.sh status >/dev/null 2>&1; then started_stack=1; fi
cleanup() {
  if [ -n "$started_stack" ] && [ -z "${PARLEY_KEEP_STACK:-}" ]; then
    bash infra/local/stack.sh down >"$LOG_DIR/stack-down.log" 2>&1 || true
  fi
}
trap cleanup EXIT

step "local stack"
bash infra/local/stack.sh up
step "schema compatibility gate (offline, against git history)"
run_node schemas/src/compat/cli.ts --offline
bootstrap_topics

step "lint"
npx --no-install biome check .
step "typecheck"
npx --no-install tsc -p tsconfig.json
step "production build (each workspace's dist, as deployed)"
npx --no-install tsc -b platform/tsconfig.build.json schemas/tsconfig.build.json \
  command-api/tsconfig.build.json projectors/tsconfig.build.json query-api/tsconfig.build.json \
  assistant/tsconfig.build.json replay/tsconfig.build.json
step "unit and integration tests"
node scripts/run-tests.mjs all
