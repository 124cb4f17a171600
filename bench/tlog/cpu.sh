#!/usr/bin/env bash
# CPU per append (issue 11's log soak): runs `sigil tlog serve` on a fresh data directory and
# bench/soak/load (mode tlog: distinct hashedrekord entries, each its own signature) at a fixed
# RATE well below saturation for DURATION seconds, then prints the log's CPU time per answered
# append (from /proc, user + sys) and the load generator's CPU per request during the run (its
# own last line; it signs the entries before the clock starts). At a rate the machine can
# carry these do not depend on how busy the cores are, unlike appends/s.
#
# Environment: RATE (4000), DURATION (20), CONNECTIONS (128), PERF=1 to also record a
# `perf record -g` profile of the log for 10 s in the middle of the run (perf.data in the
# current directory), SIGIL_BIN / LOAD_BIN to use prebuilt binaries.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
RATE=${RATE:-4000}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-128}
target=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${SIGIL_BIN:-}" ]; then
  cargo build --release --locked -q -p sigil --bin sigil
  SIGIL_BIN=$target/release/sigil
fi
if [ -z "${LOAD_BIN:-}" ]; then
  CARGO_TARGET_DIR=$target cargo build --release -q --manifest-path bench/soak/load/Cargo.toml
  LOAD_BIN=$target/release/sigil-soak-load
fi
work=$(mktemp -d)
LOG_PID=
cleanup() { [ -n "$LOG_PID" ] && kill "$LOG_PID" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
start_tlog "$SIGIL_BIN" "$work/log" "$work"
addr=$LOG_ADDR
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
before=$(cpu "$LOG_PID")
PERF_PID=
if [ "${PERF:-}" = 1 ]; then
  ( sleep $((DURATION / 2 - 5)); perf record -g -o perf.data -p "$LOG_PID" -- sleep 10 >/dev/null 2>&1 ) &
  PERF_PID=$!
fi
"$LOAD_BIN" tlog "http://$addr" --pid "$LOG_PID" --rate "$RATE" --duration "$DURATION" \
  --window "$DURATION" --connections "$CONNECTIONS" > "$work/load.out" || true
after=$(cpu "$LOG_PID")
[ -n "$PERF_PID" ] && wait "$PERF_PID"
cat "$work/load.out"
answered=$(sed -n 's/.*answered: \([0-9]*\),.*/\1/p' "$work/load.out")
awk -v a="$answered" -v b="$before" -v e="$after" -v hz="$hz" -v r="$RATE" 'BEGIN {
  printf "offered %d/s for the run; answered %d\n", r, a;
  printf "log server CPU per append: %.1f us\n", (e - b) / hz / a * 1e6;
}'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
