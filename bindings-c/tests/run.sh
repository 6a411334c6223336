#!/usr/bin/env bash
# The C ABI tests (run by scripts/test.sh, section "== C ABI"; needs cc, g++, make, valgrind,
# pkg-config and python3, which .ci/run installs when missing):
#   header regeneration check, C suites with -Wall -Wextra -Werror (natively, under valgrind,
#   with -fsanitize=address,undefined), the multithreaded test, the C++ header check, the README
#   example, `make install` into a temporary prefix with a one-line pkg-config build, and, against
#   the installed shared library with Python ctypes, the example scenario and the shared
#   scenario files of tests/scenarios/ (scenario_suite.py: every step's status and expectations,
#   as tests/tests/scenario_suite.rs checks them).
set -euo pipefail
cd "$(dirname "$0")/../.."

CC=${CC:-cc}
CXX=${CXX:-g++}
CARGO=${CARGO:-cargo}
WARN=(-Wall -Wextra -Werror)
LIBS=(-lpthread -ldl -lm)

step() { echo "-- $*"; }

step "build (debug) and header check"
$CARGO build -q -p chat-ffi
git ls-files --error-unmatch bindings-c/include/chat_engine.h >/dev/null
git diff --exit-code -- bindings-c/include/chat_engine.h
TARGET=$($CARGO metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
LIB="$TARGET/debug/libchat_engine.a"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

build() { # build NAME SOURCE [extra flags...]: links the static library
    local name=$1 src=$2
    shift 2
    "$CC" -std=c11 "${WARN[@]}" -g -pthread -Ibindings-c/include "$@" "$src" "$LIB" "${LIBS[@]}" -o "$WORK/$name"
}
for t in scenario misuse threads; do build "$t" "bindings-c/tests/$t.c"; done
build hello bindings-c/examples/hello.c

step "native"
"$WORK/scenario"
"$WORK/misuse"
"$WORK/hello" >/dev/null && echo "hello: ran"
"$WORK/threads" 8 200
"$WORK/threads" 8 200 "$WORK/threads.db"
"$WORK/threads" 8 200 "$WORK/threads-bg.db" '{"background_checkpoints": {"every_ms": 2, "inline_above_pages": 256}}'

step "valgrind"
VG=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99)
"${VG[@]}" "$WORK/scenario"
"${VG[@]}" "$WORK/misuse"
"${VG[@]}" "$WORK/hello" >/dev/null && echo "hello: ran"
"${VG[@]}" "$WORK/threads" 4 25
echo "valgrind: no errors, no leaks"

step "address and undefined-behaviour sanitizers"
for t in scenario misuse threads; do
    build "$t-asan" "bindings-c/tests/$t.c" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
done
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
"$WORK/scenario-asan"
"$WORK/misuse-asan"
"$WORK/threads-asan" 8 200
"$WORK/threads-asan" 8 200 "$WORK/threads-asan-bg.db" '{"background_checkpoints": true}'
unset ASAN_OPTIONS UBSAN_OPTIONS

step "C++ includes the header"
"$CXX" -std=c++17 "${WARN[@]}" -pedantic -Ibindings-c/include bindings-c/tests/cxx_header.cpp "$LIB" "${LIBS[@]}" -o "$WORK/cxx"
"$WORK/cxx"

step "make install into a temporary prefix; one-line pkg-config build"
make -s -C bindings-c install PREFIX="$WORK/prefix" PROFILE=debug >/dev/null
export PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig"
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
"$CC" "${WARN[@]}" bindings-c/examples/hello.c $(pkg-config --cflags --libs chat_engine) -o "$WORK/hello-shared"
"$WORK/hello-shared" >/dev/null && echo "hello (shared, pkg-config, installed): ran"
# shellcheck disable=SC2046
"$CC" "${WARN[@]}" bindings-c/examples/hello.c $(pkg-config --cflags chat_engine) \
    "$(pkg-config --variable=libdir chat_engine)/libchat_engine.a" $(pkg-config --libs-only-l --static chat_engine | sed 's/-lchat_engine//') \
    -o "$WORK/hello-static"
"$WORK/hello-static" >/dev/null && echo "hello (static, installed): ran"
unset PKG_CONFIG_PATH

step "Python (ctypes) against the installed shared library"
python3 bindings-c/examples/scenario.py "$WORK/prefix/lib/libchat_engine.so"
python3 bindings-c/tests/scenario_suite.py "$WORK/prefix/lib/libchat_engine.so" tests/scenarios/*.json

echo "C ABI: all passed"
