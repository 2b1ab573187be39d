#!/usr/bin/env bash
# Builds a Weir plugin written in Zig into a WebAssembly component.
#
#   build.sh PROJECT_DIR WORLD OUT_WASM
#   build.sh --toolchain          # only install Zig, print where it is ("zig PATH")
#
# WORLD is consumer-plugin, dedup-filter-plugin or tx-checker-plugin. The project holds its
# Zig sources in PROJECT_DIR/src/ (the root is src/main.zig; other .zig files beside it and
# any .c files are compiled too) and a copy of the C SDK (sdk-guest/c) in
# PROJECT_DIR/weir-sdk/ (or the directory named by WEIR_SDK_DIR). A Zig plugin is a C-SDK
# plugin: it exports the C SDK's functions (weir_consume_batch, weir_dedup_key or
# weir_tx_check) and calls weir.h through `@import("weir.zig")`, which this recipe makes
# with `zig translate-c` (Zig 0.17 has no @cImport).
#
# Toolchain, installed on first use under ${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}:
# Zig (PyPI `ziglang`, which also compiles the C SDK and brings wasi-libc), wasm-tools and
# the WASI reactor adapter (through the C SDK's build.sh --component-tools). No root needed.
set -euo pipefail

ZIG_VERSION=0.17.0
TOOLCHAINS="${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}"

step() { echo "==> $*" >&2; }
die() {
  echo "error: $*" >&2
  exit 1
}

# Zig, under the cache; sets ZIG.
ensure_zig() {
  local dir="$TOOLCHAINS/ziglang-$ZIG_VERSION"
  ZIG="$dir/ziglang/zig"
  [[ -x $ZIG ]] && return 0
  step "installing zig $ZIG_VERSION"
  command -v python3 >/dev/null 2>&1 || die "python3 with pip is needed to install zig"
  rm -rf "$dir.tmp"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$dir.tmp" "ziglang==$ZIG_VERSION" >&2 ||
    die "could not install zig from PyPI: install 'ziglang==$ZIG_VERSION' (pip) or reach pypi.org"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  [[ -x $ZIG ]] || die "the ziglang wheel has no zig binary"
}

if [[ ${1:-} == --toolchain ]]; then
  ensure_zig
  echo "zig $ZIG"
  exit 0
fi

[[ $# -eq 3 ]] || die "usage: build.sh PROJECT_DIR WORLD OUT_WASM"
PROJECT="$(cd "$1" && pwd)"
WORLD="$2"
OUT="$3"
case "$WORLD" in
  consumer-plugin) WORLD_MACRO=WEIR_WORLD_CONSUMER ;;
  dedup-filter-plugin) WORLD_MACRO=WEIR_WORLD_DEDUP_FILTER ;;
  tx-checker-plugin) WORLD_MACRO=WEIR_WORLD_TX_CHECKER ;;
  *) die "unknown world '$WORLD': consumer-plugin, dedup-filter-plugin or tx-checker-plugin" ;;
esac
GEN="${WORLD//-/_}"
SDK="${WEIR_SDK_DIR:-$PROJECT/weir-sdk}"
[[ -f $SDK/include/weir.h && -x $SDK/build.sh ]] ||
  die "no C SDK at $SDK: vendor sdk-guest/c there (or set WEIR_SDK_DIR)"
SDK="$(cd "$SDK" && pwd)"
[[ -f $PROJECT/src/main.zig ]] || die "no $PROJECT/src/main.zig"

ensure_zig
TOOLS="$(WEIR_TOOLCHAINS="$TOOLCHAINS" "$SDK/build.sh" --component-tools)"
WASM_TOOLS="$(sed -n 's/^wasm-tools //p' <<<"$TOOLS")"
ADAPTER="$(sed -n 's/^adapter //p' <<<"$TOOLS")"
export ZIG_GLOBAL_CACHE_DIR="$TOOLCHAINS/zig-cache"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp "$PROJECT"/src/*.zig "$WORK/"
step "zig translate-c weir.h weir_json.h"
printf '#include "weir.h"\n#include "weir_json.h"\n' >"$WORK/weir_all.h"
"$ZIG" translate-c -target wasm32-wasi -lc -I"$SDK/include" "$WORK/weir_all.h" >"$WORK/weir.zig"
shopt -s nullglob
C_SOURCES=("$PROJECT"/src/*.c)
shopt -u nullglob
step "zig build-exe main.zig (wasm32-wasi reactor, $GEN)"
(cd "$WORK" && "$ZIG" build-exe -target wasm32-wasi -fno-entry -mexec-model=reactor \
  -O ReleaseSmall -D"$WORLD_MACRO" -I"$SDK/include" -I"$SDK/gen/$GEN" main.zig \
  "$SDK"/src/*.c "$SDK/gen/$GEN/weir_world.c" "${C_SOURCES[@]}" \
  "$SDK/gen/$GEN/weir_world_component_type.o" -lc -femit-bin="$WORK/core.wasm")
step "wasm-tools component new (WASI reactor adapter)"
mkdir -p "$(dirname "$OUT")"
"$WASM_TOOLS" component new "$WORK/core.wasm" --adapt "wasi_snapshot_preview1=$ADAPTER" -o "$OUT"
"$WASM_TOOLS" validate "$OUT"
step "built $OUT ($(wc -c <"$OUT") bytes)"
