#!/usr/bin/env bash
# sigil's main job: the signed-containers lab, end to end, offline, on `sigil up`'s embedded
# stack (registry, transparency log, CA + CT log, OIDC issuer standing in for GitHub Actions).
# Each step prints the lab's command, the sigil command that replaces it, and ✓/✗.
# Exit 0 only if every expectation held, expected failures included.
#
# Runs today: the unsigned v0.1.0 image; Exercise 1 (key pair, sign, verify — with the log);
# Exercise 2 (keyless signing as the workflow owner/cosign-lab/.github/workflows/sign.yml
# @refs/tags/v1.0.0 through the Actions token protocol); Exercise 3 (right identity passes,
# attacker fails, unsigned fails, regexp passes); Exercise 5 step 1 (the SBOM).
# Joining as their issues land: Exercise 4 (admission) and Exercise 5 steps 2-3 (attest).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/lib.sh
bash scripts/install-peers.sh >/dev/null
cargo build --release --locked -q -p sigil
sigil=${CARGO_TARGET_DIR:-$root/target}/release/sigil

work=$(mktemp -d)
cleanup() { [ -n "${up_pid:-}" ] && kill "$up_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

failures=0
step() { printf '\n\033[1m== %s\033[0m\n' "$1"; [ -n "${2:-}" ] && printf '   lab:   %s\n   sigil: %s\n' "$2" "$3"; t0=$(date +%s%N); }
took() { echo "$(( ($(date +%s%N) - t0) / 1000000 )) ms"; }
pass() { printf '\033[32m✓ %s (%s)\033[0m\n' "$*" "$(took)"; }
fail() { printf '\033[31m✗ %s\033[0m\n' "$*"; failures=$((failures + 1)); }
expect_ok() { # expect_ok WHAT -- command...
  local what=$1; shift 2
  if "$@" > out.txt 2> err.txt; then sed 's/^/    /' err.txt | tail -8; pass "$what"; else sed 's/^/    /' err.txt; fail "$what"; fi
}
expect_fail() { # expect_fail CODE TEXT -- command...
  local want=$1 text=$2; shift 3
  set +e; "$@" > out.txt 2> err.txt; local got=$?; set -e
  sed 's/^/    /' err.txt | tail -4
  if [ "$got" = "$want" ] && grep -q -- "$text" err.txt; then pass "failed as expected (exit $got: $text)"; else fail "expected exit $want with '$text', got $got"; fi
}

step "Start the embedded stack" "GHCR + Fulcio + Rekor + GitHub OIDC" "sigil up --state-dir state"
"$sigil" up --state-dir state --registry-addr 127.0.0.1:0 --tlog-addr 127.0.0.1:0 --ca-addr 127.0.0.1:0 \
  --oidc-addr 127.0.0.1:0 --oidc-email-addr 127.0.0.1:0 > up.out 2> up.err & up_pid=$!
for _ in $(seq 200); do grep -q '^# ready' up.out 2>/dev/null && break; sleep 0.05; done
grep -q '^# ready' up.out || { cat up.err; echo "sigil up did not start"; exit 1; }
. state/stack.env
R=$SIGIL_REGISTRY/owner/cosign-lab
pass "registry $SIGIL_REGISTRY, log $SIGIL_REKOR_URL, CA $SIGIL_FULCIO_URL"

step "Build and push the unsigned v0.1.0 image (the baseline workflow)" "docker build/push ghcr.io/OWNER/cosign-lab:v0.1.0" "umoci + skopeo copy (no Docker engine)"
push_image "$work" "$R:v0.1.0" "Hello from an unsigned container!" >/dev/null && pass "pushed $R:v0.1.0"
push_image "$work" "$R:v1" "Hello from a signed container! (key)" >/dev/null
digest=$(push_image "$work" "$R:v1.0.0" "Hello from a signed container!")

export COSIGN_PASSWORD=lab-pass
step "Exercise 1.1: generate a key pair" "cosign generate-key-pair" "sigil generate-key-pair"
expect_ok "cosign.key (encrypted) and cosign.pub written" -- "$sigil" generate-key-pair
step "Exercise 1.2: sign with the key" "cosign sign --key cosign.key IMAGE:v1" "sigil sign --key cosign.key -y IMAGE:v1"
expect_ok "signed; entry in the transparency log; signature in the sha256-<hex>.sig tag" -- "$sigil" sign --key cosign.key -y "$R:v1"
step "Exercise 1.3: verify with the public key" "cosign verify --key cosign.pub IMAGE:v1" "sigil verify --key cosign.pub IMAGE:v1"
expect_ok "verified, log entry checked offline" -- "$sigil" verify --key cosign.pub "$R:v1"
head -c 300 out.txt; echo

step "Exercise 2: keyless signing in the (emulated) GitHub workflow" "cosign sign --yes IMAGE@DIGEST  (in Actions, id-token: write)" "eval \$(sigil oidc github-env …); sigil sign --yes IMAGE@DIGEST"
eval "$("$sigil" oidc github-env --repository owner/cosign-lab --workflow .github/workflows/sign.yml --ref refs/tags/v1.0.0)"
expect_ok "certificate for the workflow identity, tlog entry, signature pushed" -- "$sigil" sign --yes "$R@$digest"
unset ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN

ID="https://github.com/owner/cosign-lab/.github/workflows/sign.yml@refs/tags/v1.0.0"
ISS="https://token.actions.githubusercontent.com"
step "Exercise 3.1: verify by identity" "cosign verify --certificate-identity \$ID --certificate-oidc-issuer \$ISS IMAGE:v1.0.0" "sigil verify (same flags)"
expect_ok "verified: chain, SCT, log entry, identity" -- "$sigil" verify --certificate-identity "$ID" --certificate-oidc-issuer "$ISS" "$R:v1.0.0"
step "Exercise 3.2: the attacker's identity fails" "cosign verify --certificate-identity https://github.com/attacker/… IMAGE:v1.0.0" "sigil verify (same flags)"
expect_fail 12 "none of the expected identities matched what was in the certificate" -- \
  "$sigil" verify --certificate-identity "https://github.com/attacker/malicious-repo/.github/workflows/build.yml@refs/tags/v1.0.0" --certificate-oidc-issuer "$ISS" "$R:v1.0.0"
step "Exercise 3.3: the unsigned image fails" "cosign verify … IMAGE:v0.1.0" "sigil verify … IMAGE:v0.1.0"
expect_fail 10 "no signatures found" -- \
  "$sigil" verify --certificate-identity "https://github.com/owner/cosign-lab/.github/workflows/sign.yml@refs/tags/v0.1.0" --certificate-oidc-issuer "$ISS" "$R:v0.1.0"
step "Exercise 3.4: identity by regular expression" "cosign verify --certificate-identity-regexp 'https://github.com/OWNER/cosign-lab/.*' …" "sigil verify (same flags)"
expect_ok "verified by regexp" -- "$sigil" verify --certificate-identity-regexp "https://github.com/owner/cosign-lab/.*" --certificate-oidc-issuer "$ISS" "$R:v1.0.0"

step "Exercise 5.1: the SBOM" "syft IMAGE:v1.0.0 -o spdx-json > sbom.spdx.json" "sigil sbom IMAGE:v1.0.0 -o spdx-json > sbom.spdx.json"
if "$sigil" sbom "$R:v1.0.0" -o spdx-json > sbom.spdx.json 2> err.txt && grep -q '"spdxVersion": *"SPDX-2.3"' sbom.spdx.json; then pass "SPDX 2.3 document, $(wc -c < sbom.spdx.json) bytes"; else cat err.txt; fail "sbom"; fi

echo
if [ "$failures" = 0 ]; then printf '\033[1;32mAll steps held.\033[0m\n'; else printf '\033[1;31m%s step(s) failed.\033[0m\n' "$failures"; exit 1; fi
