#!/usr/bin/env bash
# kafka-kit.sh - a real Apache Kafka 3.3.2 broker (KRaft: one node that is broker and controller,
# no ZooKeeper) on 127.0.0.1, for the tests. Trimmed from ../shared/testenv/kafka-kit.sh to the
# version the project uses, with every file of a run below its own folder, so that parallel tests
# never collide.
#
# usage: kafka-kit.sh unpack DIST.tgz     the compiled dist (kafka-3.3.2-built.tgz) -> $KIT_HOME/kafka-3.3.2
#        kafka-kit.sh start               format the KRaft log and start the broker; returns when it is up
#        kafka-kit.sh kill-broker         SIGKILL the broker (a crash), by its pid
#        kafka-kit.sh start-broker        start it again on the same data (after kill-broker)
#        kafka-kit.sh stop                stop the broker (SIGTERM, then SIGKILL after 30 s)
# env:   KIT_HOME      where `unpack` puts kafka-3.3.2/ (default ~/.cache/camus2kafka/kafka)
#        KAFKA_DIST    the unpacked dist (default $KIT_HOME/kafka-3.3.2)
#        KIT_RUN       this broker's folder: server.properties, data/, logs/, kafka.pid, kafka.out
#                      (default $KIT_HOME/run-$KAFKA_PORT)
#        KAFKA_PORT    the PLAINTEXT listener (default 9092)
#        CONTROLLER_PORT  the KRaft controller listener (default KAFKA_PORT+1)
#        WATCH_PID     if set, the broker is killed as soon as this process is gone (a test
#                      process that dies without cleaning up never leaves a JVM behind)
set -euo pipefail
H=${KIT_HOME:-$HOME/.cache/camus2kafka/kafka}
D=${KAFKA_DIST:-$H/kafka-3.3.2}
KAFKA_PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
R=${KIT_RUN:-$H/run-$KAFKA_PORT}
cmd=${1:?usage: kafka-kit.sh unpack TGZ | start | kill-broker | start-broker | stop}

cp_of() { ls "$D/libs"/*.jar | grep -vE -- '-(javadoc|scaladoc|sources|test)\.jar$' | tr '\n' ':'; }
wait_port() { for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; return 1; }

case $cmd in
unpack)
  mkdir -p "$H" && tar xzf "${2:?tgz}" -C "$H" ;;
start)
  [ -d "$D/libs" ] || { echo "no Kafka dist in $D (kafka-kit.sh unpack kafka-3.3.2-built.tgz)" >&2; exit 3; }
  mkdir -p "$R/logs"; CP=$(cp_of)
  cat > "$R/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$R/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=2000
auto.create.topics.enable=true
EOF
  echo "$CP" > "$R/cp"
  L4=$D/config/tools-log4j.properties
  if [ ! -f "$R/data/meta.properties" ]; then
    id=$(java -cp "$CP" -Dlog4j.configuration="file:$L4" kafka.tools.StorageTool random-uuid | tail -1)
    java -cp "$CP" -Dlog4j.configuration="file:$L4" kafka.tools.StorageTool format \
      -t "$id" -c "$R/server.properties" >/dev/null
  fi
  exec "$0" start-broker ;;
start-broker)
  [ -f "$R/cp" ] || { echo "no broker in $R (kafka-kit.sh start first)" >&2; exit 3; }
  for try in 1 2 3; do
    : > "$R/kafka.out"; rm -f "$R/logs/server.log"
    nohup java -Xmx512m -XX:+UseG1GC -XX:-UsePerfData -Djava.awt.headless=true -cp "$(cat "$R/cp")" \
      -Dlog4j.configuration="file:$D/config/log4j.properties" -Dkafka.logs.dir="$R/logs" \
      kafka.Kafka "$R/server.properties" < /dev/null > "$R/kafka.out" 2>&1 &
    pid=$!; echo $pid > "$R/kafka.pid"
    if [ -n "${WATCH_PID:-}" ]; then
      ( while kill -0 "$WATCH_PID" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
        kill -9 "$pid" 2>/dev/null ) < /dev/null > /dev/null 2>&1 &
    fi
    for _ in $(seq 1 600); do
      grep -qE "started \(kafka.server.KafkaRaftServer\)" "$R/logs/server.log" 2>/dev/null && { wait_port "$KAFKA_PORT"; exit 0; }
      kill -0 $pid 2>/dev/null || break; sleep 0.1
    done
    kill -9 $pid 2>/dev/null || true
    echo "broker start try $try failed: $(grep -m1 ERROR "$R/logs/server.log" 2>/dev/null | cut -c1-300)" >&2
    tail -n 5 "$R/kafka.out" >&2; sleep 1
  done; exit 1 ;;
kill-broker)
  pid=$(cat "$R/kafka.pid"); kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  [ ! -f "$R/logs/server.log" ] || mv "$R/logs/server.log" "$R/logs/server.log.$(date +%s%N)" ;;
stop)
  [ -f "$R/kafka.pid" ] || exit 0
  pid=$(cat "$R/kafka.pid"); kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$R/kafka.pid" ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
