#!/usr/bin/env bash
# Regenerates the checked-in WIT bindings under internal/ from wit/plugin.wit and the
# WIT of wasi:http the repository vendors in sdk-guest/python/wasi-wit/ (the imports the
# net/http transport uses), and the vendored copy of the Go runtime package they use
# (go.bytecodealliance.org/pkg, which ships inside the sources of the wit-bindgen-go
# crate).
#
# Needs `wit-bindgen` 0.63 (`cargo install --locked wit-bindgen-cli --version 0.63.0`),
# gofmt (the Go toolchain build.sh installs, or any), and curl to crates.io. Users and CI
# never run this: the output is checked in.
#
#   sdk-guest/go/regenerate-bindings.sh [WIT_DIR [WASI_WIT_DIR]]
#       # defaults: the repository's wit/ and sdk-guest/python/wasi-wit/
set -euo pipefail
sdk="$(cd "$(dirname "$0")" && pwd)"
plugin_wit="${1:-$sdk/../../wit}"
wasi_wit="${2:-$sdk/../python/wasi-wit}"
version=0.63.0
wit_bindgen="${WIT_BINDGEN:-wit-bindgen}"

if ! "$wit_bindgen" --version 2>/dev/null | grep -q " $version"; then
  echo "wit-bindgen $version not found (set WIT_BINDGEN or install it with" >&2
  echo "  cargo install --locked wit-bindgen-cli --version $version)" >&2
  exit 1
fi
if ! command -v gofmt >/dev/null; then
  echo "gofmt not found: put a Go toolchain on PATH" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "==> fetching wit-bindgen-go $version (for its Go runtime package)"
curl -sSfL "https://static.crates.io/crates/wit-bindgen-go/wit-bindgen-go-$version.crate" \
  | tar xz -C "$work"
pkg="$work/wit-bindgen-go-$version/src/pkg"
rm -rf "$sdk/internal/wit"
mkdir -p "$sdk/internal/wit/types"
cp -r "$pkg/wit/runtime" "$sdk/internal/wit/"
# Futures and streams (the async ABI) are not used by the Weir worlds.
cp "$pkg/wit/types/"{option,result,tuple,unit}.go "$sdk/internal/wit/types/"
cp "$pkg/LICENSE" "$sdk/internal/wit/LICENSE"

# One package per WIT interface, shared by the worlds (identical in each), plus one per
# world for its exports (the generated `main` package, renamed).
# Each world is generated as a world of its own package that includes the plugin's and
# imports wasi:http/outgoing-handler, as build.sh embeds a plugin that uses net/http. A
# plugin that does not leaves the wasi:http packages out of its build.
weir_version="$(sed -n 's/^package weir:plugin@\([^;]*\);.*/\1/p' "$plugin_wit"/*.wit | head -n 1)"
http_version="$(sed -n 's/^package wasi:http@\([^;]*\);.*/\1/p' "$wasi_wit/http.wit")"
wit="$work/wit"
mkdir -p "$wit/deps/weir-plugin"
cp "$plugin_wit"/*.wit "$wit/deps/weir-plugin/"
cp "$wasi_wit"/*.wit "$wit/deps/"
for world in consumer-plugin dedup-filter-plugin tx-checker-plugin; do
  printf 'world %s {\n  include weir:plugin/%s@%s;\n  import wasi:http/outgoing-handler@%s;\n}\n\n' \
    "$world" "$world" "$weir_version" "$http_version"
done | { echo "package weir:component;"; echo; cat; } >"$wit/world.wit"

rm -rf "$sdk/internal/bindings"
for world in consumer-plugin dedup-filter-plugin tx-checker-plugin; do
  echo "==> wit-bindgen go --world $world (+ wasi:http/outgoing-handler@$http_version)"
  "$wit_bindgen" go "$wit" --world "$world" --out-dir "$work/$world" --quiet 2> >(grep -v "^Generating" >&2) >/dev/null
done
declare -A interfaces=(
  [weir_plugin_types]=types [weir_plugin_host]=host [weir_plugin_consumer]=consumer
  [weir_plugin_dedup_filter]=dedupfilter [weir_plugin_tx_checker]=txchecker
  [wasi_http_types]=wasi/httptypes [wasi_http_outgoing_handler]=wasi/outgoinghandler
  [wasi_io_streams]=wasi/streams [wasi_io_poll]=wasi/poll [wasi_io_error]=wasi/ioerror
  [wasi_clocks_monotonic_clock]=wasi/monotonicclock
)
declare -A worlds=(
  [consumer-plugin]=consumerworld [dedup-filter-plugin]=dedupfilterworld
  [tx-checker-plugin]=txcheckerworld
)
for world in "${!worlds[@]}"; do
  for generated in "${!interfaces[@]}"; do
    if [[ -d "$work/$world/$generated" ]]; then
      mkdir -p "$sdk/internal/bindings/${interfaces[$generated]}"
      cp "$work/$world/$generated/"* "$sdk/internal/bindings/${interfaces[$generated]}/"
    fi
  done
  dir="$sdk/internal/bindings/${worlds[$world]}"
  mkdir -p "$dir"
  # The exports only build for WebAssembly, and are a library package, not `main`.
  { echo "//go:build wasip1"; echo; cat "$work/$world/wit_exports.go"; } \
    | sed -e "s/^package main$/package ${worlds[$world]}/" \
          -e '/^\/\/ Unused, but present to make the compiler happy$/d' \
          -e '/^func main() {}$/d' >"$dir/wit_exports.go"
done
# Import paths: the generated module `wit_component` is this module's internal/bindings,
# the runtime package is the vendored copy, and each world's `export_*` package (what
# the generated code calls) is the SDK's hand-written adapter in internal/exports.
find "$sdk/internal/bindings" "$sdk/internal/wit" -name '*.go' -print0 | xargs -0 sed -i \
  -e 's#"go.bytecodealliance.org/pkg/wit/#"weir/internal/wit/#' \
  -e 's#"wit_component/export_weir_plugin_consumer"#"weir/internal/exports/consumer"#' \
  -e 's#"wit_component/export_weir_plugin_dedup_filter"#"weir/internal/exports/dedupfilter"#' \
  -e 's#"wit_component/export_weir_plugin_tx_checker"#"weir/internal/exports/txchecker"#' \
  -e 's#"wit_component/weir_plugin_types"#"weir/internal/bindings/types"#' \
  -e 's#"wit_component/weir_plugin_host"#"weir/internal/bindings/host"#' \
  -e 's#"wit_component/weir_plugin_consumer"#"weir/internal/bindings/consumer"#' \
  -e 's#"wit_component/weir_plugin_dedup_filter"#"weir/internal/bindings/dedupfilter"#' \
  -e 's#"wit_component/weir_plugin_tx_checker"#"weir/internal/bindings/txchecker"#' \
  -e 's#"wit_component/wasi_http_types"#"weir/internal/bindings/wasi/httptypes"#' \
  -e 's#"wit_component/wasi_http_outgoing_handler"#"weir/internal/bindings/wasi/outgoinghandler"#' \
  -e 's#"wit_component/wasi_io_streams"#"weir/internal/bindings/wasi/streams"#' \
  -e 's#"wit_component/wasi_io_poll"#"weir/internal/bindings/wasi/poll"#' \
  -e 's#"wit_component/wasi_io_error"#"weir/internal/bindings/wasi/ioerror"#' \
  -e 's#"wit_component/wasi_clocks_monotonic_clock"#"weir/internal/bindings/wasi/monotonicclock"#'
if grep -rn 'wit_component\|go.bytecodealliance.org' "$sdk/internal/bindings" "$sdk/internal/wit"; then
  echo "unexpected import paths left in the generated code" >&2
  exit 1
fi
gofmt -w "$sdk/internal/bindings" "$sdk/internal/wit"
echo "==> bindings regenerated in $sdk/internal/bindings"
