#!/usr/bin/env bash
# Soak (issue 11): the admission webhook at twice its goal load (goal 5,000 reviews/s, so
# 10,000/s is the target) for DURATION seconds (default 600), over TLS on loopback, with the
# warm 3-container Pod of bench/admission/run.sh (same registry, images, signatures, policy).
#
# The load is offered at a constant rate (wrk2-style) by bench/soak/load's `post` mode from
# CONNECTIONS keep-alive connections: a slow answer never delays the schedule, so what the
# server cannot keep up with shows as p99 from the schedule and as requests not sent, never
# as a lower rate that looks healthy. Printed per WINDOW: answers/s, 200s/s, other answers,
# service p50/p99, p99 from the schedule, the webhook's RSS; then the whole-run summary.
# Goals: p99 <= 10 ms in every window at 10,000/s, every answer 200, memory flat.
#
# Environment: DURATION (600), WINDOW (30), CONNECTIONS (64), TARGET_RPS (10000).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
. bench/admission/fixture.sh
DURATION=${DURATION:-600}
WINDOW=${WINDOW:-30}
CONNECTIONS=${CONNECTIONS:-64}
TARGET_RPS=${TARGET_RPS:-10000}
cargo build --release --locked -q -p sigil --bin sigil
target=${CARGO_TARGET_DIR:-$PWD/target}
CARGO_TARGET_DIR=$target cargo build --release -q --manifest-path bench/soak/load/Cargo.toml
sigil=$target/release/sigil
load=$target/release/sigil-soak-load
work=$(mktemp -d)
WH_PID=
REG_PID=
cleanup() { [ -n "$WH_PID" ] && kill "$WH_PID" 2>/dev/null; [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
start_distribution "$work/reg"
cd "$work"
admission_fixture "$sigil" soak
export REVIEW=$work/review.json

"$sigil" admission serve --policy policies --addr 127.0.0.1:0 --tls-self-signed tls 2> wh.log &
WH_PID=$!
WH_ADDR=
for _ in $(seq 200); do
  WH_ADDR=$(sed -n 's|.*serving https://\([^ ]*\).*|\1|p' wh.log)
  [ -n "$WH_ADDR" ] && break
  sleep 0.05
done
[ -n "$WH_ADDR" ] || { cat wh.log >&2; exit 1; }
curl -sk -H 'Content-Type: application/json' --data-binary @review.json "https://$WH_ADDR/mutate" | grep -q '"allowed":true' \
  || { echo "the webhook does not allow the signed pod" >&2; exit 1; }

# Warm-up (caches filled, connections and TLS sessions established) at the goal rate.
"$load" post "https://$WH_ADDR/mutate" --pid "$WH_PID" --rate 5000 --duration 5 --window 5 \
  --connections "$CONNECTIONS" --body review.json --content-type application/json --cacert tls/ca.crt >/dev/null
echo "admission soak: $DURATION s in ${WINDOW} s windows, $TARGET_RPS reviews/s offered at a constant rate (2x the 5,000/s goal) from $CONNECTIONS connections, TLS, $(nproc) cores"
"$load" post "https://$WH_ADDR/mutate" --pid "$WH_PID" --rate "$TARGET_RPS" --duration "$DURATION" \
  --window "$WINDOW" --connections "$CONNECTIONS" --body review.json --content-type application/json --cacert tls/ca.crt
kill -0 "$WH_PID" 2>/dev/null || { echo "the webhook died during the soak" >&2; exit 1; }
