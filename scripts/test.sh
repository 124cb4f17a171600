#!/usr/bin/env bash
# The whole test suite: installs the peers it needs (idempotently), then formatting, lints,
# and every test of the workspace, interop tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peers.sh
export SIGIL_PEERS_VENV=${SIGIL_PEERS_VENV:-$PWD/.venv-peers}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The fuzz targets (fuzz/, its own workspace) must build; sharing target/ reuses what clippy
# just checked. Not --locked: a dependency a crate adds must not fail this check before
# fuzz/Cargo.lock is refreshed. Running them needs nightly and cargo-fuzz: see fuzz/Cargo.toml.
CARGO_TARGET_DIR=$PWD/target cargo check --manifest-path fuzz/Cargo.toml --bins
cargo test --workspace --locked --no-fail-fast
