#!/usr/bin/env bash
# Inclusion-proof GETs at fixed offered rates (wrk2-style, bench/soak/load) against a log
# pre-loaded by bench/tlog/run.sh: `GET /api/v1/log/entries?logIndex=<random below SIZE>`
# (entry, SET, inclusion proof, checkpoint) from CONNECTIONS connections, service and
# from-schedule p99 per rate. The log's files are read once first (WARM=0 skips it), so the
# figures are the page-cached service time; with a cold cache every proof waits for the disk.
# Usage: TLOG_BENCH_SIZES=0,10000000 TLOG_BENCH_DIR=/var/tmp/tlog bash bench/tlog/run.sh
#        bash bench/tlog/proof-rate.sh /var/tmp/tlog/sigil-tlog-bench-10000000
# Environment: RATES ("2000 5000 10000"), SECONDS_EACH (20), CONNECTIONS (64), WARM (1).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
dir=${1:?usage: bench/tlog/proof-rate.sh PRELOADED_LOG_DIR}
[ -d "$dir/tree" ] || { echo "$dir is not a log data directory (no tree/)" >&2; exit 1; }
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --locked -q -p sigil --bin sigil
CARGO_TARGET_DIR=$target cargo build --release -q --manifest-path bench/soak/load/Cargo.toml
work=$(mktemp -d)
LOG_PID=
trap '[ -n "$LOG_PID" ] && kill $LOG_PID 2>/dev/null; wait $LOG_PID 2>/dev/null; rm -rf "$work"' EXIT
start_tlog "$target/release/sigil" "$dir" "$work"
addr=$LOG_ADDR
size=$(curl -sf "http://$addr/api/v1/log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["treeSize"])')
if [ "${WARM:-1}" = 1 ]; then cat "$dir"/tree/*.dat > /dev/null; fi
echo "log of $size entries at $addr; proof GETs at random indices, ${CONNECTIONS:-64} connections"
for r in ${RATES:-2000 5000 10000}; do
  printf 'rate %6s/s: ' "$r"
  "$target/release/sigil-soak-load" get "http://$addr/api/v1/log/entries?logIndex={random:$size}" \
    --pid "$LOG_PID" --rate "$r" --duration "${SECONDS_EACH:-20}" --window "${SECONDS_EACH:-20}" \
    --connections "${CONNECTIONS:-64}" | tail -1
done
echo "goal: proof GET p99 <= 2 ms at 10 M entries"
