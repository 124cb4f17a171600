#!/usr/bin/env bash
# Benchmark (issue 2): whole-process `sigil verify --key` against sigstore-rs 0.15's verifier
# (`rs-cosign-verify`, crates/sigil-interop), same registry, same image, same signature, in one
# run. Prints each tool's median wall time over N runs (default 21) and the ratio.
# Neither checks a transparency log (sigil: --insecure-ignore-tlog; sigstore-rs: no Rekor keys).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${N:-21}
bash scripts/install-peers.sh >/dev/null
cargo build --release --locked -q -p sigil -p sigil-interop --bins
target=${CARGO_TARGET_DIR:-$PWD/target}
sigil=$target/release/sigil
rsv=$target/release/rs-cosign-verify
work=$(mktemp -d); trap 'kill $REG_PID 2>/dev/null; rm -rf "$work"' EXIT
start_distribution "$work/reg"
img=$REG_ADDR/bench/app:v1
digest=$(push_image "$work" "$img" "benchmark image")
cd "$work"
export COSIGN_PASSWORD=bench
"$sigil" generate-key-pair >/dev/null 2>&1
"$sigil" sign --key cosign.key --tlog-upload=false "$REG_ADDR/bench/app@$digest" 2>/dev/null
# Both must verify before they are timed.
"$sigil" verify --key cosign.pub --insecure-ignore-tlog "$img" >/dev/null 2>&1
"$rsv" --key cosign.pub "$img" >/dev/null
s=$(time_runs "$N" "$sigil" verify --key cosign.pub --insecure-ignore-tlog "$img" | median)
r=$(time_runs "$N" "$rsv" --key cosign.pub "$img" | median)
echo "verify --key, whole process, median of $N runs on $(nproc) cores:"
echo "  sigil             ${s} ms"
echo "  sigstore-rs 0.15  ${r} ms"
awk -v s="$s" -v r="$r" 'BEGIN {printf "  ratio sigstore-rs/sigil = %.2fx (goal >= 5x)\n", r/s}'
