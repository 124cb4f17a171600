#!/usr/bin/env bash
# sigil's main job, end to end on this machine: lab Exercise 1 (key pair, sign by digest,
# verify) against a local registry, plus the failures the lab shows (unsigned image, wrong key,
# tampered signature). Everything runs on 127.0.0.1 and is cleaned up on exit.
#
# What runs today: the steps above. Keyless signing (Exercises 2-3), admission (4) and SBOM
# attestations (5) join as their issues land; see README.md "Status".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/lib.sh
bash scripts/install-peers.sh >/dev/null
cargo build --release --locked -q -p sigil
sigil=$root/target/release/sigil

work=$(mktemp -d)
cleanup() { [ -n "${reg_pid:-}" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pass() { printf '\033[32m✓ %s\033[0m\n' "$*"; }
fail() { printf '\033[31m✗ %s\033[0m\n' "$*"; exit 1; }
expect_fail() { # expect_fail CODE TEXT -- command...
  local want=$1 text=$2; shift 3
  set +e; out=$("$@" 2>&1); got=$?; set -e
  echo "$out" | sed 's/^/    /'
  [ "$got" = "$want" ] && echo "$out" | grep -q "$text" && pass "failed as expected (exit $got: $text)" || fail "expected exit $want with '$text', got $got"
}

step "Start a local registry (distribution 2.8) on 127.0.0.1"
start_distribution "$work/reg"; reg_pid=$REG_PID
R=$REG_ADDR/lab/cosign-lab
pass "registry at $REG_ADDR"

step "Build and push the unsigned v0.1.0 and the v1 images (umoci + skopeo, no Docker engine)"
push_image "$work" "$R:v0.1.0" "Hello from an unsigned container!" >/dev/null
digest=$(push_image "$work" "$R:v1" "Hello from a signed container!")
pass "pushed $R:v1 = $digest"

export COSIGN_PASSWORD=lab-pass
step "Exercise 1: cosign generate-key-pair  ->  sigil generate-key-pair"
"$sigil" generate-key-pair && pass "cosign.key (encrypted) and cosign.pub written"

step "cosign sign --key cosign.key IMAGE  ->  sigil sign --key cosign.key --tlog-upload=false IMAGE@DIGEST"
"$sigil" sign --key cosign.key --tlog-upload=false -y "$R@$digest" && pass "signature stored at $R:sha256-${digest#sha256:}.sig"

step "cosign verify --key cosign.pub IMAGE  ->  sigil verify --key cosign.pub --insecure-ignore-tlog IMAGE"
"$sigil" verify --key cosign.pub --insecure-ignore-tlog "$R:v1" && pass "verified"

step "The unsigned v0.1.0 image fails: no signatures found (exit 10)"
expect_fail 10 "no signatures found" -- "$sigil" verify --key cosign.pub --insecure-ignore-tlog "$R:v0.1.0"

step "Another key fails: no matching signatures (exit 12)"
"$sigil" generate-key-pair --output-key-prefix attacker >/dev/null 2>&1
expect_fail 12 "no matching signatures" -- "$sigil" verify --key attacker.pub --insecure-ignore-tlog "$R:v1"

step "A signature replayed onto another image fails: its claim names another digest (exit 12)"
d2=$(push_image "$work" "$R:v2" "Hello from another container!")
skopeo --policy policy.json copy -q --src-tls-verify=false --dest-tls-verify=false \
  "docker://$R:sha256-${digest#sha256:}.sig" "docker://$R:sha256-${d2#sha256:}.sig"
expect_fail 12 "invalid or missing digest in claim" -- "$sigil" verify --key cosign.pub --insecure-ignore-tlog "$R:v2"

printf '\n\033[1;32mAll steps held.\033[0m\n'
