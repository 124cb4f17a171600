#!/usr/bin/env bash
# Accuracy check against Syft on the realistic test image (scripts/build-sbom-test-image.sh):
# scans docker-archive and oci-dir with sigil and Syft, prints the package diff per ecosystem,
# and validates sigil's SPDX (pyspdxtools) and CycloneDX (cyclonedx-python-lib, 1.6 schema).
# Exit status 1 if sigil misses a package Syft finds in a covered ecosystem or a document is
# invalid.
#   usage: bench/sbom/accuracy.sh [IMAGE_DIR]   (default /tmp/sigil-sbom-image)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
img=${1:-/tmp/sigil-sbom-image}
venv=${SIGIL_PEERS_VENV:-$here/.venv-peers}
sigil=${SIGIL:-$here/target/release/sigil}
[ -x "$sigil" ] || { echo "build sigil first: cargo build --release -p sigil" >&2; exit 1; }
[ -d "$img/oci" ] || { echo "build the image first: bash scripts/build-sbom-test-image.sh $img" >&2; exit 1; }
export SYFT_CHECK_FOR_APP_UPDATE=false
out=$(mktemp -d)
status=0
for src in "docker-archive:$img/image.docker.tar" "oci-dir:$img/oci"; do
  for scope in squashed all-layers; do
    echo "== $src ($scope)"
    "$sigil" sbom "$src" -q --scope "$scope" -o "json=$out/sigil.json" -o "spdx-json=$out/sigil.spdx.json" -o "cyclonedx-json=$out/sigil.cdx.json"
    "$venv/bin/syft" "$src" -q --scope "$scope" -o "syft-json=$out/syft.json"
    python3 "$here/bench/sbom/compare.py" "$out/sigil.json" "$out/syft.json" || status=1
    if "$venv/bin/pyspdxtools" -i "$out/sigil.spdx.json" >/dev/null; then echo "SPDX: valid (pyspdxtools)"; else echo "SPDX: INVALID"; status=1; fi
    if "$venv/bin/python" - "$out/sigil.cdx.json" <<'PY'
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if err:
    print("CycloneDX: INVALID", err)
    sys.exit(1)
print("CycloneDX: valid (1.6 schema, cyclonedx-python-lib)")
PY
    then :; else status=1; fi
  done
done
rm -rf "$out"
exit $status
