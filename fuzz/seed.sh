#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the crates' own testdata (nothing is committed: the corpus
# is rebuilt here and grows as the fuzzer runs). Idempotent. Needs python3 and openssl.
#   bash fuzz/seed.sh && cd fuzz && cargo +nightly fuzz run bundle -- -max_total_time=600
set -euo pipefail
cd "$(dirname "$0")"
T=../crates
C=corpus
mkdir -p "$C"
for t in $(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^sigil-fuzz$'); do mkdir -p "$C/$t"; done

put() { # put TARGET NAME < bytes
  cat > "$C/$1/$2"
}

# Image references and digests.
i=0
for r in alpine ubuntu:24.04 ghcr.io/a/b:v1 localhost:5000/x/y@sha256:$(printf '%064d' 0) \
  '[::1]:5000/a' 127.0.0.1:5000/lab/app:1.0 docker.io/library/nginx:latest \
  sha256:$(printf '%064d' 1) 'registry.example.com/a/b/c:tag@sha512:'$(printf '%0128d' 2); do
  i=$((i + 1))
  printf '%s' "$r" | put image_reference "ref$i"
done

# Key files (encrypted cosign keys, public keys).
cp $T/sigil-core/testdata/keys/*.key $C/key_file/
for f in $T/sigil-verify/testdata/conformance/bundle-verify/*/key.pub; do
  cp "$f" "$C/key_file/$(basename "$(dirname "$f")").pub"
done

# A simple-signing payload as cosign writes it.
printf '%s' '{"critical":{"identity":{"docker-reference":"ghcr.io/a/b"},"image":{"docker-manifest-digest":"sha256:'$(printf '%064d' 0)'"},"type":"cosign container image signature"},"optional":{"creator":"sigil","k":"v"}}' \
  | put simple_signing payload

# Everything the Sigstore bundles carry: the bundles, their envelopes and statements,
# certificates, log entry bodies and checkpoints.
python3 - "$T" "$C" <<'PY'
import base64, glob, json, os, sys
t, c = sys.argv[1], sys.argv[2]
bundles = glob.glob(f"{t}/sigil-verify/testdata/conformance/bundle-verify/*/bundle.sigstore.json") \
    + glob.glob(f"{t}/sigil-core/testdata/rekor/*.sigstore.json")
def put(target, name, data):
    with open(os.path.join(c, target, name), "wb") as f:
        f.write(data)
for i, path in enumerate(sorted(bundles)):
    raw = open(path, "rb").read()
    name = os.path.basename(os.path.dirname(path)) if path.endswith("/bundle.sigstore.json") else os.path.basename(path)
    put("bundle", name, raw)
    try:
        b = json.loads(raw)
    except ValueError:
        continue
    env = b.get("dsseEnvelope")
    if env:
        put("dsse_intoto", name + ".envelope", json.dumps(env).encode())
        put("dsse_intoto", name + ".statement", base64.b64decode(env.get("payload", "")))
    vm = b.get("verificationMaterial", {})
    certs = [vm["certificate"]] if "certificate" in vm else vm.get("x509CertificateChain", {}).get("certificates", [])
    for j, cert in enumerate(certs):
        put("certificate", f"{name}.{j}.der", base64.b64decode(cert.get("rawBytes", "")))
    for j, e in enumerate(vm.get("tlogEntries", [])):
        body = e.get("canonicalizedBody")
        if body:
            put("rekor_entry", f"{name}.{j}.body", base64.b64decode(body))
        cp = (e.get("inclusionProof") or {}).get("checkpoint", {}).get("envelope")
        if cp:
            put("checkpoint", f"{name}.{j}", cp.encode())
PY
cp $T/sigil-ca/testdata/*.der $C/certificate/
cp $T/sigil-verify/testdata/conformance/statement.json $C/dsse_intoto/

# Trust roots.
for f in $T/sigil-verify/testdata/trust/*/trusted_root.json $T/sigil-admission/testdata/trust/*.json; do
  cp "$f" "$C/trusted_root/$(echo "${f#$T/}" | tr / _)"
done

# Manifests and indexes (the registry target's first byte picks the Content-Type).
printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'$(printf '%064d' 0)'","size":2},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"sha256:'$(printf '%064d' 1)'","size":3,"annotations":{"dev.cosignproject.cosign/signature":"MEU="}}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:'$(printf '%064d' 2)'","size":4}}' > /tmp/sigil-seed-manifest
printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:'$(printf '%064d' 0)'","size":2,"platform":{"os":"linux","architecture":"amd64"}}]}' > /tmp/sigil-seed-index
cp /tmp/sigil-seed-manifest $C/oci_manifest/manifest; cp /tmp/sigil-seed-index $C/oci_manifest/index
{ printf '\0'; cat /tmp/sigil-seed-manifest; } | put registry_manifest manifest
{ printf '\1'; cat /tmp/sigil-seed-index; } | put registry_manifest index
rm -f /tmp/sigil-seed-manifest /tmp/sigil-seed-index

# Layers: each Syft fixture directory as a tar, gzip and zstd (when zstd is installed).
for d in $T/sigil-sbom/testdata/syft/*/ $T/sigil-sbom/testdata/rpm/; do
  n=$(basename "$d")
  tar --exclude='EXPECTED*' -C "$d" -cf "$C/sbom_layer/$n.tar" .
  gzip -c "$C/sbom_layer/$n.tar" > "$C/sbom_layer/$n.tar.gz"
  if command -v zstd > /dev/null; then zstd -q -f "$C/sbom_layer/$n.tar" -o "$C/sbom_layer/$n.tar.zst"; fi
done

# Package metadata: the first byte picks the path in fuzz_targets/sbom_package.rs.
pkg() { # pkg SELECTOR FILE
  [ -f "$2" ] || return 0
  { printf "\\$(printf '%03o' "$1")"; cat "$2"; } | put sbom_package "$1.$(echo "$2" | md5sum | cut -c1-8)"
}
S=$T/sigil-sbom/testdata/syft
for f in $S/dpkg-*/var/lib/dpkg/status; do pkg 0 "$f"; done
for f in $S/dpkg-unit-parse/*; do pkg 1 "$f"; done
for f in $S/apk-*/lib/apk/db/installed $S/apk-unit-parse/*; do pkg 2 "$f"; done
for f in $(find $T/sigil-sbom/testdata/rpm -name 'rpmdb.sqlite'); do pkg 3 "$f"; done
for f in $(find $S -name METADATA); do pkg 6 "$f"; done
for f in $(find $S -name PKG-INFO); do pkg 7 "$f"; done
for f in $(find $S -name package.json); do pkg 8 "$f"; done
for f in $(find $S -name package-lock.json); do pkg 9 "$f"; done
for f in $(find $S -name '*.jar' -o -name '*.war'); do pkg 10 "$f"; done
for f in $(find $S -name os-release); do pkg 12 "$f"; done
for f in $(find $S -name copyright); do pkg 13 "$f"; done

# AdmissionReviews (first byte: even = /validate, odd = /mutate) and Kyverno policies.
for f in $T/sigil-admission/testdata/admission/*.json; do
  { printf '\0'; cat "$f"; } | put admission_review "v.$(basename "$f")"
  { printf '\1'; cat "$f"; } | put admission_review "m.$(basename "$f")"
done
cp $T/sigil-admission/testdata/require-signed-images.yml $C/kyverno_policy/
find $T/sigil-admission/testdata/kyverno -name '*.yaml' -o -name '*.yml' | head -200 | while read -r f; do
  cp "$f" "$C/kyverno_policy/$(echo "$f" | md5sum | cut -c1-12).yaml"
done

# Tokens: header 0xFF claims 0xFF signature (see fuzz_targets/ca_token.rs).
tok() { # tok NAME HEADER CLAIMS
  { printf '%s' "$2"; printf '\377'; printf '%s' "$3"; printf '\377'; printf 'sig'; } | put ca_token "$1"
}
CL='{"iss":"http://127.0.0.1:1/fuzz-issuer","sub":"a@example.com","email":"a@example.com","email_verified":true,"aud":"sigstore","iat":1700000000,"exp":4000000000}'
tok rs256 '{"alg":"RS256","typ":"JWT"}' "$CL"
tok none '{"alg":"none","typ":"JWT"}' "$CL"
tok hs256 '{"alg":"HS256","typ":"JWT","kid":"x"}' "$CL"
tok es256 '{"alg":"ES256","typ":"JWT"}' "$CL"

# Certificate requests (first byte: 0 = body, 1 = CSR, 2 = public key PEM).
tmp=$(mktemp -d)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=fuzz \
  -keyout "$tmp/k" -out "$tmp/csr.pem" 2> /dev/null
openssl req -in "$tmp/csr.pem" -outform DER -out "$tmp/csr.der"
openssl pkey -in "$tmp/k" -pubout -out "$tmp/pub.pem"
{ printf '\1'; cat "$tmp/csr.pem"; } | put ca_csr csr-pem
{ printf '\1'; cat "$tmp/csr.der"; } | put ca_csr csr-der
{ printf '\2'; cat "$tmp/pub.pem"; } | put ca_csr pubkey
{ printf '\0'; printf '%s' '{"credentials":{"oidcIdentityToken":"a.b.c"},"certificateSigningRequest":"'"$(base64 -w0 "$tmp/csr.pem")"'"}'; } | put ca_csr body
rm -rf "$tmp"

for d in "$C"/*/; do printf '%-20s %s\n' "$(basename "$d")" "$(ls "$d" | wc -l)"; done
