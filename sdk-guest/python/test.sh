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
    "plugins/python/http-tx-checker tx-checker-plugin http-tx-checker"
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

# A component is rebuilt only when its inputs changed: the project's and the SDK's
# sources, the WIT files, the recipe and the world.
inputs() {
    (
        cd "$ROOT/$1"
        echo "$2"
        find -L . -type f \( -name '*.py' -o -name '*.wit' -o -name build.sh \) -not -path '*/__pycache__/*' -print0 |
            LC_ALL=C sort -z | xargs -0 sha256sum
    ) | sha256sum | cut -d' ' -f1
}
for project in "${PROJECTS[@]}"; do
    read -r dir world name <<<"$project"
    digest=$(inputs "$dir" "$world")
    if [[ -f $OUT/$name.wasm && -f $OUT/$name.inputs && $(cat "$OUT/$name.inputs") == "$digest" ]]; then
        echo "==> $OUT/$name.wasm is up to date"
        continue
    fi
    rm -f "$OUT/$name.inputs"
    "$SDK/build.sh" "$ROOT/$dir" "$world" "$OUT/$name.wasm"
    echo "$digest" >"$OUT/$name.inputs"
done
