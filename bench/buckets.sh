#!/usr/bin/env bash
# Streaming Camus' time buckets (sort.mode: buckets) against the whole-archive sort
# (sort.mode: external), on `c2k sample --by-event-time` archives whose history grows at a constant
# rate (24 hours per million records, 16 partitions, deflate), at sort.memory 256MiB:
#   bench/buckets.sh [RECORDS ...]        (default: 1000000 5000000 20000000)
# For each size and mode: the time the first bytes reach the output, the end-to-end time, the
# peak RSS and c2k's summary line (records, spill); then whether the two outputs are
# byte-identical. Builds c2k in release mode; the samples are cached under bench/out/buckets/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --release -p camus2kafka --bins >&2)
c2k="$target/release/c2k"
work="$root/bench/out/buckets"
mkdir -p "$work"
cd "$work"
[ $# -gt 0 ] || set -- 1000000 5000000 20000000
for n in "$@"; do
  hours=$(( n * 24 / 1000000 ))
  tree=tree-$n
  if [ ! -d $tree ]; then
    "$c2k" sample $tree --records $n --hours $hours --partitions 16 --codec deflate \
      --by-event-time --seed 7 >/dev/null
  fi
  cat > p-$n.yaml <<YAML
topic: PAGE_VIEWS
source: { dest_dir: $tree/destination, schema: $tree/page_view.avsc }
key: { plugin: time-field, config: { field: header.time } }
sort: { memory: 256MiB, tmp_dir: $work/spill }
format: { plugin: avro-binary }
sink: { type: file, path: $work/out/out.bin }
offsets: { commit: none }
YAML
  # The plugins compiled and cached first: neither mode pays for it.
  "$c2k" validate p-$n.yaml >/dev/null
  for mode in buckets external; do
    rm -rf out && mkdir out
    start=$(date +%s.%N)
    /usr/bin/time -f "%e %M" "$c2k" run p-$n.yaml --set sort.mode=$mode >run.out 2>run.err &
    pid=$!
    first=""
    while kill -0 $pid 2>/dev/null; do
      if [ -z "$first" ] && [ -n "$(find out -type f -size +0 2>/dev/null | head -1)" ]; then
        first=$(python3 -c "import time; print(f'{time.time() - $start:.2f}')")
      fi
      sleep 0.05
    done
    wait $pid || { echo "c2k run failed:" >&2; tail -3 run.err >&2; exit 1; }
    read -r secs rss <<<"$(tail -1 run.err)"
    echo "$n $mode: first bytes ${first:-?} s, end $secs s, peak RSS $((rss / 1024)) MiB | $(grep 'records in' run.err)"
    if [ $mode = buckets ]; then mv out/out.bin streamed.bin; else cmp -s streamed.bin out/out.bin && echo "$n: byte-identical" || echo "$n: OUTPUTS DIFFER"; fi
  done
  rm -f streamed.bin out/out.bin
done
