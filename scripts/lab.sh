#!/usr/bin/env bash
# sigil's main job: the signed-containers lab, end to end, offline. Builds sigil and the lab's
# application (examples/hello) and runs `sigil lab`, which starts the embedded stack
# (registry, transparency log, CA + CT log, OIDC issuer standing in for GitHub Actions) in
# process on loopback and runs every exercise of the lab: the unsigned v0.1.0 image,
# Exercise 1 (key pair), 2 (keyless in the emulated workflow), 3 (verify by identity,
# attacker, unsigned, regexp), 4 (the lab's ClusterPolicy, offline and through the TLS
# webhook), 5 (SBOM, attest, verify-attestation) and the complete pipeline. Each step prints
# the lab's command, sigil's, ✓/✗ and its time; the exit status is 0 only if every
# expectation held, expected failures included. Arguments are passed to `sigil lab`
# (`--keep`, `--state-dir DIR`, `--app PATH`). No peer tool is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
# Build dependencies: a C compiler (ring), OpenSSL's headers and pkg-config (the log's
# pre-hashed ECDSA/RSA checks). Installed with apt when missing and we are root on Debian.
if [ -z "${SIGIL_BIN:-}" ] && command -v dpkg >/dev/null; then
  missing=$(for p in gcc libc6-dev libssl-dev pkg-config; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi
if [ -n "${SIGIL_BIN:-}" ]; then
  sigil=$SIGIL_BIN
else
  cargo build --release --locked -q -p sigil -p hello
  sigil=${CARGO_TARGET_DIR:-$PWD/target}/release/sigil
fi
exec "$sigil" lab "$@"
