#!/usr/bin/env bash
# Installs the wasmsign2 CLI used by ward-signing's interop tests into target/tools/bin,
# unless a wasmsign2 binary of the pinned version is already there or on PATH.
set -euo pipefail
VERSION=0.2.8
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/target/tools/bin/wasmsign2"
if [ -x "$BIN" ]; then
    exit 0
fi
if command -v wasmsign2 >/dev/null 2>&1; then
    exit 0
fi
cargo install wasmsign2-cli --version "$VERSION" --locked --root "$ROOT/target/tools"
