#!/usr/bin/env bash
# Soak (issue 11): `sigil tlog serve` at twice its goal load — 10,000 appends/s attempted
# (TARGET_RPS) — for DURATION seconds (default 600), with distinct hashedrekord entries
# (each its own signature, which the log verifies; the generator signs them all before the
# clock starts, and reports only its CPU during the run) sent on a constant schedule from
# CONNECTIONS keep-alive connections by bench/soak/load (wrk2-style: no request is skipped
# because an earlier one was slow). Printed per WINDOW (30 s): appends/s scheduled and
# completed, non-201 answers, service p50/p99, p99 from the scheduled time (includes falling
# behind), and the log's RSS; then RSS at start and end, and the CPU time of the log and
# of the load generator (they share the machine's cores). The same run's setup as
# bench/tlog (an ECDSA log on a fresh data directory, 128 KiB entry limit). The load
# generator shares the machine's cores with the log.
#
# Environment: DURATION (600), WINDOW (30), CONNECTIONS (128), TARGET_RPS (10000),
# TLOG_SOAK_DIR (a fresh temporary directory; the log grows by ~1 KB per entry),
# CARGO_TARGET_DIR (where the release binaries are built; ./target by default).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
DURATION=${DURATION:-600}
WINDOW=${WINDOW:-30}
CONNECTIONS=${CONNECTIONS:-128}
TARGET_RPS=${TARGET_RPS:-10000}
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --locked -q -p sigil --bin sigil
CARGO_TARGET_DIR=$target cargo build --release -q --manifest-path bench/soak/load/Cargo.toml
sigil=$target/release/sigil
load=$target/release/sigil-soak-load
work=$(mktemp -d)
data=${TLOG_SOAK_DIR:-$work/log}
LOG_PID=
cleanup() { [ -n "$LOG_PID" ] && kill "$LOG_PID" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
start_tlog "$sigil" "$data" "$work"
addr=$LOG_ADDR
echo "tlog soak: $DURATION s in $WINDOW s windows, target $TARGET_RPS appends/s (2x the 5,000/s goal), $CONNECTIONS connections, $(nproc) cores"
"$load" tlog "http://$addr" --pid "$LOG_PID" --rate "$TARGET_RPS" --duration "$DURATION" \
  --window "$WINDOW" --connections "$CONNECTIONS" | tee "$work/load.out"
kill -0 "$LOG_PID" 2>/dev/null || { echo "the log died during the soak" >&2; exit 1; }
# Where the two cores went: the log's own CPU, in all and per answered append.
answered=$(sed -n 's/.*answered: \([0-9]*\),.*/\1/p' "$work/load.out")
awk -v hz="$(getconf CLK_TCK)" -v n="${answered:-0}" '{printf "log server CPU: user %.1f s, sys %.1f s (%.0f us per append)\n", $14/hz, $15/hz, n ? ($14+$15)/hz/n*1e6 : 0}' "/proc/$LOG_PID/stat"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "log size after the soak: $(du -sh "$data" | cut -f1)"
