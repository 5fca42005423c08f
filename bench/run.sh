#!/usr/bin/env bash
# The camus2kafka benchmark (bench/README.md), one command:
#   bench/run.sh [--records N] [--fit-records N] [--memory SIZE] [--skip-kafka] [--format PLUGIN]
#                [--batch-sweep]
# Builds c2k, the publish_bench example and the `pipeline` bench in release mode, generates (once,
# cached under bench/out/) a Camus dataset with `c2k sample` — N records (default 5,000,000) of
# ~300 bytes, deflate, 16 partitions, 24 hourly folders, two writer schemas — and a second one of
# --fit-records (default 400,000; 0: none) that fits sort.memory, starts Apache Kafka 3.3.2
# (tests/env/kafka-kit.sh, when scripts/setup.sh has unpacked it) unless --skip-kafka, then
# measures everything in one run (runner/benches/pipeline/main.rs): every bundled format, with and
# without spilling, and c2k run into the broker against a bare producer. Prints the table and
# writes bench/out/results-<UTC time>.json. --batch-sweep instead times `c2k run` at five batch
# sizes. Needs: cargo, GNU sort (coreutils), java for Kafka, and `tansu` on PATH or in
# ~/.cargo/bin for the publish comparison when Kafka 3.3.2 is not unpacked.
set -euo pipefail

records=5000000
fit_records=400000
memory=512MiB
skip_kafka=()
format=avro-binary
mode=()
while [ $# -gt 0 ]; do
  case "$1" in
    --records) records="$2"; shift 2 ;;
    --fit-records) fit_records="$2"; shift 2 ;;
    --memory) memory="$2"; shift 2 ;;
    --skip-kafka) skip_kafka=(--skip-kafka); shift ;;
    --format) format="$2"; shift 2 ;;
    --batch-sweep) mode=(--batch-sweep); shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/bench/out"
target="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$out"

echo "bench: building (release)..." >&2
# The bench target's executable name carries a hash: take it from cargo's own report.
bench_exe="$(cd "$root" && cargo build --release -p camus2kafka --bins --examples --benches \
  --message-format=json-render-diagnostics \
  | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "pipeline" \
            and "bench" in m["target"]["kind"] and m.get("executable"):
        print(m["executable"])
')"
if [ -z "$bench_exe" ]; then
  echo "bench/run.sh: cargo did not report the pipeline bench executable" >&2
  exit 1
fi
c2k="$target/release/c2k"
publish_bench="$target/release/examples/publish_bench"

# sample DIR N: a `c2k sample` dataset of N records, generated once and cached.
sample() {
  if [ ! -f "$1/.complete" ]; then
    echo "bench: generating $2 records under $1 (cached for later runs)..." >&2
    rm -rf "$1"
    "$c2k" sample "$1" --records "$2" --partitions 16 --hours 24 --codec deflate
    touch "$1/.complete"
  fi
}
data="$out/data-$records"
sample "$data" "$records"
fit=()
if [ "$fit_records" -gt 0 ] && [ ${#mode[@]} -eq 0 ]; then
  sample "$out/data-$fit_records" "$fit_records"
  fit=(--fit-data "$out/data-$fit_records")
fi

# The broker: Apache Kafka 3.3.2 (KRaft, one node) on a free port, its log under bench/out.
brokers=()
kit="$root/tests/env/kafka-kit.sh"
kafka_home="${C2K_KAFKA_HOME:-$HOME/.cache/camus2kafka/kafka}"
if [ ${#skip_kafka[@]} -eq 0 ] && [ ${#mode[@]} -eq 0 ] && [ -d "$kafka_home/kafka-3.3.2/libs" ]; then
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  export KIT_HOME="$kafka_home" KAFKA_VERSION=3.3.2 KAFKA_PORT="$port" \
    CONTROLLER_PORT="$((port + 1))" KIT_RUN="$out/kafka-run" WATCH_PID=$$
  rm -rf "$KIT_RUN"
  echo "bench: starting Apache Kafka 3.3.2 on 127.0.0.1:$port..." >&2
  bash "$kit" start >&2
  trap 'bash "$kit" stop >/dev/null 2>&1 || true; rm -rf "$KIT_RUN"' EXIT
  brokers=(--brokers "127.0.0.1:$port")
elif [ ${#skip_kafka[@]} -eq 0 ] && [ ${#mode[@]} -eq 0 ]; then
  echo "bench: Apache Kafka 3.3.2 is not unpacked under $kafka_home (scripts/setup.sh does it):" \
    "no c2k -> broker comparison; the publish comparison uses tansu" >&2
fi

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
export C2K_BENCH_STARTED="$stamp"
export C2K_BENCH_COMMIT="$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || true)"
scratch="$out/scratch"
rm -rf "$scratch"
"$bench_exe" --data "$data" --c2k "$c2k" --publish-bench "$publish_bench" \
  --memory "$memory" --format "$format" --scratch "$scratch" \
  --json "$out/results-$stamp.json" "${skip_kafka[@]}" "${mode[@]}" "${fit[@]}" "${brokers[@]}"
rm -rf "$scratch"
