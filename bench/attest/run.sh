#!/usr/bin/env bash
# Benchmark (issue 8): whole-process `sigil attest` and `sigil verify-attestation` of a 5 MiB
# SPDX predicate on the embedded stack (`sigil up`: registry, log, CA on loopback), against a
# plain `sigil verify` of the same image, in one run. Goal: attest and verify-attestation each
# under 10x the verify time. Everything goes through the log (the default: no
# --tlog-upload=false, no --insecure-ignore-tlog).
# The real peer side by side: sigstore-python 4.5 verifying the same keyless 5 MiB DSSE bundle
# (`sigstore verify identity --offline`) that `sigil verify-attestation` verifies from the
# registry.
# Usage: bench/attest/run.sh   (N=11 runs by default; SIZE_MIB=5)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
N=${N:-11}
SIZE_MIB=${SIZE_MIB:-5}
bash scripts/install-peers.sh >/dev/null
cargo build --release --locked -q -p sigil --bins
target=${CARGO_TARGET_DIR:-$PWD/target}
sigil=$target/release/sigil
venv=${SIGIL_PEERS_VENV:-$PWD/.venv-peers}
work=$(mktemp -d)
"$sigil" up --state-dir "$work/state" --registry-addr 127.0.0.1:0 --tlog-addr 127.0.0.1:0 \
  --ca-addr 127.0.0.1:0 --oidc-addr 127.0.0.1:0 --oidc-email-addr 127.0.0.1:0 >"$work/up.out" 2>"$work/up.err" &
UP_PID=$!
trap 'kill $UP_PID 2>/dev/null; wait $UP_PID 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 400); do grep -q '^# ready' "$work/up.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^# ready' "$work/up.out" || { echo "sigil up did not start: $(cat "$work/up.err")" >&2; exit 1; }
eval "$(grep '^export ' "$work/up.out")"
cd "$work"
export COSIGN_PASSWORD=bench

# A SIZE_MIB SPDX 2.3 document (packages with purls), as Syft would write for a large image.
gen_spdx() { python3 - "$1" <<'PY'
import json, sys
target = int(sys.argv[1]) << 10
doc = {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
       "name": "bench", "documentNamespace": "https://example.com/bench",
       "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: bench"]}, "packages": []}
i = 0
while len(json.dumps(doc)) < target:
    for _ in range(50):
        doc["packages"].append({"name": f"pkg-{i}", "SPDXID": f"SPDXRef-Package-{i}", "versionInfo": f"1.{i}.0",
            "downloadLocation": "NOASSERTION", "licenseConcluded": "NOASSERTION",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                              "referenceLocator": f"pkg:deb/debian/pkg-{i}@1.{i}.0?arch=amd64"}]})
        i += 1
print(json.dumps(doc))
PY
}
gen_spdx $((SIZE_MIB * 1024)) > sbom.spdx.json
gen_spdx 100 > small.spdx.json
echo "predicates: $(stat -c %s sbom.spdx.json) and $(stat -c %s small.spdx.json) bytes" >&2

"$sigil" generate-key-pair >/dev/null 2>&1
# One image per attest run, so each run appends to an empty .att (as a first attestation does).
digests=()
for i in $(seq 0 "$N"); do
  digests+=("$(push_image "$work" "$SIGIL_REGISTRY/bench/app:v$i" "benchmark image $i")")
done
img="$SIGIL_REGISTRY/bench/app@${digests[0]}"
"$sigil" sign --key cosign.key --tlog-upload=false -y "$img" 2>/dev/null
"$sigil" attest --key cosign.key --tlog-upload=false --predicate sbom.spdx.json --type spdxjson -y "$img" 2>/dev/null
# Each must succeed before it is timed.
"$sigil" verify --key cosign.pub --insecure-ignore-tlog "$img" >/dev/null 2>&1
"$sigil" verify-attestation --key cosign.pub --insecure-ignore-tlog --type spdxjson "$img" >/dev/null 2>&1

i=0
attest_one() {
  i=$((i + 1))
  "$sigil" attest --key cosign.key "$@" --type spdxjson -y "$SIGIL_REGISTRY/bench/${REPO:-app}@${digests[$i]}"
}
time_attest() {
  for _ in $(seq "$N"); do s=$(date +%s%N); attest_one "$@" >/dev/null 2>&1 || { echo "attest failed" >&2; return 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000 )); done | awk '{printf "%.2f\n", $1/1000}' | median
}
v=$(time_runs "$N" "$sigil" verify --key cosign.pub --insecure-ignore-tlog "$img" | median)
# The floor of every --key run: decrypting cosign.key (scrypt N=65536, r=8, p=1, as cosign
# writes keys) and nothing else.
kdf=$(time_runs "$N" "$sigil" public-key --key cosign.key | median)
a=$(time_attest --tlog-upload=false --predicate sbom.spdx.json)
va=$(time_runs "$N" "$sigil" verify-attestation --key cosign.pub --insecure-ignore-tlog --type spdxjson "$img" | median)

# With the log (100 KiB predicate): images N+1.. for attest runs.
limg="$SIGIL_REGISTRY/bench/logged@$(push_image "$work" "$SIGIL_REGISTRY/bench/logged:v1" "logged")"
"$sigil" sign --key cosign.key -y "$limg" 2>/dev/null
"$sigil" attest --key cosign.key --predicate small.spdx.json --type spdxjson -y "$limg" 2>/dev/null
"$sigil" verify --key cosign.pub "$limg" >/dev/null 2>&1
"$sigil" verify-attestation --key cosign.pub --type spdxjson "$limg" >/dev/null 2>&1
lv=$(time_runs "$N" "$sigil" verify --key cosign.pub "$limg" | median)
i=0
for j in $(seq "$N"); do digests[$j]=$(push_image "$work" "$SIGIL_REGISTRY/bench/app2:v$j" "log image $j"); done
la=$(REPO=app2 time_attest --predicate small.spdx.json)
lva=$(time_runs "$N" "$sigil" verify-attestation --key cosign.pub --type spdxjson "$limg" | median)

# Keyless bundle: sigil verify-attestation (registry fetch + verify) vs sigstore-python (file).
eval "$("$sigil" oidc github-env --repository owner/bench --workflow .github/workflows/a.yml --ref refs/tags/v1)"
kimg="$SIGIL_REGISTRY/bench/keyless@$(push_image "$work" "$SIGIL_REGISTRY/bench/keyless:v1" "keyless")"
"$sigil" attest --new-bundle-format --bundle b.sigstore.json --predicate small.spdx.json --type spdxjson -y "$kimg" 2>/dev/null
# Lab Exercise 5 as the lab runs it: keyless, the SIZE_MIB predicate, with the log (sigil up's
# log takes entries as large as attest's predicates), against keyless `sigil verify`.
for j in $(seq 0 "$N"); do digests[$j]=$(push_image "$work" "$SIGIL_REGISTRY/bench/lab:v$j" "lab image $j"); done
labimg="$SIGIL_REGISTRY/bench/lab@${digests[0]}"
"$sigil" sign -y "$labimg" 2>/dev/null
"$sigil" attest --predicate sbom.spdx.json --type spdxjson -y "$labimg" 2>/dev/null
kid=https://github.com/owner/bench/.github/workflows/a.yml@refs/tags/v1
kiss=https://token.actions.githubusercontent.com
kvv=$(time_runs "$N" "$sigil" verify --certificate-identity "$kid" --certificate-oidc-issuer "$kiss" "$labimg" | median)
i=0
ka=$(for _ in $(seq "$N"); do i=$((i + 1)); s=$(date +%s%N)
  "$sigil" attest --predicate sbom.spdx.json --type spdxjson -y "$SIGIL_REGISTRY/bench/lab@${digests[$i]}" >/dev/null 2>&1 || { echo "keyless attest failed" >&2; exit 1; }
  e=$(date +%s%N); echo $(( (e - s) / 1000 )); done | awk '{printf "%.2f\n", $1/1000}' | median)
kva=$(time_runs "$N" "$sigil" verify-attestation --type spdxjson --certificate-identity "$kid" --certificate-oidc-issuer "$kiss" "$labimg" | median)
unset ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN GITHUB_ACTIONS
curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$SIGIL_REGISTRY/v2/bench/keyless/manifests/${kimg#*@}" > keyless.manifest
id=https://github.com/owner/bench/.github/workflows/a.yml@refs/tags/v1
iss=https://token.actions.githubusercontent.com
"$venv/bin/sigstore" --trust-config "$SIGIL_TRUST_CONFIG" verify identity --offline --bundle b.sigstore.json \
  --cert-identity "$id" --cert-oidc-issuer "$iss" keyless.manifest >/dev/null 2>&1
"$sigil" verify-attestation --type spdxjson --certificate-identity "$id" --certificate-oidc-issuer "$iss" "$kimg" >/dev/null 2>&1
kv=$(time_runs "$N" "$sigil" verify-attestation --type spdxjson --certificate-identity "$id" --certificate-oidc-issuer "$iss" "$kimg" | median)
py=$(time_runs "$N" "$venv/bin/sigstore" --trust-config "$SIGIL_TRUST_CONFIG" verify identity --offline --bundle b.sigstore.json \
  --cert-identity "$id" --cert-oidc-issuer "$iss" keyless.manifest | median)

echo "attestations of a ${SIZE_MIB} MiB SPDX predicate on sigil up, no log, whole process, median of $N runs on $(nproc) cores:"
echo "  sigil verify --key (baseline)                 ${v} ms"
echo "  sigil public-key --key (the key's scrypt KDF)  ${kdf} ms"
echo "  sigil attest --key (sign, push)               ${a} ms"
echo "  sigil verify-attestation --key                ${va} ms"
awk -v a="$a" -v va="$va" -v v="$v" -v k="$kdf" 'BEGIN {printf "  ratios to verify: attest %.2fx, verify-attestation %.2fx (goal < 10x each); the KDF alone %.2fx\n", a/v, va/v, k/v}'
echo "keyless with the log (lab Exercise 5), ${SIZE_MIB} MiB SPDX predicate:"
echo "  sigil verify --certificate-identity (baseline) ${kvv} ms"
echo "  sigil attest (certificate, sign, log, push)   ${ka} ms"
echo "  sigil verify-attestation --certificate-identity ${kva} ms"
awk -v a="$ka" -v va="$kva" -v v="$kvv" 'BEGIN {printf "  ratios to verify: attest %.2fx, verify-attestation %.2fx (goal < 10x each)\n", a/v, va/v}'
echo "with the log, 100 KiB SPDX predicate:"
echo "  sigil verify --key (baseline)                 ${lv} ms"
echo "  sigil attest --key (sign, log, push)          ${la} ms"
echo "  sigil verify-attestation --key                ${lva} ms"
awk -v a="$la" -v va="$lva" -v v="$lv" 'BEGIN {printf "  ratios to verify: attest %.2fx, verify-attestation %.2fx\n", a/v, va/v}'
echo "keyless bundle referrer, 100 KiB predicate, with the log:"
echo "  sigil verify-attestation (fetch + verify)     ${kv} ms"
echo "  sigstore-python 4.5 verify identity (file)    ${py} ms"
awk -v k="$kv" -v p="$py" 'BEGIN {printf "  ratio sigstore-python/sigil = %.2fx\n", p/k}'
