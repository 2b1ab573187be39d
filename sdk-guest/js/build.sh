#!/usr/bin/env bash
# Builds a JavaScript Weir plugin into a WebAssembly component.
#
#   build.sh PROJECT_DIR WORLD OUT_WASM
#   build.sh --install            # only install the toolchain; prints its directory
#
# WORLD is consumer-plugin, dedup-filter-plugin or tx-checker-plugin. The project holds
# its entry module (package.json "main", default index.js), the SDK at weir-sdk/ and the
# WIT package at wit/ (or weir-sdk/wit/). Needs Node.js >= 18 with npm; the pinned
# toolchain (npm @bytecodealliance/jco 1.35.0 and @bytecodealliance/componentize-js
# 0.23.0) is installed on first use under
# ${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}/jco-1.35.0/.
#
# The JavaScript engine ("backend") is, in order: $WEIR_JS_BACKEND, package.json
# "weir": {"backend": ...}, else quickjs.
#   quickjs         QuickJS (componentize-qjs): ~1.7 MiB, compiles in seconds
#   starlingmonkey  SpiderMonkey (componentize-js): ~12 MiB, ~6 s to compile at upload;
#                   has `fetch` (over wasi:http/outgoing-handler, which the broker provides)
#   quickjs-async   QuickJS with the component-model async ABI, which the broker refuses
set -euo pipefail

JCO_VERSION=1.35.0
COMPONENTIZE_JS_VERSION=0.23.0
# preview2-shim 0.26.x breaks componentize ("failed to get path metadata (os error 44)").
PREVIEW2_SHIM_VERSION=0.25.0

say() { echo "==> $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

toolchain_dir() {
  echo "${WEIR_TOOLCHAINS:-$HOME/.cache/weir/toolchains}/jco-$JCO_VERSION"
}

install_toolchain() {
  local dir
  dir="$(toolchain_dir)"
  if [[ -x "$dir/node_modules/.bin/jco" && -f "$dir/.complete" ]]; then
    echo "$dir"
    return
  fi
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
    die "node and npm not found: install Node.js 18 or newer (e.g. apt-get install nodejs npm, as root)"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  ((major >= 18)) || die "Node.js $(node --version) is too old: install Node.js 18 or newer"
  say "installing @bytecodealliance/jco $JCO_VERSION and @bytecodealliance/componentize-js $COMPONENTIZE_JS_VERSION into $dir"
  local staging="$dir.partial.$$"
  rm -rf "$staging"
  mkdir -p "$staging"
  cat >"$staging/package.json" <<JSON
{
  "name": "weir-js-toolchain",
  "private": true,
  "dependencies": {
    "@bytecodealliance/jco": "$JCO_VERSION",
    "@bytecodealliance/componentize-js": "$COMPONENTIZE_JS_VERSION"
  },
  "overrides": {
    "@bytecodealliance/preview2-shim": "$PREVIEW2_SHIM_VERSION",
    "@bytecodealliance/componentize-js": "$COMPONENTIZE_JS_VERSION"
  }
}
JSON
  if ! (cd "$staging" && npm install --no-audit --no-fund --loglevel=error >&2); then
    rm -rf "$staging"
    die "npm could not install @bytecodealliance/jco $JCO_VERSION from $(npm config get registry 2>/dev/null || echo 'the npm registry'): check the network and npm's registry setting (npm config get registry), then build again"
  fi
  touch "$staging/.complete"
  if [[ -f "$dir/.complete" ]]; then
    rm -rf "$staging" # another build installed it meanwhile
  else
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    mv "$staging" "$dir"
  fi
  echo "$dir"
}

if [[ "${1:-}" == "--install" ]]; then
  install_toolchain
  exit 0
fi

[[ $# -eq 3 ]] || die "usage: build.sh PROJECT_DIR WORLD OUT_WASM"
project="$(cd "$1" && pwd)" || die "no project directory $1"
world="$2"
out="$3"
case "$world" in
  consumer-plugin) export_name=consumer factory=consumerExport ;;
  dedup-filter-plugin) export_name=dedupFilter factory=dedupFilterExport ;;
  tx-checker-plugin) export_name=txChecker factory=txCheckerExport ;;
  *) die "unknown world '$world': give consumer-plugin, dedup-filter-plugin or tx-checker-plugin" ;;
esac

[[ -f "$project/weir-sdk/weir.js" ]] || die "$project/weir-sdk/ does not hold the SDK (weir.js)"
if [[ -d "$project/wit" ]]; then
  wit="$project/wit"
elif [[ -d "$project/weir-sdk/wit" ]]; then
  wit="$project/weir-sdk/wit"
else
  die "no WIT package in $project/wit/ (copy wit/plugin.wit of the broker there)"
fi

tools="$(install_toolchain)"
jco="$tools/node_modules/.bin/jco"

# The project's own settings: its entry module and the backend.
read -r main declared_backend < <(cd "$project" && node -e '
  let p = {};
  try { p = JSON.parse(require("fs").readFileSync("package.json", "utf8")); } catch {}
  console.log((p.main || "index.js") + " " + ((p.weir && p.weir.backend) || "-"));
')
backend="${WEIR_JS_BACKEND:-}"
[[ -n "$backend" ]] || { [[ "$declared_backend" != "-" ]] && backend="$declared_backend"; } || true
backend="${backend:-quickjs}"
case "$backend" in
  quickjs | qjs) backend=quickjs flags=(--backend quickjs --backend-qjs-disable-async) ;;
  # QuickJS as jco builds it by default, with component-model async exports: the broker
  # refuses these (ASYNC_ABI_UNSUPPORTED); the suite builds one to prove it.
  quickjs-async) backend=quickjs flags=(--backend quickjs) ;;
  # `http` stays on, for `fetch`: the component imports wasi:http/outgoing-handler.
  # `fetch-event` would export wasi:http/incoming-handler, which no plugin world has.
  starlingmonkey | sm) backend=starlingmonkey flags=(--backend starlingmonkey --disable fetch-event) ;;
  *) die "unknown JavaScript backend '$backend' (WEIR_JS_BACKEND or package.json weir.backend): give quickjs or starlingmonkey" ;;
esac
[[ -f "$project/$main" ]] || die "no entry module $project/$main (package.json \"main\", default index.js)"

# `import ... from "weir"` resolves through node_modules, as `npm install` would link it.
if [[ ! -e "$project/node_modules/weir" ]]; then
  say "linking node_modules/weir -> ../weir-sdk"
  mkdir -p "$project/node_modules"
  ln -sfn ../weir-sdk "$project/node_modules/weir"
fi

# The component's entry: the world's export, adapting the plugin's default export.
build_dir="$project/.weir-build"
mkdir -p "$build_dir"
entry="$build_dir/entry-$world.js"
cat >"$entry" <<JS
// Generated by weir-sdk/build.sh; do not edit.
import * as witHost from 'weir:plugin/host@0.1.0';
import * as plugin from '../$main';
import { $factory } from 'weir/world';
export const $export_name = $factory(plugin, witHost, '$backend');
JS

mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
say "componentize $main ($world, $backend) -> $out"
# The bundler keeps the component's imports (weir:, wasi:) out of the bundle.
bundle_config="$build_dir/bundle.config.mjs"
echo 'export default { external: [/^weir:/, /^wasi:/] };' >"$bundle_config"
(cd "$project" && "$jco" componentize "$entry" --bundle --bundle-config "$bundle_config" \
  --wit "$wit" --world-name "$world" "${flags[@]}" -o "$out" >&2 && echo >&2) ||
  die "componentize failed (see above)"
say "built $out ($(wc -c <"$out") bytes)"
