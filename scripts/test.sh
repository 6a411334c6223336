#!/usr/bin/env bash
# Every test of the project, in the order a failure is cheapest to read.
# Prerequisites are installed by .ci/run (or by hand: see README "Set-up").
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== native tests (core, server over loopback HTTP, cross-crate)"
cargo build --workspace --bins
cargo test --workspace

echo "== an outside crate embeds chat-core with no build configuration (README example)"
bash scripts/outside-crate.sh

echo "== C ABI (header regeneration check, C and C++ suites, valgrind, sanitizers, install, ctypes)"
cargo build -p chat-ffi
git diff --exit-code -- bindings-c/include/chat_engine.h \
    || { echo "bindings-c/include/chat_engine.h differs from the generated header: commit it"; exit 1; }
bash bindings-c/tests/run.sh

echo "== WebAssembly"
bash bindings-wasm/scripts/test-wasm.sh

echo "== all tests passed"
