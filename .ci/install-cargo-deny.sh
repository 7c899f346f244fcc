#!/usr/bin/env bash
# Installs cargo-deny (licenses, bans, duplicate versions, sources) into target/tools/bin, unless the
# pinned version is already there.
set -euo pipefail
VERSION=0.20.2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/tools/bin/cargo-deny"
if [ -x "$BIN" ] && "$BIN" --version | grep -q " $VERSION"; then
    exit 0
fi
cargo install cargo-deny --version "$VERSION" --locked --root "$ROOT/target/tools"
