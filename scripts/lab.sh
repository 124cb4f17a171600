#!/usr/bin/env bash
# sigil's main job: the signed-containers lab, end to end, offline, on `sigil up`'s embedded
# stack (registry, transparency log, CA + CT log, OIDC issuer standing in for GitHub Actions).
# Each step prints the lab's command, the sigil command that replaces it, and ✓/✗.
# Exit 0 only if every expectation held, expected failures included.
#
# Runs today: the unsigned v0.1.0 image; Exercise 1 (key pair, sign, verify — with the log);
# Exercise 2 (keyless signing as the workflow owner/cosign-lab/.github/workflows/sign.yml
# @refs/tags/v1.0.0 through the Actions token protocol); Exercise 3 (right identity passes,
# attacker fails, unsigned fails, regexp passes); Exercise 4 (the lab's ClusterPolicy, with
# this stack's registry and log URLs, offline like `kyverno apply` and through the admission
# webhook over TLS: the signed pod is admitted with its digest pin, the unsigned one denied);
# Exercise 5 (SBOM, attest, verify-attestation).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/lib.sh
bash scripts/install-peers.sh >/dev/null
if [ -n "${SIGIL_BIN:-}" ]; then sigil=$SIGIL_BIN; else
  cargo build --release --locked -q -p sigil
  sigil=${CARGO_TARGET_DIR:-$root/target}/release/sigil
fi

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
  if [ "$got" = "$want" ] && cat out.txt err.txt | grep -q -- "$text"; then pass "failed as expected (exit $got: $text)"; else fail "expected exit $want with '$text', got $got"; fi
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

cat > require-signed-images.yml <<POLICY
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-cosign-signature
spec:
  validationFailureAction: Enforce
  background: false
  rules:
    - name: verify-cosign-signature
      match:
        any:
          - resources:
              kinds:
                - Pod
      verifyImages:
        - imageReferences:
            - "$SIGIL_REGISTRY/owner/cosign-lab:*"
          attestors:
            - entries:
                - keyless:
                    subject: "https://github.com/owner/cosign-lab/.github/workflows/sign.yml@refs/tags/*"
                    issuer: "https://token.actions.githubusercontent.com"
                    rekor:
                      url: "$SIGIL_REKOR_URL"
POLICY
pod() { printf '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"%s","namespace":"default","labels":{"run":"%s"}},"spec":{"containers":[{"name":"%s","image":"%s","resources":{}}],"restartPolicy":"Never","dnsPolicy":"ClusterFirst"},"status":{}}' "$1" "$1" "$1" "$2"; }
pod signed-app "$R:v1.0.0" > signed-app.json
pod unsigned-app "$R:v0.1.0" > unsigned-app.json
step "Exercise 4.1: the policy, offline" "kyverno apply require-signed-images.yml --resource pod.yaml" "sigil policy apply --policy require-signed-images.yml --resource …"
expect_ok "signed-app passes the policy" -- "$sigil" policy apply --policy require-signed-images.yml --resource signed-app.json
expect_fail 1 "unsigned-app" -- "$sigil" policy apply --policy require-signed-images.yml --resource unsigned-app.json

step "Exercise 4.2: the admission webhook" "kubectl run signed-app --image=…:v1.0.0 (Kyverno admits)" "sigil admission serve --policy require-signed-images.yml --tls-self-signed tls; AdmissionReview over HTTPS"
"$sigil" admission serve --policy require-signed-images.yml --addr 127.0.0.1:0 --tls-self-signed tls > adm.out 2> adm.err & adm_pid=$!
for _ in $(seq 200); do grep -qo 'https://127.0.0.1:[0-9]*' adm.out adm.err 2>/dev/null && break; sleep 0.05; done
adm_url=$(grep -ho 'https://127.0.0.1:[0-9]*' adm.out adm.err | head -1)
review() { printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"%s","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"name":"%s","namespace":"default","operation":"CREATE","userInfo":{"username":"lab"},"object":%s,"dryRun":false}}' "$1" "$1" "$(cat "$1.json")"; }
admit() { review "$1" | curl -s --cacert tls/ca.crt -H 'Content-Type: application/json' --data-binary @- "$adm_url/mutate/fail"; }
if [ -n "$adm_url" ] && admit signed-app > signed.review && python3 -c 'import json,sys; r=json.load(open("signed.review"))["response"]; sys.exit(0 if r["allowed"] and r.get("patch") else 1)'; then
  python3 -c 'import json,base64; r=json.load(open("signed.review"))["response"]; print("    patch:", base64.b64decode(r["patch"]).decode()[:240])'
  pass "pod/signed-app created (image pinned to its verified digest)"
else cat adm.err signed.review 2>/dev/null; fail "signed pod not admitted"; fi
step "Exercise 4.3: the unsigned pod is denied" "kubectl run unsigned-app --image=…:v0.1.0 (denied)" "the same webhook"
if admit unsigned-app > unsigned.review && python3 -c 'import json,sys; r=json.load(open("unsigned.review"))["response"]; print("    " + r["status"]["message"].replace("\n","\n    ")); sys.exit(1 if r["allowed"] else 0)' && grep -q "was blocked due to the following policies" unsigned.review; then
  pass "denied with Kyverno's message"
else cat unsigned.review 2>/dev/null; fail "unsigned pod not denied"; fi
kill "$adm_pid" 2>/dev/null || true

step "Exercise 5.1: the SBOM" "syft IMAGE:v1.0.0 -o spdx-json > sbom.spdx.json" "sigil sbom IMAGE:v1.0.0 -o spdx-json > sbom.spdx.json"
if "$sigil" sbom "$R:v1.0.0" -o spdx-json > sbom.spdx.json 2> err.txt && grep -q '"spdxVersion": *"SPDX-2.3"' sbom.spdx.json; then pass "SPDX 2.3 document, $(wc -c < sbom.spdx.json) bytes"; else cat err.txt; fail "sbom"; fi

step "Exercise 5.2: attach the SBOM as an attestation" "cosign attest --predicate sbom.spdx.json --type spdxjson --yes IMAGE:v1.0.0" "sigil attest (same flags), as the workflow"
eval "$("$sigil" oidc github-env --repository owner/cosign-lab --workflow .github/workflows/sign.yml --ref refs/tags/v1.0.0)"
expect_ok "in-toto statement signed (DSSE), logged, attached as sha256-<hex>.att" -- "$sigil" attest --predicate sbom.spdx.json --type spdxjson --yes "$R:v1.0.0"
unset ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN
step "Exercise 5.3: verify the attestation" "cosign verify-attestation --type spdxjson --certificate-identity \$ID --certificate-oidc-issuer \$ISS IMAGE:v1.0.0" "sigil verify-attestation (same flags)"
expect_ok "attestation verified: signer, log entry, subject digest, predicate type" -- "$sigil" verify-attestation --type spdxjson --certificate-identity "$ID" --certificate-oidc-issuer "$ISS" "$R:v1.0.0"
expect_fail 12 "none of the expected identities matched" -- "$sigil" verify-attestation --type spdxjson --certificate-identity "https://github.com/attacker/malicious-repo/.github/workflows/build.yml@refs/tags/v1.0.0" --certificate-oidc-issuer "$ISS" "$R:v1.0.0"

echo
if [ "$failures" = 0 ]; then printf '\033[1;32mAll steps held.\033[0m\n'; else printf '\033[1;31m%s step(s) failed.\033[0m\n' "$failures"; exit 1; fi
