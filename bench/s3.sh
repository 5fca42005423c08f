#!/usr/bin/env bash
# A replay from an S3 server against the same tree on local disk: SeaweedFS on 127.0.0.1
# (tests/env/s3-start.sh; scripts/setup.sh installs it), a `c2k sample` tree of FILES data files
# (default 10000: hours × 16 partitions, 100 records a file, deflate) with its Camus history,
# uploaded once. Measures, for each place, `c2k verify --names-only` (the listing of every file
# and the history), `c2k verify` (every file's blocks read and counted too) and `c2k run` into a
# file (avro-binary), end to end, with peak RSS; then whether the two outputs are byte-identical.
#   bench/s3.sh [FILES]
# The server and the sample are kept under bench/out/s3/ between runs; the server is stopped at
# the end. Builds c2k in release mode.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --release -p camus2kafka --bins >&2)
c2k="$target/release/c2k"
files=${1:-10000}
partitions=16
hours=$(( files / partitions ))
records=$(( files * 100 ))
work="$root/bench/out/s3"
mkdir -p "$work"
cd "$work"

tree=tree-$files
if [ ! -d $tree ]; then
  "$c2k" sample $tree --records $records --hours $hours --partitions $partitions --codec deflate \
    --seed 7 >/dev/null
fi
echo "tree: $(find $tree/destination -name '*.avro' | wc -l) data files, $(du -sh $tree | cut -f1)"

port=18999
"$root/tests/env/s3-start.sh" "$work/server" $port >/dev/null
trap '"$root/tests/env/s3-stop.sh" "$work/server" --keep >/dev/null 2>&1 || true' EXIT
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=c2k-test-key \
  AWS_SECRET_ACCESS_KEY=c2k-test-secret AWS_REGION=us-east-1
sign=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY")
if [ ! -f "$work/uploaded-$files" ]; then
  curl -sf "${sign[@]}" -X PUT "$AWS_ENDPOINT_URL/bench" -o /dev/null || true
  start=$(date +%s.%N)
  (cd $tree && find . -type f -printf '%P\n' | xargs -P 8 -I{} \
    curl -sf "${sign[@]}" -T {} "$AWS_ENDPOINT_URL/bench/$tree/{}" -o /dev/null)
  echo "uploaded in $(python3 -c "import time; print(f'{time.time() - $start:.1f}')") s"
  touch "$work/uploaded-$files"
fi

for place in local s3; do
  base=$tree
  [ $place = s3 ] && base=s3://bench/$tree
  cat > $place.yaml <<YAML
topic: PAGE_VIEWS
source: { dest_dir: $base/destination, schema: $base/page_view.avsc }
key: { plugin: time-field, config: { field: header.time } }
sort: { memory: 256MiB, tmp_dir: $work/spill }
format: { plugin: avro-binary }
sink: { type: file, path: $work/out-$place.bin }
offsets: { exec_dir: $base/execution, commit: none }
YAML
done
"$c2k" validate local.yaml >/dev/null
mkdir -p spill
# A first listing, unmeasured: the server has just (re)started and answers 500 until its filer
# is up (retried).
"$c2k" verify s3.yaml --names-only >/dev/null 2>&1 || true
for how in --names-only --all; do
  for place in local s3 local s3; do
    args=(verify $place.yaml)
    [ $how = --names-only ] && args+=(--names-only)
    /usr/bin/time -f "%e %M" "$c2k" "${args[@]}" >verify.out 2>verify.err \
      || { echo "verify $place failed:" >&2; tail -3 verify.err >&2; exit 1; }
    read -r secs rss <<<"$(tail -1 verify.err)"
    what="listing $files files + history"
    [ $how = --all ] && what="$what + every file's blocks"
    echo "$place verify $how ($what): $secs s, peak RSS $((rss / 1024)) MiB"
  done
done
for place in local s3 local s3; do
  /usr/bin/time -f "%e %M" "$c2k" run $place.yaml >run.out 2>run.err \
    || { echo "run $place failed:" >&2; tail -3 run.err >&2; exit 1; }
  read -r secs rss <<<"$(tail -1 run.err)"
  echo "$place run: $secs s, peak RSS $((rss / 1024)) MiB | $(grep 'records in' run.err)"
done
cmp -s out-local.bin out-s3.bin && echo "byte-identical" || echo "OUTPUTS DIFFER"
