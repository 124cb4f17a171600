#!/usr/bin/env bash
# Benchmark (issue 5): certificates issued per second by `sigil ca` at 32 concurrent clients,
# token verification (RS256, cached JWKS), proof of possession, precertificate, CT log
# submission (chain check, fsync'd entry, SCT) and final certificate included; p50/p99 latency.
# The peer in the same run is @sigstore/mock's Fulcio behind a loopback HTTP server (a Node
# mock that checks neither token nor proof and keeps its CT log in memory). No real Fulcio can
# be built on this machine (its Go toolchain is too old), so the published TesseraCT figure
# (~600 add-chain/s on 2 vCPU) is printed as the anchor.
#   DURATION=10 CONCURRENCY=32 bash bench/ca/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-32}
command -v node >/dev/null || { echo "node is missing: install Node.js (Debian: apt-get install nodejs npm)" >&2; exit 1; }
[ -d bench/ca/node_modules/@sigstore/mock ] || (cd bench/ca && npm install --no-package-lock --no-audit --no-fund --silent)
cargo build --release --locked -q -p sigil-ca --example ca_bench
work=$(mktemp -d)
peer_pid=
trap '[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/mock"
(cd bench/ca && exec node mock-sigstore-server.js "$port" "$work/mock" >/dev/null 2>"$work/mock.log") &
peer_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
target/release/examples/ca_bench --dir "$work/sigil" --peer "http://127.0.0.1:$port" \
  --duration "$DURATION" --concurrency "$CONCURRENCY"
