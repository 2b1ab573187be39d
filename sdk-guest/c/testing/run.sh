#!/usr/bin/env bash
# Runs the native tests of a C or C++ plugin project against the SDK's in-memory host.
#
#   weir-sdk/testing/run.sh [PROJECT_DIR]     # PROJECT_DIR defaults to the current directory
#
# Compiles the project's src/ and tests/ (*.c with the C compiler, *.cpp and *.cc with the
# C++ compiler) together with the SDK's src/*.c and the test double testing/testing.c, with
# the machine's own compiler (no WebAssembly), links them into one program and runs it: its
# exit status is the tests'. A test is a main() that calls the plugin through
# weir_testing.h (weir_testing_handle, weir_testing_dedup_key, weir_testing_check) and
# returns weir_testing_summary().
#
# Compilers: $CC, or the first of cc, gcc, clang, clang-16; for C++, $CXX, or the first of
# c++, g++, clang++, clang++-16. CFLAGS and CXXFLAGS are added after the SDK's flags (for
# example CFLAGS=-fsanitize=address). The program is written to PROJECT_DIR/target/native/
# (WEIR_NATIVE_OUT names another directory). The SDK is the one this script belongs to.
set -euo pipefail

step() { echo "==> $*" >&2; }
die() {
  echo "error: $*" >&2
  exit 1
}

[[ $# -le 1 ]] || die "usage: testing/run.sh [PROJECT_DIR]"
SDK="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJECT="$(cd "${1:-.}" 2>/dev/null && pwd)" || die "no project directory ${1:-.}"
OUT="${WEIR_NATIVE_OUT:-$PROJECT/target/native}"

shopt -s nullglob
C_SOURCES=("$PROJECT"/src/*.c)
CXX_SOURCES=("$PROJECT"/src/*.cpp "$PROJECT"/src/*.cc)
C_TESTS=("$PROJECT"/tests/*.c)
CXX_TESTS=("$PROJECT"/tests/*.cpp "$PROJECT"/tests/*.cc)
shopt -u nullglob
if [[ $(( ${#C_TESTS[@]} + ${#CXX_TESTS[@]} )) -eq 0 ]]; then
  [[ -f $PROJECT/src/main.zig ]] &&
    die "$PROJECT is a Zig project: its tests run with weir-sdk/zig/testing/run.sh"
  die "no tests in $PROJECT/tests/: write a .c, .cpp or .cc file there with a main() over weir_testing.h"
fi
C_SOURCES+=("${C_TESTS[@]}")
CXX_SOURCES+=("${CXX_TESTS[@]}")

# compiler NAME VALUE CANDIDATES...: sets the array NAME to the command VALUE (a command and
# its arguments, as in CC="ccache gcc") if it is installed, else to the first installed of
# CANDIDATES; leaves it empty when there is none.
compiler() {
  local -n chosen="$1"
  local words=()
  read -ra words <<<"$2"
  shift 2
  chosen=()
  if [[ ${#words[@]} -gt 0 ]]; then
    if command -v "${words[0]}" >/dev/null 2>&1; then chosen=("${words[@]}"); fi
    return 0
  fi
  for candidate in "$@"; do
    if command -v "$candidate" >/dev/null 2>&1; then
      chosen=("$candidate")
      return 0
    fi
  done
}
compiler CC_NATIVE "${CC:-}" cc gcc clang clang-16
[[ ${#CC_NATIVE[@]} -gt 0 ]] || die "${CC:+CC=$CC is not installed; }no C compiler for the native tests \
(the SDK is C): install gcc or clang (Debian, Ubuntu: apt-get install gcc), or set CC"
LINKER=("${CC_NATIVE[@]}")
CXX_NATIVE=()
if [[ ${#CXX_SOURCES[@]} -gt 0 ]]; then
  compiler CXX_NATIVE "${CXX:-}" c++ g++ clang++ clang++-16
  [[ ${#CXX_NATIVE[@]} -gt 0 ]] || die "${CXX:+CXX=$CXX is not installed; }no C++ compiler for the \
native tests: install g++ or clang++ (Debian, Ubuntu: apt-get install g++), or set CXX"
  LINKER=("${CXX_NATIVE[@]}")
fi

EXTRA_CFLAGS=()
EXTRA_CXXFLAGS=()
read -ra EXTRA_CFLAGS <<<"${CFLAGS:-}"
read -ra EXTRA_CXXFLAGS <<<"${CXXFLAGS:-}"
WARNINGS=(-Wall -Wextra -Wno-unused-parameter)
INCLUDES=(-I"$SDK/include" -I"$PROJECT/src")
C_FLAGS=(-std=c11 -g -O1 "${WARNINGS[@]}" -D_POSIX_C_SOURCE=200809L "${INCLUDES[@]}")
# gcc warns that snprintf into the SDK's fixed buffers may truncate, which they handle.
[[ $("${CC_NATIVE[@]}" --version 2>/dev/null) == *clang* ]] || C_FLAGS+=(-Wno-format-truncation)
C_FLAGS+=("${EXTRA_CFLAGS[@]}")
CXX_FLAGS=(-std=c++20 -g -O1 "${WARNINGS[@]}" "${INCLUDES[@]}" "${EXTRA_CXXFLAGS[@]}")

mkdir -p "$OUT"
rm -f "$OUT"/*.o "$OUT/tests"
OBJECTS=()
# compile WHOSE SOURCE COMPILER-AND-FLAGS...: one object, named after whose file it is (sdk,
# src or tests) and the file.
compile() {
  local object="$OUT/$1-$(basename "$2").o" source="$2"
  shift 2
  "$@" -c "$source" -o "$object"
  OBJECTS+=("$object")
}
step "compiling $(basename "$PROJECT") with ${CC_NATIVE[*]}${CXX_NATIVE:+ and ${CXX_NATIVE[*]}} (natively, with the test double)"
for source in "$SDK"/src/*.c "$SDK/testing/testing.c"; do
  compile sdk "$source" "${CC_NATIVE[@]}" "${C_FLAGS[@]}"
done
for source in "${C_SOURCES[@]}"; do
  compile "$(basename "$(dirname "$source")")" "$source" "${CC_NATIVE[@]}" "${C_FLAGS[@]}"
done
for source in "${CXX_SOURCES[@]}"; do
  compile "$(basename "$(dirname "$source")")" "$source" "${CXX_NATIVE[@]}" "${CXX_FLAGS[@]}"
done
"${LINKER[@]}" "${OBJECTS[@]}" -o "$OUT/tests" -lm
step "running $OUT/tests"
"$OUT/tests"
