#!/usr/bin/env bash
# Runs every test of camus2kafka, against real Avro files, a real ZooKeeper, a real HDFS and a real
# Kafka-protocol broker, all started by the tests themselves on loopback ports.
#
# A test whose server or tool is missing fails under CI=true; elsewhere it skips, and its skip is
# listed at the end of the run (tests/support/mod.rs, `missing`, writes it to $C2K_SKIPPED_FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export C2K_HADOOP_JARS="${C2K_HADOOP_JARS:-$HOME/.cache/camus2kafka/hadoop-jars}"

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
mkdir -p "$target_dir"
export C2K_SKIPPED_FILE="$target_dir/c2k-skipped.txt"
: >"$C2K_SKIPPED_FILE"

# The skips, at the very end of the run, whatever its outcome.
skipped_summary() {
  local status=$?
  if [ -s "$C2K_SKIPPED_FILE" ]; then
    echo
    echo "SKIPPED, $(wc -l <"$C2K_SKIPPED_FILE") test(s): a server or tool is missing on this machine (under CI=true these fail; scripts/setup.sh installs them):"
    sed 's/^/  /' "$C2K_SKIPPED_FILE"
  else
    echo "no test skipped"
  fi
  exit "$status"
}
trap skipped_summary EXIT

if cargo nextest --version >/dev/null 2>&1; then
  # nextest kills a hung test (.config/nextest.toml) instead of stalling the run.
  cargo nextest run --workspace --profile ci "$@"
  cargo test --workspace --doc
else
  cargo test --workspace "$@"
fi
