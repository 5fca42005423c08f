#!/usr/bin/env bash
# The demo, end to end with no servers: write a sample Camus tree (data and execution history),
# check the archive against the history (c2k verify), replay it sorted by event time into target/demo/PAGE_VIEWS_REPLAY.jsonl, and show the offsets a
# consumer group would be given.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
bash scripts/build-deps.sh
# A release build, so the rate in the run's summary line is the real one (a debug build is far
# slower); the first build takes longer than a debug one.
cargo build --release -p camus2kafka --bin c2k
c2k="${CARGO_TARGET_DIR:-target}/release/c2k"
rm -rf target/demo
"$c2k" sample target/demo
"$c2k" validate pipelines/demo.yaml
"$c2k" verify pipelines/demo.yaml
"$c2k" run pipelines/demo.yaml
"$c2k" offsets show pipelines/demo.yaml
echo "first records of target/demo/PAGE_VIEWS_REPLAY.jsonl:"
head -n 3 target/demo/PAGE_VIEWS_REPLAY.jsonl
