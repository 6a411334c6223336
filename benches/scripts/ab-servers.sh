#!/usr/bin/env bash
# A/B of two chat-server binaries (or two flag sets) under the same load, alternating turns so
# that the machine's drift falls on both alike. Each side gets its own copy of the benchmark
# dataset (chats kept open: a long idle timeout). Prints one line per turn: the load
# generator's summary (req/s, p50, p99, max ms, n, errors).
#
#   benches/scripts/ab-servers.sh <binA> <binB> [concurrency=32] [rounds=3] [secs=5] [rate]
#   AB_ARGS_A="--checkpoint-every-ms 50" benches/scripts/ab-servers.sh target/release/chat-server target/release/chat-server
#   AB_DATASET_A / AB_DATASET_B: a side's own dataset file instead of the current one, and
#   AB_REPORT_A / AB_REPORT_B: the bench-report that drives it (its chat ids are the dataset's)
#
# Needs `cargo build --release -p chat-benches --bins` (the dataset at `CHAT_BENCH_SCALE` is
# built on first use).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
A=$1; B=$2; c=${3:-32}; rounds=${4:-3}; secs=${5:-5}; rate=${6:-}
dataset=$("$target/release/bench-report" dataset)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for side in A B; do
  # AB_DATASET_A / AB_DATASET_B: a side's own dataset file (e.g. a binary of an older schema,
  # which refuses a newer database, on the dataset its schema built).
  src=$dataset
  if [ "$side" = A ] && [ -n "${AB_DATASET_A:-}" ]; then src=$AB_DATASET_A; fi
  if [ "$side" = B ] && [ -n "${AB_DATASET_B:-}" ]; then src=$AB_DATASET_B; fi
  cp "$src" "$work/$side.db"
  python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE organizations SET chat_idle_timeout_s = 3650*86400'); c.commit()" "$work/$side.db"
done
sync  # the copies written back before the first turn, not during it
for r in $(seq 1 "$rounds"); do
  for side in A B; do
    if [ "$side" = A ]; then bin=$A; args=${AB_ARGS_A:-}; port=8711; else bin=$B; args=${AB_ARGS_B:-}; port=8712; fi
    # shellcheck disable=SC2086
    CHAT_LOG=warn "$bin" serve --db "$work/$side.db" --listen 127.0.0.1:$port $args > "$work/$side.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 50); do grep -q listening "$work/$side.log" && break; sleep 0.1; done
    report="$target/release/bench-report"
    if [ "$side" = A ] && [ -n "${AB_REPORT_A:-}" ]; then report=$AB_REPORT_A; fi
    if [ "$side" = B ] && [ -n "${AB_REPORT_B:-}" ]; then report=$AB_REPORT_B; fi
    out=$(CHAT_LOAD_SECS=$secs "$report" drive "http://127.0.0.1:$port" "$c" post $rate 2>&1 | tail -1)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "round $r $side $out"
  done
done
