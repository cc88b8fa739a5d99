#!/usr/bin/env bash
# npm stop: stop the services and the local stack. Data under .data/ is kept.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stop_apps
bash infra/local/stack.sh down
