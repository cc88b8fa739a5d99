# Apicurio Registry 2.6 (Confluent-compatible API under /apis/ccompat/v7), on Java 17,
# storing its schemas in an H2 file database under the data folder. See docs/adr/0002.
# shellcheck shell=bash

REGISTRY_HOME="$CACHE_DIR/apicurio-registry-$APICURIO_VERSION"
REGISTRY_DATA="$DATA_DIR/registry"

registry_provision() {
  ensure_java
  [ -f "$REGISTRY_HOME/.complete" ] && return 0
  ensure_maven
  say "resolving Apicurio Registry $APICURIO_VERSION with Maven (cached in $REGISTRY_HOME)"
  rm -rf "$REGISTRY_HOME"
  mkdir -p "$REGISTRY_HOME"
  mvn_cached dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
    -DoutputDirectory="$REGISTRY_HOME" >"$LOG_DIR/registry-provision.log" 2>&1 ||
    die "Maven could not resolve Apicurio Registry, see $LOG_DIR/registry-provision.log"
  tar -xzf "$REGISTRY_HOME"/apicurio-registry-app-*-all.tar.gz -C "$REGISTRY_HOME"
  rm -f "$REGISTRY_HOME"/apicurio-registry-app-*-all.tar.gz
  touch "$REGISTRY_HOME/.complete"
}

registry_url() { echo "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"; }

registry_healthy() {
  curl -sf -o /dev/null "http://127.0.0.1:$REGISTRY_PORT/health/ready" &&
    curl -sf -o /dev/null "$(registry_url)/subjects"
}

registry_start() {
  mkdir -p "$REGISTRY_DATA"
  ensure_port_free registry "$REGISTRY_PORT"
  REGISTRY_DATASOURCE_URL="jdbc:h2:file:$REGISTRY_DATA/registry" \
    spawn registry "$(java_bin)" -Xms64m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.log.level=WARN -Dquarkus.log.category.\"io.quarkus\".level=INFO \
    -jar "$REGISTRY_HOME"/apicurio-registry-app-*-runner.jar
  wait_healthy registry registry_healthy 120
}

registry_stop() { stop_pid registry 30; }
