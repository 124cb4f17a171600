#!/usr/bin/env bash
# Runs every fuzz target in turn for SECONDS each (default 600, the issue's figure), seeding
# the corpora first, and prints one line per target: runs, corpus size, crashes. Needs the
# nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). Crashes land in
# fuzz/artifacts/<target>/; reproduce with `cargo +nightly fuzz run <target> <file>`.
#   bash fuzz/run-all.sh 600          # JOBS=2 bash fuzz/run-all.sh 600: two targets at a time
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-600}
bash seed.sh > /dev/null
cargo +nightly fuzz build --sanitizer none
bin=target/x86_64-unknown-linux-gnu/release
export SECONDS_EACH bin TIMEOUT=${TIMEOUT:-30}
one() { # one TARGET: prints its line, exits 1 on a crash
  t=$1
  mkdir -p "artifacts/$t"
  log=$(mktemp)
  if "$bin/$t" "corpus/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout="$TIMEOUT" \
      -artifact_prefix="artifacts/$t/" > "$log" 2>&1; then r=ok; else r=CRASH; fi
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log")
  printf '%-18s %-6s %10s runs %6s corpus files %s\n' "$t" "$r" "${runs:-?}" "$(ls "corpus/$t" | wc -l)" \
    "$(grep -m1 -E 'panicked at|SUMMARY' "$log" || true)"
  rm -f "$log"
  [ "$r" = ok ]
}
export -f one
# JOBS targets at a time (default 1): libFuzzer's time limit is wall-clock time. TIMEOUT (30 s) is
# per input, also wall-clock: key_file runs the real scrypt KDF (up to N = 2^17, ~0.5 s of CPU),
# which a loaded machine can stretch past 10 s.
cargo +nightly fuzz list | xargs -P "${JOBS:-1}" -I{} bash -c 'one {}'
