#!/usr/bin/env bash
# kafka-cluster.sh - a real three-node Apache Kafka 3.3.2 cluster on 127.0.0.1, for the tests that
# need replication: leader failover, acks=all with min.insync.replicas, a node that crashes and
# comes back. KRaft mode, no ZooKeeper: every node is broker and controller (the three form the
# controller quorum). Every file of a run is below its own folder, so parallel tests never
# collide; kafka-kit.sh runs the single-node brokers.
#
# usage: kafka-cluster.sh start           format the three nodes' storage with one cluster id and
#                                         start them; returns when the cluster serves: a probe
#                                         topic (c2k-probe) with replication factor 3 exists and
#                                         all three nodes are in its ISR
#        kafka-cluster.sh kill-node N     SIGKILL node N (1..3), by its pid: a crash
#        kafka-cluster.sh start-node N    start node N again on its data (after kill-node);
#                                         returns when it serves and every partition of the
#                                         cluster has its full ISR again (N rejoined)
#        kafka-cluster.sh leader TOPIC PARTITION   print the node id that leads the partition
#                                         (waits up to 30 s while it has none)
#        kafka-cluster.sh stop            stop the three (SIGTERM, SIGKILL after STOP_SECS)
# env:   KIT_HOME      the folder holding kafka-3.3.2/ (default ~/.cache/camus2kafka/kafka)
#        KAFKA_DIST    the unpacked dist (default $KIT_HOME/kafka-3.3.2; kafka-kit.sh unpack)
#        KIT_RUN       this cluster's folder: cp, cluster.id, log4j.properties and node-N/ with
#                      server.properties, data/, logs/server.log, kafka.pid, kafka.out
#                      (default $KIT_HOME/cluster-P1)
#        PORTS         the three PLAINTEXT listeners, P1,P2,P3 (default 9092,9093,9094)
#        CONTROLLER_PORTS  the three KRaft controller listeners (default 9095,9096,9097)
#        EXTRA_PROPS_FILE  broker properties appended to every node's server.properties
#        BROKER_JVM_OPTS   more JVM options for every node
#        START_SECS    how long start and start-node may wait for the cluster (default 150)
#        STOP_SECS     how long stop waits after SIGTERM before SIGKILL (default 10: a clean stop
#                      takes 6-8 s, the last controller waiting 5 s for a quorum that is gone)
#        WATCH_PID     if set, the nodes are killed as soon as this process is gone (a test
#                      process that dies without cleaning up never leaves a JVM behind), and a
#                      command still waiting gives up
# Every tool run (StorageTool, TopicCommand) is bounded by `timeout`, every wait by a deadline.
set -euo pipefail
H=${KIT_HOME:-$HOME/.cache/camus2kafka/kafka}
D=${KAFKA_DIST:-$H/kafka-3.3.2}
IFS=, read -r -a P <<< "${PORTS:-9092,9093,9094}"
IFS=, read -r -a C <<< "${CONTROLLER_PORTS:-9095,9096,9097}"
[ ${#P[@]} = 3 ] && [ ${#C[@]} = 3 ] || { echo "PORTS and CONTROLLER_PORTS: three ports each, comma-separated" >&2; exit 2; }
R=${KIT_RUN:-$H/cluster-${P[0]}}
START_SECS=${START_SECS:-150}
STOP_SECS=${STOP_SECS:-10}
PROBE=c2k-probe
BOOTSTRAP=127.0.0.1:${P[0]},127.0.0.1:${P[1]},127.0.0.1:${P[2]}
cmd=${1:?usage: kafka-cluster.sh start | kill-node N | start-node N | leader TOPIC PARTITION | stop}

cp_of() { ls "$D/libs"/*.jar | grep -vE -- '-(javadoc|scaladoc|sources|test)\.jar$' | tr '\n' ':'; }
node_arg() { case ${1:-} in 1|2|3) echo "$1" ;; *) echo "node: 1, 2 or 3, not '${1:-}'" >&2; exit 2 ;; esac; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# is_ours PID N: PID is node N's JVM (not a process that got the pid of a dead one).
is_ours() {
  local c; c=$(tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline") || return 1
  [[ $c == *" kafka.Kafka $R/node-$2/server.properties "* ]]
}
pid_of() { cat "$R/node-$1/kafka.pid" 2>/dev/null || true; }
alive() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && is_ours "$pid" "$1"; }
# tool SECONDS CLASS ARGS...: one of the dist's tools, as bin/kafka-run-class.sh would run it, on
# a JVM tuned to start fast (the machines running the tests are small).
tool() {
  local secs=$1; shift
  timeout --kill-after=5 "$secs" java -Xmx256m -XX:-UsePerfData -XX:TieredStopAtLevel=1 \
    -XX:+UseSerialGC -cp "$(cat "$R/cp")" -Dlog4j.configuration="file:$D/config/tools-log4j.properties" \
    "$@" < /dev/null
}
# describe [TOPIC]: TopicCommand --describe of TOPIC (of every topic without one).
describe() { tool 30 kafka.admin.TopicCommand --bootstrap-server "$BOOTSTRAP" --describe ${1:+--topic "$1"}; }
# replicated: every partition of the cluster has a leader and all its replicas in its ISR, and
# the probe topic exists (so all three nodes are in an ISR).
replicated() {
  local out; out=$(describe 2>/dev/null) || return 1
  awk -v probe="$PROBE" '
    /Partition: / {
      t = ""; l = ""; r = ""; s = ""
      for (i = 1; i < NF; i++) {
        if ($i == "Topic:") t = $(i + 1); if ($i == "Leader:") l = $(i + 1)
        if ($i == "Replicas:") r = $(i + 1); if ($i == "Isr:") s = $(i + 1)
      }
      if (t == probe) seen = 1
      if (l !~ /^[0-9]+$/ || split(r, a, ",") != split(s, b, ",")) bad++
    }
    END { exit !(seen && !bad) }' <<< "$out"
}
# watch_pid PID N: kill node N's JVM PID as soon as WATCH_PID is gone.
watch_pid() {
  [ -n "${WATCH_PID:-}" ] || return 0
  ( while kill -0 "$WATCH_PID" 2>/dev/null && kill -0 "$1" 2>/dev/null; do sleep 1; done
    ! is_ours "$1" "$2" || kill -9 "$1" 2>/dev/null ) < /dev/null > /dev/null 2>&1 &
}
# launch N: start node N's JVM in the background (its previous server.log moved aside).
launch() {
  local n=$1 N=$R/node-$1
  mkdir -p "$N/logs"
  [ ! -f "$N/logs/server.log" ] || mv "$N/logs/server.log" "$N/logs/server.log.$(date +%s%N)"
  # shellcheck disable=SC2086 # BROKER_JVM_OPTS is a list of options
  nohup java -Xmx384m -XX:+UseG1GC -XX:-UsePerfData -Djava.awt.headless=true ${BROKER_JVM_OPTS:-} \
    -cp "$(cat "$R/cp")" -Dlog4j.configuration="file:$R/log4j.properties" -Dkafka.logs.dir="$N/logs" \
    kafka.Kafka "$N/server.properties" < /dev/null > "$N/kafka.out" 2>&1 &
  echo $! > "$N/kafka.pid"; watch_pid $! "$n"
}
# up N: node N says it started (it has joined the quorum and registered) and its port answers.
up() { grep -q "started (kafka.server.KafkaRaftServer)" "$R/node-$1/logs/server.log" 2>/dev/null && port_open "${P[$(($1 - 1))]}"; }
# report: the last words of each node, on stderr.
report() {
  for n in 1 2 3; do
    local N=$R/node-$n
    echo "--- node $n ($(alive $n && echo running || echo dead)), port ${P[$((n - 1))]}:" >&2
    grep -m1 -E "ERROR|FATAL" "$N/logs/server.log" 2>/dev/null | cut -c1-400 >&2 || true
    tail -n 6 "$N/logs/server.log" 2>/dev/null | cut -c1-400 >&2 || true
    tail -n 4 "$N/kafka.out" 2>/dev/null | cut -c1-400 >&2 || true
  done
}
# stop_nodes SECONDS N...: SIGTERM the nodes, SIGKILL those still there after SECONDS.
stop_nodes() {
  local secs=$1; shift
  local n pids=()
  for n in "$@"; do alive "$n" && { pids+=("$(pid_of "$n")"); kill "$(pid_of "$n")" 2>/dev/null || true; }; done
  local end=$((SECONDS + secs))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
  for n in "$@"; do rm -f "$R/node-$n/kafka.pid"; done
}
fail() { echo "kafka-cluster.sh: $*" >&2; report; }
# gone: WATCH_PID is set and gone, so nobody waits for this command any more.
gone() { [ -n "${WATCH_PID:-}" ] && ! kill -0 "$WATCH_PID" 2>/dev/null; }

case $cmd in
start)
  # setup may be unpacking the dist right now: give a half-there one a moment.
  for _ in $(seq 1 60); do
    [ -d "$D" ] || break
    missing=
    for jar in kafka_2.13-3.3.2 kafka-clients-3.3.2 kafka-raft-3.3.2 kafka-metadata-3.3.2 scala-library-2.13; do
      ls "$D/libs/$jar"*.jar > /dev/null 2>&1 || missing=$jar
    done
    [ -n "$missing" ] || break
    sleep 1
  done
  [ -d "$D/libs" ] || { echo "no Kafka dist in $D (kafka-kit.sh unpack kafka-3.3.2-built.tgz)" >&2; exit 3; }
  for n in 1 2 3; do ! alive $n || { echo "node $n already runs in $R" >&2; exit 2; }; done
  mkdir -p "$R"; cp_of > "$R/cp"
  # Everything at INFO into each node's logs/server.log (one file, never rolled), only warnings
  # and errors on its kafka.out.
  cat > "$R/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, server, stdout
log4j.appender.server=org.apache.log4j.FileAppender
log4j.appender.server.File=${kafka.logs.dir}/server.log
log4j.appender.server.layout=org.apache.log4j.PatternLayout
log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.Threshold=WARN
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
EOF
  voters=1@127.0.0.1:${C[0]},2@127.0.0.1:${C[1]},3@127.0.0.1:${C[2]}
  for n in 1 2 3; do
    N=$R/node-$n; mkdir -p "$N/logs"
    cat > "$N/server.properties" <<EOF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${P[$((n - 1))]},CONTROLLER://127.0.0.1:${C[$((n - 1))]}
advertised.listeners=PLAINTEXT://127.0.0.1:${P[$((n - 1))]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$N/data
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=4
unclean.leader.election.enable=false
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
EOF
    [ -z "${EXTRA_PROPS_FILE:-}" ] || cat "$EXTRA_PROPS_FILE" >> "$N/server.properties"
  done
  # One cluster id for the three storages (kept, so that a second start on the same folder
  # formats a missing node into the same cluster).
  if [ ! -s "$R/cluster.id" ]; then
    id=$(tool 60 kafka.tools.StorageTool random-uuid | tail -1)
    [ -n "$id" ] || { echo "StorageTool random-uuid gave no id" >&2; exit 1; }
    echo "$id" > "$R/cluster.id"
  fi
  id=$(cat "$R/cluster.id")
  fmt=()
  for n in 1 2 3; do
    [ -f "$R/node-$n/data/meta.properties" ] && continue
    tool 60 kafka.tools.StorageTool format -t "$id" -c "$R/node-$n/server.properties" > "$R/node-$n/format.out" 2>&1 &
    fmt+=($!)
  done
  for pid in "${fmt[@]}"; do wait "$pid" || { cat "$R"/node-*/format.out >&2; echo "StorageTool format failed" >&2; exit 1; }; done
  for n in 1 2 3; do launch $n; done
  end=$((SECONDS + START_SECS))
  for n in 1 2 3; do
    until up $n; do
      for m in 1 2 3; do alive $m || { fail "node $m died while starting"; stop_nodes 5 1 2 3; exit 1; }; done
      [ $SECONDS -lt $end ] && ! gone || { fail "node $n not up within ${START_SECS}s"; stop_nodes 5 1 2 3; exit 1; }
      sleep 0.2
    done
  done
  # The nodes are up; the cluster serves once it can create a topic on all three (every broker
  # registered and unfenced) and has all three in its ISR.
  created=
  until [ -n "$created" ] && replicated; do
    [ $SECONDS -lt $end ] && ! gone || { fail "no fully replicated probe topic within ${START_SECS}s"; stop_nodes 5 1 2 3; exit 1; }
    if [ -z "$created" ]; then
      out=$(tool 60 kafka.admin.TopicCommand --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
        --topic $PROBE --partitions 1 --replication-factor 3 2>&1) && created=1 || echo "$out" > "$R/probe.out"
    fi
    sleep 0.5
  done ;;
kill-node)
  n=$(node_arg "${2:-}")
  pid=$(pid_of "$n")
  [ -n "$pid" ] && is_ours "$pid" "$n" || { echo "node $n is not running" >&2; exit 1; }
  kill -9 "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null || { echo "node $n (pid $pid) survived SIGKILL" >&2; exit 1; }
  rm -f "$R/node-$n/kafka.pid" ;;
start-node)
  n=$(node_arg "${2:-}")
  [ -f "$R/node-$n/data/meta.properties" ] || { echo "no node $n in $R (kafka-cluster.sh start first)" >&2; exit 3; }
  ! alive "$n" || { echo "node $n is running already" >&2; exit 2; }
  launch "$n"
  end=$((SECONDS + START_SECS))
  until up "$n"; do
    alive "$n" || { fail "node $n died while starting"; exit 1; }
    [ $SECONDS -lt $end ] && ! gone || { fail "node $n not up within ${START_SECS}s"; stop_nodes 5 "$n"; exit 1; }
    sleep 0.2
  done
  until replicated; do
    [ $SECONDS -lt $end ] && ! gone || { fail "node $n up, but not every partition has its full ISR within ${START_SECS}s"; exit 1; }
    sleep 0.5
  done ;;
leader)
  topic=${2:?TOPIC}; partition=${3:?PARTITION}
  end=$((SECONDS + 30)); last=
  while :; do
    if out=$(describe "$topic" 2>&1); then
      l=$(awk -v p="$partition" '/Partition: / {
            for (i = 1; i < NF; i++) { if ($i == "Partition:") q = $(i + 1); if ($i == "Leader:") l = $(i + 1) }
            if (q == p) print l }' <<< "$out")
      [[ $l =~ ^[123]$ ]] && { echo "$l"; exit 0; }
      last="leader '${l:-no such partition}'"
    else
      last=$out
    fi
    [ $SECONDS -lt $end ] && ! gone || { echo "no leader for $topic partition $partition within 30s: $last" >&2; exit 1; }
    sleep 0.5
  done ;;
stop)
  stop_nodes "$STOP_SECS" 1 2 3 ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
