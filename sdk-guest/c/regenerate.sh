#!/usr/bin/env bash
# Regenerates gen/, the C bindings of each world of wit/plugin.wit, with wit-bindgen 0.63
# (`cargo install --locked wit-bindgen-cli@0.63.0`). The output is checked in: building a
# plugin never needs wit-bindgen. Every world is renamed `weir_world` so the SDK's glue
# (src/component.c) reads the same for all three.
set -euo pipefail
cd "$(dirname "$0")"
WIT="${1:-../../wit}"
WIT_BINDGEN="${WIT_BINDGEN:-wit-bindgen}"
"$WIT_BINDGEN" --version | grep -q ' 0\.63\.' || { echo "wit-bindgen 0.63 is needed" >&2; exit 1; }
rm -rf gen
for world in consumer-plugin dedup-filter-plugin tx-checker-plugin; do
  "$WIT_BINDGEN" c "$WIT" --world "$world" --rename-world weir_world --out-dir "gen/${world//-/_}"
done
