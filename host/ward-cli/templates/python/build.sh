#!/bin/sh
# Builds {{name}}.wasm with componentize-py {{componentize_py}} (`pip install componentize-py=={{componentize_py}}`).
set -eu
cd "$(dirname "$0")"
"${COMPONENTIZE_PY:-componentize-py}" -d wit -w {{world}} componentize app -o {{name}}.wasm
echo "built {{name}}.wasm" >&2
