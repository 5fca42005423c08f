#!/usr/bin/env bash
# kafka-kit.sh - a real Apache Kafka broker on 127.0.0.1, for the tests: 3.3.2 in KRaft mode (one
# node that is broker and controller, no ZooKeeper), 2.1.1 in ZooKeeper mode (with the ZooKeeper
# 3.8 its dist carries), or 0.8.2.2 (the Kafka Camus fed) with the ZooKeeper 3.4.6 of its own dist.
# Trimmed from ../shared/testenv/kafka-kit.sh to the versions the project uses, with every file of
# a run below its own folder, so that parallel tests never collide.
#
# usage: kafka-kit.sh unpack DIST.tgz     a compiled dist (kafka-X-built.tgz) -> $KIT_HOME/kafka-X
#        kafka-kit.sh start               start the broker (3.3.2: format the KRaft log first;
#                                         2.1.1, 0.8.2.2: start its ZooKeeper first); returns when
#                                         it is up
#        kafka-kit.sh kill-broker         SIGKILL the broker (a crash), by its pid
#        kafka-kit.sh start-broker        start it again on the same data (after kill-broker)
#        kafka-kit.sh topic NAME PARTITIONS   0.8.2.2: create a topic through ZooKeeper
#        kafka-kit.sh scram-user NAME PASSWORD   2.1.1: give user NAME SCRAM-SHA-256 and
#                                         SCRAM-SHA-512 credentials (through ZooKeeper)
#        kafka-kit.sh stop                stop the broker (SIGTERM, then SIGKILL after 30 s), then
#                                         its ZooKeeper if it has one
# env:   KAFKA_VERSION 3.3.2 (default), 2.1.1 or 0.8.2.2
#        KIT_HOME      where `unpack` puts kafka-X/ (default ~/.cache/camus2kafka/kafka)
#        KAFKA_DIST    the unpacked dist (default $KIT_HOME/kafka-$KAFKA_VERSION)
#        KIT_RUN       this broker's folder: server.properties, data/, logs/, kafka.pid, kafka.out,
#                      and with a ZooKeeper zk.properties, zk/, zk.pid, zk.out
#                      (default $KIT_HOME/run-$KAFKA_PORT)
#        KAFKA_PORT    the PLAINTEXT listener (default 9092)
#        CONTROLLER_PORT  3.3.2: the KRaft controller listener (default KAFKA_PORT+1)
#        ZK_PORT       2.1.1, 0.8.2.2: its ZooKeeper's client port (default KAFKA_PORT+1)
#        ZK_CHROOT     0.8.2.2: the chroot the broker registers under, e.g. /kafka08 (default none)
#        EXTRA_LISTENERS     3.3.2, 2.1.1: more listeners, e.g. SSL://127.0.0.1:9094
#        EXTRA_ADVERTISED    how they are advertised (default EXTRA_LISTENERS), e.g.
#                            SASL_PLAINTEXT://localhost:9095 for Kerberos (kafka/localhost)
#        EXTRA_PROTOCOL_MAP  their security protocols, e.g. SSL:SSL
#        EXTRA_PROPS_FILE    broker properties appended to server.properties (TLS, SASL)
#        BROKER_JVM_OPTS     more JVM options for the broker (a JAAS file, krb5.conf)
#        WATCH_PID     if set, the broker (and its ZooKeeper) are killed as soon as this process is
#                      gone (a test process that dies without cleaning up never leaves a JVM behind)
set -euo pipefail
H=${KIT_HOME:-$HOME/.cache/camus2kafka/kafka}
V=${KAFKA_VERSION:-3.3.2}
D=${KAFKA_DIST:-$H/kafka-$V}
KAFKA_PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
ZK_PORT=${ZK_PORT:-$((KAFKA_PORT + 1))}
ZK_CHROOT=${ZK_CHROOT:-}
R=${KIT_RUN:-$H/run-$KAFKA_PORT}
EXTRA_LISTENERS=${EXTRA_LISTENERS:-}
EXTRA_ADVERTISED=${EXTRA_ADVERTISED:-$EXTRA_LISTENERS}
EXTRA_PROTOCOL_MAP=${EXTRA_PROTOCOL_MAP:-}
cmd=${1:?usage: kafka-kit.sh unpack TGZ | start | kill-broker | start-broker | topic NAME N | scram-user NAME PASSWORD | stop}
case $V in 3.3.2|2.1.1|0.8.2.2) ;; *) echo "KAFKA_VERSION $V: only 3.3.2, 2.1.1 and 0.8.2.2" >&2; exit 2 ;; esac

cp_of() { ls "$D/libs"/*.jar | grep -vE -- '-(javadoc|scaladoc|sources|test)\.jar$' | tr '\n' ':'; }
wait_port() { for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; return 1; }
# watch_pid PID: kill PID as soon as WATCH_PID is gone.
watch_pid() {
  [ -n "${WATCH_PID:-}" ] || return 0
  ( while kill -0 "$WATCH_PID" 2>/dev/null && kill -0 "$1" 2>/dev/null; do sleep 1; done
    kill -9 "$1" 2>/dev/null ) < /dev/null > /dev/null 2>&1 &
}
# stop_pid NAME: SIGTERM the process in $R/NAME.pid, SIGKILL after 30 s.
stop_pid() {
  [ -f "$R/$1.pid" ] || return 0
  local pid; pid=$(cat "$R/$1.pid"); kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$R/$1.pid"
}

case $cmd in
unpack)
  mkdir -p "$H" && tar xzf "${2:?tgz}" -C "$H" ;;
start)
  [ -d "$D/libs" ] || { echo "no Kafka dist in $D (kafka-kit.sh unpack kafka-$V-built.tgz)" >&2; exit 3; }
  mkdir -p "$R/logs"; CP=$(cp_of); echo "$CP" > "$R/cp"
  L4=$D/config/tools-log4j.properties
  if [ "$V" != 3.3.2 ]; then
    cat > "$R/zk.properties" <<EOF
dataDir=$R/zk
tickTime=500
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
EOF
    nohup java -Xmx128m -XX:-UsePerfData -cp "$CP" -Dlog4j.configuration="file:$L4" \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$R/zk.properties" < /dev/null > "$R/zk.out" 2>&1 &
    echo $! > "$R/zk.pid"; watch_pid "$(cat "$R/zk.pid")"; wait_port "$ZK_PORT"
  fi
  if [ "$V" = 2.1.1 ]; then
    cat > "$R/server.properties" <<EOF
broker.id=0
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT${EXTRA_LISTENERS:+,$EXTRA_LISTENERS}
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT${EXTRA_ADVERTISED:+,$EXTRA_ADVERTISED}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT${EXTRA_PROTOCOL_MAP:+,$EXTRA_PROTOCOL_MAP}
inter.broker.listener.name=PLAINTEXT
log.dirs=$R/data
zookeeper.connect=127.0.0.1:$ZK_PORT
zookeeper.session.timeout.ms=3000
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
auto.create.topics.enable=true
EOF
    [ -z "${EXTRA_PROPS_FILE:-}" ] || cat "$EXTRA_PROPS_FILE" >> "$R/server.properties"
    exec "$0" start-broker
  fi
  if [ "$V" = 0.8.2.2 ]; then
    cat > "$R/server.properties" <<EOF
broker.id=0
host.name=127.0.0.1
port=$KAFKA_PORT
advertised.host.name=127.0.0.1
log.dirs=$R/data
zookeeper.connect=127.0.0.1:$ZK_PORT$ZK_CHROOT
zookeeper.session.timeout.ms=3000
num.partitions=1
auto.create.topics.enable=true
EOF
    exec "$0" start-broker
  fi
  cat > "$R/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT${EXTRA_LISTENERS:+,$EXTRA_LISTENERS}
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT${EXTRA_ADVERTISED:+,$EXTRA_ADVERTISED}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${EXTRA_PROTOCOL_MAP:+,$EXTRA_PROTOCOL_MAP}
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
  [ -z "${EXTRA_PROPS_FILE:-}" ] || cat "$EXTRA_PROPS_FILE" >> "$R/server.properties"
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
    # shellcheck disable=SC2086 # BROKER_JVM_OPTS is a list of options
    nohup java -Xmx512m -XX:+UseG1GC -XX:-UsePerfData -Djava.awt.headless=true ${BROKER_JVM_OPTS:-} -cp "$(cat "$R/cp")" \
      -Dlog4j.configuration="file:$D/config/log4j.properties" -Dkafka.logs.dir="$R/logs" \
      kafka.Kafka "$R/server.properties" < /dev/null > "$R/kafka.out" 2>&1 &
    pid=$!; echo $pid > "$R/kafka.pid"; watch_pid "$pid"
    for _ in $(seq 1 600); do
      # 3.3.2 in KRaft mode logs KafkaRaftServer, 2.1.1 and 0.8.2.2 KafkaServer.
      grep -qE "started \(kafka.server.Kafka(Raft)?Server\)" "$R/logs/server.log" 2>/dev/null && { wait_port "$KAFKA_PORT"; exit 0; }
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
topic)
  [ "$V" = 0.8.2.2 ] || { echo "topic: only for 0.8.2.2 (3.3.2 takes CreateTopics)" >&2; exit 2; }
  java -Xmx128m -cp "$(cat "$R/cp")" -Dlog4j.configuration="file:$D/config/tools-log4j.properties" \
    kafka.admin.TopicCommand --zookeeper "127.0.0.1:$ZK_PORT$ZK_CHROOT" --create --topic "${2:?NAME}" \
    --partitions "${3:?PARTITIONS}" --replication-factor 1 ;;
scram-user)
  [ "$V" = 2.1.1 ] || { echo "scram-user: only for 2.1.1 (KRaft has SCRAM from 3.5)" >&2; exit 2; }
  java -Xmx128m -cp "$(cat "$R/cp")" -Dlog4j.configuration="file:$D/config/tools-log4j.properties" \
    kafka.admin.ConfigCommand --zookeeper "127.0.0.1:$ZK_PORT" --alter --entity-type users \
    --entity-name "${2:?NAME}" \
    --add-config "SCRAM-SHA-256=[iterations=4096,password=${3:?PASSWORD}],SCRAM-SHA-512=[password=$3]" ;;
stop)  # the broker first: a broker whose ZooKeeper is gone hangs in its shutdown
  stop_pid kafka; stop_pid zk ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
