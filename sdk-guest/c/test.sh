#!/usr/bin/env bash
# Tests the C/C++ SDK and the C, C++ and Zig plugins: installs the toolchains (through the
# build recipes), runs the native unit tests (C and C++ with the machine's compiler, Zig
# with `zig test`), and builds every plugin into
# plugins/target/components/<lang>/<plugin>.wasm.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SDK="$ROOT/sdk-guest/c"
OUT="$ROOT/plugins/target/components"
export WEIR_TOOLCHAINS="${WEIR_TOOLCHAINS:-$ROOT/target/toolchains}"
NATIVE="$ROOT/plugins/target/native"
mkdir -p "$NATIVE"

"$SDK/build.sh" --toolchain >/dev/null

CC_NATIVE="${CC:-cc}"
command -v "$CC_NATIVE" >/dev/null 2>&1 || CC_NATIVE=clang-16
CXX_NATIVE="${CXX:-c++}"
command -v "$CXX_NATIVE" >/dev/null 2>&1 || CXX_NATIVE=clang++-16
CFLAGS=(-std=c11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -D_POSIX_C_SOURCE=200809L
  -I"$SDK/include")
SDK_SOURCES=("$SDK"/src/*.c "$SDK/testing/testing.c")

# native_test LANG PROJECT: compiles PROJECT's src/ and tests/ with the SDK and the test
# double, natively, and runs the binary.
native_test() {
  local lang="$1" project="$2" name
  name="$lang-$(basename "$project")"
  echo "==> native tests of $lang/$(basename "$project")"
  shopt -s nullglob
  local c_files=("$project"/src/*.c "$project"/tests/*.c)
  local cxx_files=("$project"/src/*.cpp "$project"/tests/*.cpp)
  shopt -u nullglob
  local objects=()
  for source in "${SDK_SOURCES[@]}" "${c_files[@]}"; do
    "$CC_NATIVE" "${CFLAGS[@]}" -I"$project/src" -c "$source" -o "$NATIVE/$name-$(basename "$source").o"
    objects+=("$NATIVE/$name-$(basename "$source").o")
  done
  local linker="$CC_NATIVE"
  if [[ ${#cxx_files[@]} -gt 0 ]]; then
    for source in "${cxx_files[@]}"; do
      "$CXX_NATIVE" -std=c++20 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter \
        -I"$SDK/include" -I"$project/src" -c "$source" -o "$NATIVE/$name-$(basename "$source").o"
      objects+=("$NATIVE/$name-$(basename "$source").o")
    done
    linker="$CXX_NATIVE"
  fi
  "$linker" "${objects[@]}" -o "$NATIVE/$name" -lm
  "$NATIVE/$name"
}

# The SDK's own tests.
native_test sdk "$SDK/testing/self"

build() {
  local recipe="$1" project="$2" world="$3" lang="$4"
  WEIR_SDK_DIR="$SDK" "$recipe" "$project" "$world" "$OUT/$lang/$(basename "$project").wasm"
}

for lang in c cpp; do
  for plugin in forwarder:consumer-plugin json-dedup:dedup-filter-plugin; do
    project="$ROOT/plugins/$lang/${plugin%%:*}"
    [[ -d $project ]] || continue
    native_test "$lang" "$project"
    LANG_WEIR="$lang" build "$SDK/build.sh" "$project" "${plugin#*:}" "$lang"
  done
  [[ -d $ROOT/tests/plugins/$lang/ack-all ]] &&
    LANG_WEIR="$lang" build "$SDK/build.sh" "$ROOT/tests/plugins/$lang/ack-all" consumer-plugin "$lang"
done

# Zig: the same C SDK, compiled by Zig. Every plugin's native tests (`zig test` against the
# test double) run first; a failing one fails the run before any Zig component is built.
ZIG_SDK="$ROOT/sdk-guest/zig"
if [[ -x $ZIG_SDK/build.sh ]]; then
  for project in "$ROOT"/plugins/zig/*/; do
    project="${project%/}"
    echo "==> native tests of zig/$(basename "$project")"
    WEIR_SDK_DIR="$SDK" "$ZIG_SDK/build.sh" --test "$project"
  done
  for project in "$ROOT"/plugins/zig/*/; do
    project="${project%/}"
    world=consumer-plugin
    [[ -f $project/world ]] && world="$(cat "$project/world")"
    WEIR_SDK_DIR="$SDK" "$ZIG_SDK/build.sh" "$project" "$world" \
      "$OUT/zig/$(basename "$project").wasm"
  done
fi
echo "==> C, C++ and Zig plugins built into $OUT"
