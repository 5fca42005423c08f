#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each (default 60), nice'd, with
# cargo-fuzz's libFuzzer on stable Rust (--sanitizer none: coverage instrumentation only), and
# prints the executions and coverage of each. Installs cargo-fuzz when missing, writes the seed
# corpora when missing (fuzz/seeds.py; with C2K=path/to/c2k, `c2k sample`'s files too).
# Waits while /tmp/c2k-bench-running exists (a benchmark is being measured).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# A crash, panic, hang (10 s an input) or an allocation past 2 GiB stops that target, leaves the
# input in fuzz/artifacts/TARGET/ and makes the script exit 1 after the others have run.
set -euo pipefail

cd "$(dirname "$0")"
seconds=${1:-60}
shift || true

if ! command -v cargo-fuzz >/dev/null; then
  echo "installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi
mapfile -t targets < <(if (($#)); then printf '%s\n' "$@"; else cargo fuzz list; fi)

wait_for_bench() {
  while [[ -e /tmp/c2k-bench-running ]]; do sleep 20; done
}

if [[ ! -d corpus ]]; then
  python3 seeds.py ${C2K:+"$C2K"}
fi

# Every target in one build; 16 codegen units rather than cargo-fuzz's one: the runner library
# links wasmtime, and one unit each makes the first build take the better part of an hour.
build=(--sanitizer none --codegen-units 16)
wait_for_bench
nice -n 19 cargo fuzz build "${build[@]}"

status=0
summary=$(mktemp)
for target in "${targets[@]}"; do
  wait_for_bench
  mkdir -p "corpus/$target" "artifacts/$target"
  log="artifacts/$target/last-run.log"
  if nice -n 19 cargo fuzz run "${build[@]}" "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  corp=$(find "corpus/$target" -type f | wc -l)
  printf '%-16s %-6s %12s execs %6s cov %7s ft %6s corpus\n' \
    "$target" "$result" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corp" | tee -a "$summary"
  if [[ $result == FAILED ]]; then
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -n 5 || true
  fi
done
echo
echo "each target ${seconds}s:"
cat "$summary"
rm -f "$summary"
exit "$status"
