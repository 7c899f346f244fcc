#!/usr/bin/env bash
# Installs the pinned toolchains that build Python and JavaScript plugins into target/toolchains:
#
#   target/toolchains/py   a venv with componentize-py (py/requirements.txt)
#   target/toolchains/js   componentize-qjs, the QuickJS backend of jco (js/package-lock.json;
#                          `npm install`, not `npm ci`: the package lists optional bindings for
#                          platforms it does not publish, which `npm ci` refuses)
#
# Idempotent: each toolchain records the hash of the files that pinned it and is reinstalled only
# when they change, so a second run takes well under a second. Needs python3 (3.9+) with venv and
# npm (Node 18+); everything else comes from PyPI and npm.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DEST="${WARD_TOOLCHAINS:-$ROOT/target/toolchains}"
mkdir -p "$DEST"

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

install_py() {
    local dir="$DEST/py" stamp
    stamp="$(stamp_of "$HERE/py/requirements.txt")"
    if [ -x "$dir/bin/componentize-py" ] && [ "$(cat "$dir/.ward-stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    echo "installing componentize-py into $dir" >&2
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check \
        --requirement "$HERE/py/requirements.txt"
    echo "$stamp" > "$dir/.ward-stamp"
}

install_js() {
    local dir="$DEST/js" stamp
    stamp="$(stamp_of "$HERE/js/package.json" "$HERE/js/package-lock.json")"
    if [ -x "$dir/node_modules/.bin/componentize-qjs" ] && [ "$(cat "$dir/.ward-stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    echo "installing componentize-qjs into $dir" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$HERE/js/package.json" "$HERE/js/package-lock.json" "$dir/"
    (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error)
    echo "$stamp" > "$dir/.ward-stamp"
}

case "${1:-all}" in
    py) install_py ;;
    js) install_js ;;
    all) install_py; install_js ;;
    *) echo "usage: $0 [py|js|all]" >&2; exit 2 ;;
esac
