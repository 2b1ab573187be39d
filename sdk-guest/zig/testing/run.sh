#!/usr/bin/env bash
# Runs the native tests of a Zig plugin project against the C SDK's in-memory host.
#
#   weir-sdk/zig/testing/run.sh [PROJECT_DIR [ZIG_TEST_OPTION...]]   # PROJECT_DIR defaults to .
#
# `zig test` over the project's tests/*.zig, natively (no WebAssembly): the plugin's
# src/main.zig (its exports are what the test double calls), the C SDK's src/*.c and its test
# double testing/testing.c, and the project's src/*.c, compiled by Zig. As for build.sh, the
# project's src/*.zig and tests/*.zig are put side by side (a test imports "main.zig"), with
# `weir.zig` made by `zig translate-c`, here from weir.h, weir_json.h and weir_testing.h, and
# `weir_testing.zig`, this directory's Zig helpers over the double. Options after
# PROJECT_DIR go to `zig test` (for example --test-filter NAME). The copies are made in
# PROJECT_DIR/target/native/ (WEIR_NATIVE_OUT names another directory).
#
# Zig is the one build.sh installs on first use (build.sh --toolchain), under
# ${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}; the C SDK is PROJECT_DIR/weir-sdk, or
# the directory named by WEIR_SDK_DIR. No C compiler is needed: Zig brings its own.
set -euo pipefail

step() { echo "==> $*" >&2; }
die() {
  echo "error: $*" >&2
  exit 1
}

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT="$(cd "${1:-.}" 2>/dev/null && pwd)" || die "no project directory ${1:-.}"
[[ $# -gt 0 ]] && shift
TOOLCHAINS="${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}"
OUT="${WEIR_NATIVE_OUT:-$PROJECT/target/native}"
SDK="${WEIR_SDK_DIR:-$PROJECT/weir-sdk}"
[[ -f $SDK/include/weir_testing.h && -f $SDK/testing/testing.c ]] ||
  die "no C SDK at $SDK: vendor sdk-guest/c there (or set WEIR_SDK_DIR)"
SDK="$(cd "$SDK" && pwd)"
[[ -f $PROJECT/src/main.zig ]] || die "no $PROJECT/src/main.zig: this runs the tests of a Zig plugin"

shopt -s nullglob
SOURCES=("$PROJECT"/src/*.zig)
TESTS=("$PROJECT"/tests/*.zig)
C_SOURCES=("$PROJECT"/src/*.c)
shopt -u nullglob
[[ ${#TESTS[@]} -gt 0 ]] || grep -qs '^test ' "${SOURCES[@]}" ||
  die "no tests in $PROJECT/tests/ nor in src/: write a .zig file in tests/ with test blocks (see weir_testing.zig)"

ZIG="$(WEIR_TOOLCHAINS="$TOOLCHAINS" "$HERE/../build.sh" --toolchain | sed -n 's/^zig //p')"
[[ -x $ZIG ]] || die "no zig from $HERE/../build.sh --toolchain"
export ZIG_GLOBAL_CACHE_DIR="$TOOLCHAINS/zig-cache"

# The files side by side: the project's, then the SDK's under names a project cannot take.
mkdir -p "$OUT"
rm -f "$OUT"/*.zig
for file in "${SOURCES[@]}" "${TESTS[@]}"; do
  name="$(basename "$file")"
  case "$name" in
    weir.zig | weir_testing.zig | weir_tests.zig)
      die "$file: $name is the name of a file the test runner makes; rename it" ;;
  esac
  [[ -e $OUT/$name ]] && die "$file: src/ and tests/ both have a $name; rename one"
  cp "$file" "$OUT/$name"
done
cp "$HERE/weir_testing.zig" "$OUT/weir_testing.zig"
printf '#include "weir.h"\n#include "weir_json.h"\n#include "weir_testing.h"\n' >"$OUT/weir_all.h"
"$ZIG" translate-c -lc -I"$SDK/include" "$OUT/weir_all.h" >"$OUT/weir.zig"
{
  echo "//! The test program of $(basename "$PROJECT"), made by weir-sdk/zig/testing/run.sh."
  echo "//! The plugin (its exports are what the test double calls, its tests run too) and the"
  echo "//! project's tests."
  echo "comptime {"
  echo "    _ = @import(\"main.zig\");"
  for file in "${TESTS[@]}"; do echo "    _ = @import(\"$(basename "$file")\");"; done
  echo "}"
} >"$OUT/weir_tests.zig"

step "zig test $(basename "$PROJECT") (natively, with the C SDK's test double)"
cd "$PROJECT"
"$ZIG" test "$OUT/weir_tests.zig" -I"$SDK/include" -I"$PROJECT/src" \
  "$SDK"/src/*.c "$SDK/testing/testing.c" "${C_SOURCES[@]}" -lc --name tests "$@"
