#!/usr/bin/env bash
# Builds a Weir plugin written in Python into a WebAssembly component.
#
#   build.sh PROJECT_DIR WORLD OUT_WASM
#   build.sh --install            (only installs the toolchain; prints its directory)
#
# WORLD is consumer-plugin, dedup-filter-plugin or tx-checker-plugin. The project holds:
#   app.py         the plugin: a class registered with weir.export_consumer (or
#                  export_dedup_filter, export_tx_checker), and any modules it imports
#   weir-sdk/      the vendored SDK (its weir/ package, and wasi-wit/: the WIT of wasi:http)
#   wit/           the WIT contract (plugin.wit); weir-sdk/wit/ is used when absent
#
# The component targets WORLD plus an import of wasi:http/outgoing-handler, which the
# broker provides: the SDK sends urllib.request's requests over it (weir/wasi_http.py).
#
# The toolchain (PyPI componentize-py, pinned) is installed on first use under
# ${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}/componentize-py-VERSION/; it needs
# python3 (3.9 or later) with pip on the PATH.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
TOOLCHAINS=${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}
TOOL_DIR=$TOOLCHAINS/componentize-py-$COMPONENTIZE_PY_VERSION

die() {
    echo "error: $*" >&2
    exit 1
}

need_python() {
    command -v python3 >/dev/null 2>&1 ||
        die "python3 is not installed: install Python 3.9 or later with pip (Debian: apt-get install python3 python3-pip, as root)"
}

install_toolchain() {
    need_python
    if [[ -f $TOOL_DIR/.installed ]]; then
        return
    fi
    python3 -m pip --version >/dev/null 2>&1 ||
        die "pip is not available for python3: install it (Debian: apt-get install python3-pip, as root)"
    echo "==> installing componentize-py $COMPONENTIZE_PY_VERSION into $TOOL_DIR"
    mkdir -p "$TOOLCHAINS"
    local staging
    staging=$(mktemp -d "$TOOLCHAINS/.componentize-py.XXXXXX")
    if ! PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
        --target "$staging" "componentize-py==$COMPONENTIZE_PY_VERSION"; then
        rm -rf "$staging"
        die "could not install componentize-py $COMPONENTIZE_PY_VERSION from PyPI: check that PyPI is reachable (or a pip index is configured), or install it yourself with: python3 -m pip install --target $TOOL_DIR componentize-py==$COMPONENTIZE_PY_VERSION && touch $TOOL_DIR/.installed"
    fi
    touch "$staging/.installed"
    rm -rf "$TOOL_DIR"
    mv "$staging" "$TOOL_DIR"
}

componentize_py() {
    PYTHONPATH=$TOOL_DIR python3 -c \
        'import sys; from componentize_py import script; sys.argv[0] = "componentize-py"; sys.exit(script())' "$@"
}

if [[ ${1:-} == --install ]]; then
    install_toolchain
    echo "$TOOL_DIR"
    exit 0
fi

[[ $# -eq 3 ]] || die "usage: build.sh PROJECT_DIR WORLD OUT_WASM (WORLD: consumer-plugin | dedup-filter-plugin | tx-checker-plugin)"
PROJECT_DIR=$(cd "$1" && pwd)
WORLD=$2
OUT_WASM=$3

case $WORLD in
    consumer-plugin) EXPORT=Consumer FACTORY=consumer_export ;;
    dedup-filter-plugin) EXPORT=DedupFilter FACTORY=dedup_filter_export ;;
    tx-checker-plugin) EXPORT=TxChecker FACTORY=tx_checker_export ;;
    *) die "unknown world $WORLD: consumer-plugin, dedup-filter-plugin or tx-checker-plugin" ;;
esac
[[ -f $PROJECT_DIR/app.py ]] || die "$PROJECT_DIR/app.py not found: the plugin's module is app.py"
[[ -f $PROJECT_DIR/weir-sdk/weir/__init__.py ]] || die "$PROJECT_DIR/weir-sdk/weir/ not found: the project vendors the SDK there"
WIT_DIR=$PROJECT_DIR/wit
[[ -d $WIT_DIR ]] || WIT_DIR=$PROJECT_DIR/weir-sdk/wit
[[ -d $WIT_DIR ]] || die "$PROJECT_DIR/wit/ not found: the project carries the WIT files (plugin.wit) there"
WASI_WIT=$PROJECT_DIR/weir-sdk/wasi-wit
[[ -f $WASI_WIT/http.wit ]] || die "$WASI_WIT/http.wit not found: the vendored SDK is incomplete (copy sdk-guest/python/ again)"
# The package versions the world names: weir:plugin@X.Y.Z of the project's WIT, and the
# vendored wasi:http's.
WEIR_VERSION=$(sed -n 's/^package weir:plugin@\([^;]*\);.*/\1/p' "$WIT_DIR"/*.wit | head -n 1)
HTTP_VERSION=$(sed -n 's/^package wasi:http@\([^;]*\);.*/\1/p' "$WASI_WIT/http.wit")
[[ -n $WEIR_VERSION ]] || die "no 'package weir:plugin@VERSION;' in $WIT_DIR/*.wit"
[[ -n $HTTP_VERSION ]] || die "no 'package wasi:http@VERSION;' in $WASI_WIT/http.wit"

install_toolchain

# The entry module: imports the app (which registers its class) and exposes the SDK's
# export class of the world under the name componentize-py looks for. It and a copy of
# the sources live in a scratch directory, so the component holds only what the plugin
# needs (no tests, caches or build outputs of the project).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/weir-py-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src"
echo "==> collecting sources of $PROJECT_DIR"
(
    cd "$PROJECT_DIR"
    find . -name '*.py' \
        -not -path './weir-sdk/*' -not -path './wit/*' -not -path '*/__pycache__/*' \
        -not -path './.*' -not -path './build/*' -not -path './target/*' \
        -not -name 'test_*.py' -not -name '*_test.py' -not -path './tests/*' -print0 |
        while IFS= read -r -d '' file; do
            mkdir -p "$WORK/src/$(dirname "$file")"
            cp "$file" "$WORK/src/$file"
        done
    mkdir -p "$WORK/src/weir"
    cp weir-sdk/weir/*.py "$WORK/src/weir/"
)
cat >"$WORK/src/_weir_entry.py" <<PY
import app  # noqa: F401  (registers the plugin's class)
from weir._component import $FACTORY

$EXPORT = $FACTORY()
PY

# The world componentized: a package of its own whose world of the same name includes
# the plugin's and imports wasi:http/outgoing-handler; the project's WIT and the vendored
# WASI packages are its dependencies. Both packages have a `types` interface: the
# bindings' module names are fixed so the SDK finds them (weir/_host.py, wasi_http.py).
mkdir -p "$WORK/wit/deps/weir-plugin"
cp "$WIT_DIR"/*.wit "$WORK/wit/deps/weir-plugin/"
if [[ -d $WIT_DIR/deps ]]; then
    cp -R "$WIT_DIR/deps/." "$WORK/wit/deps/"
fi
for file in "$WASI_WIT"/*.wit; do
    [[ -e $WORK/wit/deps/$(basename "$file") ]] || cp "$file" "$WORK/wit/deps/"
done
cat >"$WORK/wit/world.wit" <<WIT
package weir:component;

world $WORLD {
    include weir:plugin/$WORLD@$WEIR_VERSION;
    import wasi:http/outgoing-handler@$HTTP_VERSION;
}
WIT

mkdir -p "$(dirname "$OUT_WASM")"
echo "==> componentize-py -w $WORLD (+ wasi:http/outgoing-handler@$HTTP_VERSION) componentize _weir_entry (app.py) -o $OUT_WASM"
componentize_py -d "$WORK/wit" -w "$WORLD" \
    --import-interface-name "weir:plugin/types@$WEIR_VERSION=types" \
    --import-interface-name "wasi:http/types@$HTTP_VERSION=wasi_http_types" \
    componentize _weir_entry -p "$WORK/src" -o "$OUT_WASM"
echo "==> built $OUT_WASM ($(wc -c <"$OUT_WASM") bytes)"
