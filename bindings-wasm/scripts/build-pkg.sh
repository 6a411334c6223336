#!/usr/bin/env bash
# Builds the JS packages: bindings-wasm/pkg/web (ES module for browsers and workers) and
# bindings-wasm/pkg/node (CommonJS for Node), each with its package.json, and prints the
# size of the WebAssembly module (bytes, and gzipped with -9).
# Needs: the wasm32-unknown-unknown target, clang, wasm-bindgen-cli 0.2.129 (see .ci/run).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac

cd "$root"
cargo build --profile wasm-release -p chat-wasm --target wasm32-unknown-unknown
wasm="$target_dir/wasm32-unknown-unknown/wasm-release/chat_wasm.wasm"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
rm -rf "$here/pkg/web" "$here/pkg/node"
for kind in web node; do
  out="$here/pkg/$kind"
  if [ "$kind" = web ]; then bg_target=web; module_type=module; else bg_target=nodejs; module_type=commonjs; fi
  wasm-bindgen --target "$bg_target" --out-dir "$out" --out-name chat_engine "$wasm"
  cat >"$out/package.json" <<JSON
{
  "name": "chat-engine-wasm-$kind",
  "description": "The chat engine (giosg Chats API v5 domain over SQLite) in WebAssembly, for $( [ "$kind" = web ] && echo "browsers and workers" || echo "Node" )",
  "version": "$version",
  "license": "MIT OR Apache-2.0",
  "type": "$module_type",
  "main": "chat_engine.js",
  "types": "chat_engine.d.ts",
  "files": ["chat_engine.js", "chat_engine.d.ts", "chat_engine_bg.wasm", "chat_engine_bg.wasm.d.ts"],
  "sideEffects": false
}
JSON
done

bytes=$(wc -c <"$here/pkg/web/chat_engine_bg.wasm")
gz=$(gzip -9 -c "$here/pkg/web/chat_engine_bg.wasm" | wc -c)
echo "chat_engine_bg.wasm: $bytes bytes, $gz bytes gzipped (pkg/web and pkg/node)"
