#!/usr/bin/env bash
# The whole test suite: installs the peers it needs (idempotently), then formatting, lints,
# and every test of the workspace, interop tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peers.sh
export SIGIL_PEERS_VENV=${SIGIL_PEERS_VENV:-$PWD/.venv-peers}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every fuzz target (fuzz/, its own workspace) is built with libFuzzer's coverage
# instrumentation on the stable toolchain and run for FUZZ_SECONDS (5) from its seeded corpus;
# a crash fails the run (fuzz/ci.sh). Not --locked: a dependency a crate adds must not fail
# this before fuzz/Cargo.lock is refreshed.
bash fuzz/ci.sh
cargo test --workspace --locked --no-fail-fast
