#!/usr/bin/env bash
# Tests the Python SDK and plugins natively, then builds every Python plugin into
# plugins/target/components/python/<plugin>.wasm. The toolchain comes from build.sh
# (installed on first use under $WEIR_TOOLCHAINS).
set -euo pipefail

SDK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SDK/../.." && pwd)
OUT=$ROOT/plugins/target/components/python

# project dir, world, component name
PROJECTS=(
    "plugins/python/forwarder consumer-plugin forwarder"
    "plugins/python/json-dedup dedup-filter-plugin json-dedup"
    "tests/plugins/python/ack-all consumer-plugin ack-all"
)

"$SDK/build.sh" --install

echo "==> python -m unittest (sdk-guest/python)"
(cd "$SDK" && PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=. python3 -m unittest discover -s tests -q)
for project in "${PROJECTS[@]}"; do
    read -r dir _ _ <<<"$project"
    echo "==> python -m unittest ($dir)"
    (cd "$ROOT/$dir" && PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=weir-sdk python3 -m unittest -q)
done

for project in "${PROJECTS[@]}"; do
    read -r dir world name <<<"$project"
    "$SDK/build.sh" "$ROOT/$dir" "$world" "$OUT/$name.wasm"
done
