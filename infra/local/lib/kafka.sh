# Apache Kafka, single KRaft node, from Maven Central jars on Java 17.
# shellcheck shell=bash

KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_DATA="$DATA_DIR/kafka"

kafka_provision() {
  ensure_java
  [ -f "$KAFKA_HOME/.complete" ] && return 0
  ensure_maven
  say "resolving Kafka $KAFKA_VERSION and its dependencies with Maven (cached in $KAFKA_HOME)"
  rm -rf "$KAFKA_HOME"
  mvn_cached -f "$LOCAL_DIR/kafka/pom.xml" dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" -Dslf4j.version="$SLF4J_VERSION" \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/libs" >"$LOG_DIR/kafka-provision.log" 2>&1 ||
    die "Maven could not resolve Kafka, see $LOG_DIR/kafka-provision.log"
  touch "$KAFKA_HOME/.complete"
}

# The JVM command line for Kafka's main classes (broker and storage tool alike), as an array so
# paths with spaces survive.
kafka_java_command() {
  KAFKA_JAVA=("$(java_bin)" -Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$LOCAL_DIR/kafka/log4j2.yaml"
    -cp "$KAFKA_HOME/libs/*")
}

kafka_java() {
  kafka_java_command
  "${KAFKA_JAVA[@]}" "$@"
}

kafka_config() {
  local conf="$DATA_DIR/kafka-server.properties"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$KAFKA_DATA|g" "$LOCAL_DIR/kafka/server.properties.template" >"$conf"
  echo "$conf"
}

kafka_healthy() {
  port_open "$KAFKA_PORT" && grep -q "Kafka Server started\|BrokerServer.*Transition from STARTING to STARTED" "$LOG_DIR/kafka.log"
}

kafka_start() {
  local conf
  conf="$(kafka_config)"
  if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
    say "formatting Kafka storage in $KAFKA_DATA"
    mkdir -p "$KAFKA_DATA"
    local cluster_id
    cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    kafka_java kafka.tools.StorageTool format --config "$conf" --cluster-id "$cluster_id" --standalone \
      >"$LOG_DIR/kafka-format.log" 2>&1 || die "formatting Kafka storage failed, see $LOG_DIR/kafka-format.log"
  fi
  ensure_port_free kafka "$KAFKA_PORT"
  ensure_port_free kafka_controller "$KAFKA_CONTROLLER_PORT"
  kafka_java_command
  spawn kafka "${KAFKA_JAVA[@]}" kafka.Kafka "$conf"
  wait_healthy kafka kafka_healthy 120
}

kafka_stop() { stop_pid kafka 60; }
kafka_url() { echo "127.0.0.1:$KAFKA_PORT"; }
