#!/usr/bin/env bash
# The WebAssembly section of scripts/test.sh: lints for wasm32, the packages, the TypeScript
# check, the scenario suite in Node and in headless Chromium, OPFS persistence in dedicated
# workers, the panic mapping (wasm-bindgen-test, Node and Chromium) and the example page.
# Prerequisites (installed by .ci/run): the wasm32-unknown-unknown target, clang,
# wasm-bindgen-cli 0.2.129, chromium + chromium-driver, `npm ci` in bindings-wasm/js-tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
wasm_dir=bindings-wasm
js="$wasm_dir/js-tests"

need() { command -v "$1" >/dev/null 2>&1 || { echo "missing: $1 (run .ci/run, which installs it)" >&2; exit 1; }; }
need clang
need wasm-bindgen
need wasm-bindgen-test-runner
need chromium
need chromedriver
need node
[ -x "$js/node_modules/.bin/tsc" ] || { echo "missing: $js/node_modules (run: (cd $js && npm ci))" >&2; exit 1; }
if [ "$(wasm-bindgen --version)" != "wasm-bindgen 0.2.129" ]; then
  echo "wasm-bindgen-cli must be 0.2.129 (the crate is pinned to it): $(wasm-bindgen --version)" >&2
  exit 1
fi

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$(command -v wasm-bindgen-test-runner)"
chrome_env=(
  WASM_BINDGEN_USE_BROWSER=1
  CHROMEDRIVER="$(command -v chromedriver)"
  WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/$js/webdriver-chromium.json"
)

echo "-- lints for wasm32 (chat-wasm; core is linted on the host)"
cargo clippy -p chat-wasm --target wasm32-unknown-unknown --all-targets --features test-hooks --no-deps -- -D warnings

echo "-- packages (wasm-bindgen --target web / nodejs)"
bash "$wasm_dir/scripts/build-pkg.sh"

echo "-- TypeScript: tsc --noEmit --strict over the JS tests, the example and types-check.ts"
(cd "$js" && ./node_modules/.bin/tsc -p tsconfig.json)

echo "-- scenario suite in Node (pkg/node)"
node --test "$js/node.test.mjs"

echo "-- a panic reaches JS as a ChatError (wasm-bindgen-test in Node, then headless Chromium)"
cargo test -p chat-wasm --target wasm32-unknown-unknown --features test-hooks --test panic
env "${chrome_env[@]}" cargo test -p chat-wasm --target wasm32-unknown-unknown --features test-hooks --test panic

echo "-- headless Chromium: scenario suite (pkg/web), OPFS in dedicated workers, the example page"
node "$js/webdriver.mjs"
