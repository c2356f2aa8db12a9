#!/usr/bin/env bash
# The smallest Leptos 0.8 *islands* app with one island (a signal, a resource, an ActionForm,
# two server functions), built as Flare's bundle is (wasm-release profile, wasm-bindgen,
# wasm-opt -Oz): its size, raw and Brotli (quality 11). It shows the framework's own floor under
# the 200 KB bundle target. Run: bash tools/bundle-floor/measure.sh
set -euo pipefail
cd "$(dirname "$0")"
# Flare's lock file pins the same Leptos and wasm-bindgen versions.
cp ../../Cargo.lock Cargo.lock
source ../../scripts/lib/tools.sh
ensure_rust_tools
ensure_wasm_opt
export CARGO_TARGET_DIR="$FLARE_CACHE/bundle-floor-target"
cargo build --lib --target wasm32-unknown-unknown --profile wasm-release --features hydrate
out="$(mktemp -d)"
wasm-bindgen --target web --no-typescript --out-dir "$out" \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/bundle_floor.wasm"
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  "$out/bundle_floor_bg.wasm" -o "$out/bundle_floor.wasm"
node -e '
const fs = require("fs"), zlib = require("zlib");
for (const f of process.argv.slice(1)) {
  const raw = fs.readFileSync(f);
  const br = zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
  console.log(`${f.split("/").pop()}: ${(raw.length / 1024).toFixed(1)} KB raw, ${(br.length / 1024).toFixed(1)} KB Brotli`);
}' "$out/bundle_floor.wasm" "$out/bundle_floor.js"
rm -rf "$out" Cargo.lock
