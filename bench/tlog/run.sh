#!/usr/bin/env bash
# Load benchmark of `sigil tlog` (see crates/sigil-tlog/benches/load.rs for what it measures).
# Usage: bench/tlog/run.sh                      # sizes 0 and 1 M, 20k appends, 20k proof reads
#        TLOG_BENCH_SIZES=0,1000000,10000000 TLOG_BENCH_DIR=/var/tmp/tlog bench/tlog/run.sh
# No Rekor peer runs beside it: Rekor v1 needs Trillian + MySQL (not installable here), so the
# output prints the published anchors of reference/perf.md instead of measured peer ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo bench -p sigil-tlog --bench load
