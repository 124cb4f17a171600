#!/usr/bin/env bash
# Benchmark (issue 9): the admission webhook under load, over TLS on loopback, with wrk.
#
#   warm:  reviews/s, p50 and p99 for a 3-container Pod whose verdicts are cached
#   cold:  p99 with every cache disabled (--cache-ttl 0s --negative-cache-ttl 0s --tag-ttl 0s):
#          each review resolves 3 tags, fetches 3 .sig manifests and payloads from the local
#          registry and verifies 3 signatures
#   RSS:   resident memory after warm-up and after REVIEWS (default 1,000,000) reviews
#
# The peer in the same run: sigstore-rs 0.15's cosign verifier (`rs-cosign-verify`,
# crates/sigil-interop) verifying the same three images one after the other, as Kyverno
# does (it verifies images sequentially, reference §2), against the same registry. Kyverno
# itself needs a cluster; its published figure (37.7 ms average at 100 VUs, 1 replica,
# 17 validate policies and no image verification: reference/perf.md §6) is printed as the
# anchor. Goals on 2 cores: >= 5,000 reviews/s and p99 <= 10 ms warm; cold p99 <= 50 ms;
# memory flat.
#
# Environment: REVIEWS (default 1000000), WARM_SECONDS (default 20), COLD_SECONDS (default
# 10), CONNECTIONS (warm runs, one per value, default "8 32 64"; wrk shares the same 2 cores;
# the RSS run uses the first), N (peer runs, default 11).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
. bench/admission/fixture.sh
REVIEWS=${REVIEWS:-1000000}
WARM_SECONDS=${WARM_SECONDS:-20}
COLD_SECONDS=${COLD_SECONDS:-10}
CONNECTIONS=${CONNECTIONS:-8 32 64}
first_c=${CONNECTIONS%% *}
N=${N:-11}
command -v wrk >/dev/null || { echo "wrk is missing: run bash scripts/install-peers.sh (apt install wrk)" >&2; exit 1; }
cargo build --release --locked -q -p sigil -p sigil-interop --bins
sigil=$PWD/target/release/sigil
rsv=$PWD/target/release/rs-cosign-verify
lua=$PWD/bench/admission/post.lua
work=$(mktemp -d)
WH_PID=
cleanup() { [ -n "$WH_PID" ] && kill "$WH_PID" 2>/dev/null; kill "$REG_PID" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
start_distribution "$work/reg"
cd "$work"
admission_fixture "$sigil" bench
export REVIEW=$work/review.json

WH_RUN=0
start_webhook() {
  WH_RUN=$((WH_RUN + 1))
  local log=wh-$WH_RUN.log
  : > "$log"
  "$sigil" admission serve --policy policies --addr 127.0.0.1:0 --tls-self-signed tls "$@" 2> "$log" &
  WH_PID=$!
  for _ in $(seq 200); do
    WH_ADDR=$(sed -n 's|.*serving https://\([^ ]*\).*|\1|p' "$log")
    [ -n "$WH_ADDR" ] && return 0
    sleep 0.05
  done
  cat "$log" >&2; return 1
}
stop_webhook() { kill "$WH_PID"; wait "$WH_PID" 2>/dev/null || true; WH_PID=; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$WH_PID/status"; }
run_wrk() { wrk "$@" --timeout 5s -s "$lua" "https://$WH_ADDR/mutate" | grep '^RESULT'; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

# Every answer must be an allow with a patch before anything is timed.
start_webhook
curl -sk -H 'Content-Type: application/json' --data-binary @review.json "https://$WH_ADDR/mutate" | grep -q '"allowed":true' \
  || { echo "the webhook does not allow the signed pod" >&2; exit 1; }

# Warm, at each connection count.
run_wrk -t2 -c"$first_c" -d3s >/dev/null
declare -A warm_at
for c in $CONNECTIONS; do
  warm_at[$c]=$(run_wrk -t2 -c"$c" -d"${WARM_SECONDS}s")
done
warm=${warm_at[$first_c]}
rps=$(echo "$warm" | field rps)

# RSS over REVIEWS reviews at the warm rate.
rss0=$(rss_kb)
secs=$(awk -v n="$REVIEWS" -v r="$rps" 'BEGIN {s = int(n / r) + 1; print s}')
long=$(run_wrk -t2 -c"$first_c" -d"${secs}s")
rss1=$(rss_kb)
stop_webhook

# Cold: no cache at all; one connection, so single-flight never merges two reviews.
start_webhook --cache-ttl 0s --negative-cache-ttl 0s --tag-ttl 0s
cold=$(run_wrk -t1 -c1 -d"${COLD_SECONDS}s")
stop_webhook

# Peer: sigstore-rs verifying the same three images in sequence, whole process each.
"$rsv" --key cosign.pub "${images[0]}" >/dev/null
peer() { for i in "${images[@]}"; do "$rsv" --key cosign.pub "$i" >/dev/null; done; }
p=$(time_runs "$N" peer | median)

echo "admission webhook, 3-container Pod, TLS on loopback, wrk, $(nproc) cores:"
for c in $CONNECTIONS; do
  w=${warm_at[$c]}
  echo "  warm  $c connections: $(echo "$w" | field rps) reviews/s, p50 $(echo "$w" | field p50_ms) ms, p99 $(echo "$w" | field p99_ms) ms, non-2xx/errors $(echo "$w" | field errors)   (goal >= 5000/s, p99 <= 10 ms)"
done
echo "  cold  p50 $(echo "$cold" | field p50_ms) ms, p99 $(echo "$cold" | field p99_ms) ms ($(echo "$cold" | field requests) reviews, every signature fetched and verified)   (goal p99 <= 50 ms)"
echo "  RSS   $((rss0 / 1024)) MiB after warm-up, $((rss1 / 1024)) MiB after $(echo "$long" | field requests) more reviews"
echo "peer, same run: sigstore-rs 0.15 verifying the 3 images sequentially (whole process each): median ${p} ms"
awk -v c="$(echo "$cold" | field p50_ms)" -v p="$p" 'BEGIN {printf "  ratio peer / sigil cold p50 = %.1fx\n", p / c}'
awk -v w="$(echo "$warm" | field p50_ms)" 'BEGIN {printf "anchor: Kyverno 37.7 ms average at 100 VUs without image verification (published); sigil warm p50 is %.1fx lower\n", 37.7 / w}'
