#!/usr/bin/env bash
# The camus2kafka benchmark (bench/README.md), one command:
#   bench/run.sh [--records N] [--memory SIZE] [--skip-kafka] [--format PLUGIN] [--batch-sweep]
# Builds c2k, the publish_bench example and the `pipeline` bench in release mode, generates (once,
# cached under bench/out/) a Camus dataset with `c2k sample` — N records (default 5,000,000) of
# ~300 bytes, deflate, 16 partitions, 24 hourly folders, two writer schemas — then measures
# everything in one run (runner/benches/pipeline/main.rs), prints the table and writes
# bench/out/results-<UTC time>.json. --batch-sweep instead times `c2k run` at five batch sizes.
# Needs: cargo, GNU sort (coreutils), and `tansu` on PATH or in
# ~/.cargo/bin unless --skip-kafka.
set -euo pipefail

records=5000000
memory=512MiB
skip_kafka=()
format=avro-binary
mode=()
while [ $# -gt 0 ]; do
  case "$1" in
    --records) records="$2"; shift 2 ;;
    --memory) memory="$2"; shift 2 ;;
    --skip-kafka) skip_kafka=(--skip-kafka); shift ;;
    --format) format="$2"; shift 2 ;;
    --batch-sweep) mode=(--batch-sweep); shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
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

data="$out/data-$records"
if [ ! -f "$data/.complete" ]; then
  echo "bench: generating $records records under $data (cached for later runs)..." >&2
  rm -rf "$data"
  "$c2k" sample "$data" --records "$records" --partitions 16 --hours 24 --codec deflate
  touch "$data/.complete"
fi

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
export C2K_BENCH_STARTED="$stamp"
export C2K_BENCH_COMMIT="$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || true)"
scratch="$out/scratch"
rm -rf "$scratch"
"$bench_exe" --data "$data" --c2k "$c2k" --publish-bench "$publish_bench" \
  --memory "$memory" --format "$format" --scratch "$scratch" \
  --json "$out/results-$stamp.json" "${skip_kafka[@]}" "${mode[@]}"
rm -rf "$scratch"
