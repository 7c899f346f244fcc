#!/bin/sh
# Builds {{name}}.wasm with componentize-qjs {{componentize_qjs}} (`npm install` first).
set -eu
cd "$(dirname "$0")"
"${COMPONENTIZE_QJS:-node_modules/.bin/componentize-qjs}" --wit wit --js app.js -n {{world}} --sync -o {{name}}.wasm
echo "built {{name}}.wasm" >&2
