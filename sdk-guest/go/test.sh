#!/usr/bin/env bash
# Tests the Go SDK and the Go plugins natively, then builds every Go plugin into
# plugins/target/components/go/<plugin>.wasm (the black-box tests load them from there).
# Installs the pinned toolchain first, with build.sh, under
# ${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}.
set -euo pipefail
sdk="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$sdk/../.." && pwd)"
out="$repo/plugins/target/components/go"

eval "$("$sdk/build.sh" --toolchain)"

# The Go plugins of the repository: project directories whose go.mod points at this SDK.
plugins=("$repo"/plugins/go/*/ "$repo"/tests/plugins/go/*/)

echo "==> gofmt"
unformatted="$(gofmt -l "$sdk"/*.go "$sdk/testing" "$sdk/internal/fakehost" "$sdk/internal/exports" "$sdk/internal/wasihttp" "$sdk/internal/wasihttperror" "${plugins[@]}")"
if [[ -n "$unformatted" ]]; then
  echo "not gofmt-formatted:" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "==> go vet and go test (sdk-guest/go)"
(cd "$sdk" && go vet . ./testing ./internal/fakehost ./internal/exports/... ./internal/wasihttp ./internal/wasihttperror &&
  go test . ./testing ./internal/fakehost ./internal/wasihttp)
# The WebAssembly side of the SDK, for each world (the bindings are checked in).
for tag in weir_consumer_plugin weir_dedup_filter_plugin weir_tx_checker_plugin; do
  echo "==> go vet (GOOS=wasip1, -tags $tag)"
  (cd "$sdk" && GOOS=wasip1 GOARCH=wasm go vet -tags "$tag" . ./internal/exports/...)
done
# With net/http: the wasi:http transport (build.sh adds the tag to plugins that use it).
echo "==> go vet (GOOS=wasip1, -tags weir_consumer_plugin,weir_net_http)"
(cd "$sdk" && GOOS=wasip1 GOARCH=wasm go vet -tags weir_consumer_plugin,weir_net_http . ./internal/wasihttp)

for plugin in "${plugins[@]}"; do
  plugin="${plugin%/}"
  name="$(basename "$plugin")"
  echo "==> go vet and go test ($name)"
  (cd "$plugin" && go vet . && go test .)
  if grep -qs 'weir.ExportDedupFilter' "$plugin"/*.go; then
    world=dedup-filter-plugin
  elif grep -qs 'weir.ExportTxChecker' "$plugin"/*.go; then
    world=tx-checker-plugin
  else
    world=consumer-plugin
  fi
  WEIR_WIT_DIR="$repo/wit" "$sdk/build.sh" "$plugin" "$world" "$out/$name.wasm"
done
