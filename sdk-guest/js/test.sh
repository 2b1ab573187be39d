#!/usr/bin/env bash
# Tests the JavaScript SDK and plugins, then builds every JavaScript plugin:
#   - installs the toolchain (build.sh --install; cached under $WEIR_TOOLCHAINS),
#   - runs the native unit tests (node --test) of the SDK and of each plugin,
#   - builds plugins/js/* and tests/plugins/js/* into plugins/target/components/js/NAME.wasm.
# Each plugin's package.json names its world ("weir": {"world": ...}) and backend.
# WEIR_JS_BACKEND overrides the backend of every build (quickjs, starlingmonkey), except
# that a plugin declaring starlingmonkey keeps it: it needs it (http-tx-checker awaits
# `fetch`, which QuickJS lacks).
set -euo pipefail
sdk="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$sdk/../.." && pwd)"
out="$repo/plugins/target/components/js"

command -v node >/dev/null 2>&1 || { echo "error: node not found: install Node.js 18 or newer" >&2; exit 1; }

"$sdk/build.sh" --install >/dev/null

echo "==> node --test sdk-guest/js" >&2
(cd "$sdk" && node --test test/)

for project in "$repo"/plugins/js/*/ "$repo"/tests/plugins/js/*/; do
  [[ -f "$project/package.json" ]] || continue
  project="${project%/}"
  name="$(basename "$project")"
  # The checked-in weir-sdk and wit symlinks point into this repository; the SDK is
  # reached as the package `weir`, as `npm install` would link it.
  if [[ ! -e "$project/node_modules/weir" ]]; then
    mkdir -p "$project/node_modules"
    ln -sfn ../weir-sdk "$project/node_modules/weir"
  fi
  echo "==> node --test ${project#"$repo"/}" >&2
  (cd "$project" && node --test test/)
  read -r world backend < <(cd "$project" && node -p '
    const weir = JSON.parse(require("fs").readFileSync("package.json", "utf8")).weir;
    `${weir.world} ${weir.backend || "quickjs"}`')
  if [[ "$backend" == starlingmonkey ]]; then
    WEIR_JS_BACKEND=starlingmonkey "$sdk/build.sh" "$project" "$world" "$out/$name.wasm"
  else
    "$sdk/build.sh" "$project" "$world" "$out/$name.wasm"
  fi
done

# The same consumer with the component-model async ABI (jco's QuickJS default), for the
# test that the broker refuses it at once.
WEIR_JS_BACKEND=quickjs-async "$sdk/build.sh" "$repo/tests/plugins/js/ack-all" consumer-plugin \
  "$out/ack-all-async.wasm"
