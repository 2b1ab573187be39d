#!/usr/bin/env bash
# Tests the C/C++ SDK and the C, C++ and Zig plugins: installs the toolchains (through the
# build recipes), runs the native unit tests (testing/run.sh, with the machine's compiler;
# Zig's with sdk-guest/zig/testing/run.sh), and builds every plugin into
# plugins/target/components/<lang>/<plugin>.wasm.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SDK="$ROOT/sdk-guest/c"
OUT="$ROOT/plugins/target/components"
export WEIR_TOOLCHAINS="${WEIR_TOOLCHAINS:-$ROOT/target/toolchains}"
NATIVE="$ROOT/plugins/target/native"
mkdir -p "$NATIVE"

"$SDK/build.sh" --toolchain >/dev/null

# native_test LANG PROJECT: PROJECT's native tests (testing/run.sh: its src/ and tests/ with
# the SDK and the test double, compiled by the machine's compiler), warnings as errors.
native_test() {
  local lang="$1" project="$2"
  echo "==> native tests of $lang/$(basename "$project")"
  CFLAGS="-Werror ${CFLAGS:-}" CXXFLAGS="-Werror ${CXXFLAGS:-}" \
    WEIR_NATIVE_OUT="$NATIVE/$lang/$(basename "$project")" "$SDK/testing/run.sh" "$project"
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
  # zig_test PROJECT: PROJECT's tests (tests/*.zig, test blocks in src/), by the Zig SDK's
  # testing/run.sh.
  zig_test() {
    echo "==> native tests of zig/$(basename "$1")"
    WEIR_SDK_DIR="$SDK" WEIR_NATIVE_OUT="$NATIVE/zig/$(basename "$1")" "$ZIG_SDK/testing/run.sh" "$1"
  }
  zig_test "$ZIG_SDK/testing/self"
  for project in "$ROOT"/plugins/zig/*/; do
    project="${project%/}"
    if compgen -G "$project/tests/*.zig" >/dev/null || grep -qs '^test ' "$project"/src/*.zig; then
      zig_test "$project"
    fi
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
