#!/usr/bin/env bash
# The whole test suite: installs the peers it needs (idempotently), then formatting, lints,
# and every test of the workspace, interop tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peers.sh
export SIGIL_PEERS_VENV=${SIGIL_PEERS_VENV:-$PWD/.venv-peers}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast
