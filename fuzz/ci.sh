#!/usr/bin/env bash
# CI's short fuzzing run: builds every target with the stable toolchain and runs each for
# FUZZ_SECONDS (default 5) from its seeded corpus. A crash fails the run; the input that
# crashed is in fuzz/artifacts/<target>/ (replay it with the binary printed below, or with
# `cargo +nightly fuzz run <target> <file>`). The long runs are fuzz/run-all.sh (nightly and
# cargo-fuzz, which adds the sanitizer builds).
#
# Instrumentation: the coverage flags cargo-fuzz passes to rustc (libFuzzer's
# inline 8-bit counters, PC table and compare tracing), all plain -C options that stable
# accepts, with --cfg fuzzing; --target keeps build scripts and proc macros uninstrumented.
# The `fuzz-ci` profile (fuzz/Cargo.toml) trades speed of the fuzzed code for build time.
#   bash fuzz/ci.sh               FUZZ_SECONDS=60 bash fuzz/ci.sh
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${FUZZ_SECONDS:-5}
host=x86_64-unknown-linux-gnu
# Its own target directory: different RUSTFLAGS would otherwise rebuild the workspace's.
target_dir=${FUZZ_TARGET_DIR:-$PWD/../target/fuzz-ci}
bash seed.sh > /dev/null
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing" \
  CARGO_TARGET_DIR=$target_dir cargo build --profile fuzz-ci --target "$host" --bins
bin=$target_dir/$host/fuzz-ci
failed=0
for t in $(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^sigil-fuzz$'); do
  mkdir -p "artifacts/$t"
  log=$(mktemp)
  if "$bin/$t" "corpus/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=30 \
      -artifact_prefix="artifacts/$t/" > "$log" 2>&1; then r=ok; else r=CRASH; failed=1; fi
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log")
  printf 'fuzz %-18s %-6s %10s runs %6s corpus files\n' "$t" "$r" "${runs:-?}" "$(ls "corpus/$t" | wc -l)"
  if [ "$r" != ok ]; then
    grep -m5 -E 'panicked at|SUMMARY|ERROR|Test unit written' "$log" || tail -20 "$log"
    echo "replay: $bin/$t artifacts/$t/<file>"
  fi
  rm -f "$log"
done
exit "$failed"
