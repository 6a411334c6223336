#!/usr/bin/env bash
# A crate outside this workspace that depends on chat-core by path builds and runs the README's
# Rust example with no environment variable and no cargo configuration: what a project that
# embeds the engine gets. Built in a temporary directory (so that no `.cargo/config.toml` of this
# repository applies) with its own target directory.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "embeds-chat-core"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
chat-core = { path = "$repo/core" }
serde_json = "1"

[workspace]
TOML
{
  echo 'fn main() -> Result<(), Box<dyn std::error::Error>> {'
  # The README's first Rust block, without the doc test's hidden result line.
  awk '/^```rust/{f=1;n++;next} /^```/{f=0} f&&n==1' "$repo/README.md" | grep -v '^# Ok::'
  echo '    Ok(())'
  echo '}'
} > "$dir/src/main.rs"
cp "$repo/Cargo.lock" "$dir/Cargo.lock"
cd "$dir"
env -u LIBSQLITE3_FLAGS -u RUSTFLAGS CARGO_TARGET_DIR="$dir/target" \
  cargo run --quiet 2>&1 | tail -n 3 || { echo "the README example failed outside the workspace"; exit 1; }
