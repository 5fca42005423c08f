#!/usr/bin/env bash
# Runs every test of camus2kafka, against real Avro files, a real ZooKeeper, a real HDFS and a real
# Kafka-protocol broker, all started by the tests themselves on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export C2K_HADOOP_JARS="${C2K_HADOOP_JARS:-$HOME/.cache/camus2kafka/hadoop-jars}"
if cargo nextest --version >/dev/null 2>&1; then
  # nextest kills a hung test (.config/nextest.toml) instead of stalling the run.
  cargo nextest run --workspace --profile ci "$@"
  cargo test --workspace --doc
else
  cargo test --workspace "$@"
fi
