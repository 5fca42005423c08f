#!/usr/bin/env bash
# Read throughput of every archive layout c2k reads, on the same `c2k sample` topic (RECORDS
# records of ~300 bytes, 8 partitions, 48 hourly folders, two writer schemas):
#   bench/layouts.sh [RECORDS]            (default: 1000000)
# For each layout (Camus' Avro, text with each Hadoop codec and SequenceFile writers, a
# camus-sweeper tree, Kafka Connect's HDFS and S3 sinks): the archive's stored size, then
#   verify: `c2k verify --records`, every file read and every record walked, as `c2k run` reads
#           them, nothing else (the read throughput);
#   run:    `c2k run` end to end into a file (time-field keys, the whole sort, avro-binary out).
# Each figure is the faster of two runs, in records/s and stored MB/s. Builds c2k in release
# mode; the samples are cached under bench/out/layouts/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --release -p camus2kafka --bins >&2)
c2k="$target/release/c2k"
n="${1:-1000000}"
work="$root/bench/out/layouts"
mkdir -p "$work"
cd "$work"

# seconds COMMAND...: the wall time of the faster of two runs.
seconds() {
  local best=""
  for _ in 1 2; do
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>run.err || { echo "failed: $*" >&2; tail -3 run.err >&2; exit 1; }
    end=$(date +%s.%N)
    best=$(python3 -c "t = $end - $start; b = '$best'; print(f'{min(t, float(b)) if b else t:.3f}')")
  done
  echo "$best"
}

printf '%-14s %10s %10s %14s %10s %14s\n' layout records "MB stored" "verify rec/s" "MB/s" "run rec/s"
for layout in avro text text-gzip text-deflate text-snappy sequencefile camus-swept connect-hdfs connect-s3; do
  tree=$layout-$n
  if [ ! -d $tree ]; then
    "$c2k" sample $tree --layout $layout --records $n --hours 48 --partitions 8 --codec deflate \
      --seed 7 >/dev/null
  fi
  source="dest_dir: $tree/destination"
  offsets="exec_dir: $tree/execution, commit: none"
  case $layout in
    connect-*) source="$source, type: kafka-connect"; offsets="commit: none" ;;
    camus-swept) source="$source, swept_days: replay" ;;
  esac
  cat > $layout.yaml <<YAML
topic: PAGE_VIEWS
source: { $source }
key: { plugin: time-field, config: { field: header.time } }
sort: { memory: 512MiB, tmp_dir: $work/spill }
format: { plugin: avro-binary }
sink: { type: file, path: $work/out.bin }
offsets: { $offsets }
YAML
  "$c2k" validate $layout.yaml >/dev/null
  bytes=$(du -sb $tree/destination | cut -f1)
  verify=$(seconds "$c2k" verify --records $layout.yaml)
  run=$(seconds "$c2k" run $layout.yaml)
  rm -f out.bin
  python3 -c "
n, b, v, r = $n, $bytes, $verify, $run
print(f'{\"$layout\":<14} {n:>10} {b / 1e6:>10.1f} {n / v:>14,.0f} {b / 1e6 / v:>10.1f} {n / r:>14,.0f}')"
done
