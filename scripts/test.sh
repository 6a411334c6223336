#!/usr/bin/env bash
# Every test of the project, in the order a failure is cheapest to read.
# Prerequisites are installed by .ci/run (or by hand: see README "Set-up").
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== browser clients' JSDoc types (tsc --strict --checkJs; TypeScript of bindings-wasm/js-tests)"
tsc=bindings-wasm/js-tests/node_modules/.bin/tsc
[ -x "$tsc" ] || { echo "missing: $tsc (run: (cd bindings-wasm/js-tests && npm ci))" >&2; exit 1; }
"$tsc" -p server-example/web/tsconfig.json

# A throwaway PostgreSQL cluster on loopback for the PostgreSQL store's tests, stopped on exit.
pg_dir=$(mktemp -d /tmp/chat-test-pg.XXXXXX)
trap 'bash scripts/postgres.sh stop "$pg_dir"' EXIT
CHAT_TEST_POSTGRES=$(bash scripts/postgres.sh start "$pg_dir")
export CHAT_TEST_POSTGRES

echo "== native tests (core, server over loopback HTTP, cross-crate, widget and desk in Chromium)"
cargo build --workspace --bins
cargo test --workspace

echo "== core tests again on a database file (WAL, group commit, checkpointer) instead of memory"
CHAT_TEST_STORE=file cargo test -p chat-core

echo "== core tests again on PostgreSQL (every engine in a schema of its own), and its own tests"
CHAT_TEST_STORE=postgres cargo test -p chat-core --features postgres,fault-injection

echo "== the server's HTTP suites again on PostgreSQL (every server in a schema of its own)"
CHAT_TEST_STORE=postgres cargo test -p chat-tests \
    --test http_endpoints --test http_flows --test http_scenarios --test http_server \
    --test http_limits --test rate_limits --test channels --test giosg_bot \
    --test realtime_ws --test realtime_webhooks --test realtime_idempotency \
    --test server_held_keys

echo "== an outside crate embeds chat-core with no build configuration (README example)"
bash scripts/outside-crate.sh

echo "== core unit tests with the fault-injection feature"
# Tests behind #[cfg(feature = "fault-injection")] live in modules named fault_injection. Run
# them explicitly (whether `cargo test --workspace` builds chat-core with the feature depends on
# feature unification with chat-tests) and fail if none ran: they must not compile out unseen.
out=$(cargo test -p chat-core --features fault-injection --lib 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E '^test result'
ran=$(echo "$out" | grep -cE '^test [^ ]*::fault_injection::[^ ]* \.\.\. ok$' || true)
if [ "$ran" -lt 1 ]; then
    echo "$out"
    echo "no fault-injection test ran"
    exit 1
fi
echo "fault-injection tests passed: $ran"

echo "== C ABI (header regeneration check, C and C++ suites, valgrind, sanitizers, install, ctypes)"
cargo build -p chat-ffi
git diff --exit-code -- bindings-c/include/chat_engine.h \
    || { echo "bindings-c/include/chat_engine.h differs from the generated header: commit it"; exit 1; }
bash bindings-c/tests/run.sh

echo "== WebAssembly"
bash bindings-wasm/scripts/test-wasm.sh

echo "== all tests passed"
