#!/usr/bin/env bash
# Builds the realistic image sigil's SBOM accuracy check and benchmark scan, without a Docker
# engine: Debian bookworm minbase (debootstrap) + Debian packages + Python packages
# (pip install --target) + an npm tree + a Go binary + a Rust binary built with
# cargo-auditable + a jar + a layer that deletes some of them (whiteouts).
# Layers are made with umoci (each `umoci repack` writes the diff, with whiteouts for deletions).
#
# Output (default /tmp/sigil-sbom-image):
#   oci/            OCI layout, tag `test`         -> oci-dir:OUT/oci
#   image.oci.tar   the same layout as a tar       -> oci-archive:OUT/image.oci.tar
#   image.docker.tar  docker-save archive (skopeo) -> docker-archive:OUT/image.docker.tar
#
# Needs root, network access to deb.debian.org, PyPI, the npm registry and crates.io, and:
#   apt-get install debootstrap umoci skopeo golang-go npm ; cargo install cargo-auditable
# Takes a few minutes; CI runs it as a separate step (see docs/sbom.md), not in `cargo test`.
set -euo pipefail
out=${1:-/tmp/sigil-sbom-image}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
for tool in debootstrap umoci skopeo go npm cargo-auditable python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install debootstrap umoci skopeo golang-go npm; cargo install cargo-auditable" >&2; exit 1; }
done
mkdir -p "$out"
work="$out/work"
rm -rf "$out/oci" "$out/bundle" "$work" "$out"/image.*.tar
mkdir -p "$work"

# Layer 1: bookworm minbase (cached: debootstrap is the slow part).
if [ ! -f "$out/base.tar" ]; then
  rm -rf "$out/base"
  debootstrap --variant=minbase bookworm "$out/base" "$mirror"
  rm -rf "$out/base/var/cache/apt/archives/"*.deb
  tar -C "$out/base" -cf "$out/base.tar" .
  rm -rf "$out/base"
fi

umoci init --layout "$out/oci"
umoci new --image "$out/oci:test"
umoci config --image "$out/oci:test" --config.cmd /bin/bash --architecture amd64 --os linux
umoci unpack --image "$out/oci:test" "$out/bundle"
root="$out/bundle/rootfs"
tar -C "$root" -xf "$out/base.tar"
umoci repack --refresh-bundle --image "$out/oci:test" "$out/bundle"

# Layer 2: Debian packages (including a Java library jar and a Python module).
cp /etc/resolv.conf "$root/etc/resolv.conf"
chroot "$root" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates curl libcommons-lang3-java python3-six >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*'
umoci repack --refresh-bundle --image "$out/oci:test" "$out/bundle"

# Layer 3: Python packages with pip --target (dist-info directories).
site="$root/usr/local/lib/python3.11/dist-packages"
mkdir -p "$site"
python3 -m pip install -q --disable-pip-version-check --no-compile --target "$site" \
  'requests==2.32.3' 'PyYAML==6.0.2' 'packaging==24.2' 'attrs==24.3.0'
umoci repack --refresh-bundle --image "$out/oci:test" "$out/bundle"

# Layer 4: an npm tree.
mkdir -p "$root/srv/app"
cat > "$root/srv/app/package.json" <<'JSON'
{"name": "sbom-test-app", "version": "1.0.0", "private": true, "license": "MIT",
 "dependencies": {"express": "4.21.2", "lodash": "4.17.21", "@types/node": "22.10.2"}}
JSON
(cd "$root/srv/app" && npm install --no-audit --no-fund --silent >/dev/null)
umoci repack --refresh-bundle --image "$out/oci:test" "$out/bundle"

# Layer 5: a Go binary (with a local replace) and a Rust binary built with cargo-auditable.
mkdir -p "$work/go/dep"
cat > "$work/go/go.mod" <<'MOD'
module example.com/sbomtest

go 1.19

require example.com/dep v0.0.0

replace example.com/dep => ./dep
MOD
printf 'module example.com/dep\n\ngo 1.19\n' > "$work/go/dep/go.mod"
printf 'package dep\n\nfunc Hello() string { return "hello" }\n' > "$work/go/dep/dep.go"
printf 'package main\n\nimport (\n\t"fmt"\n\t"example.com/dep"\n)\n\nvar version = "dev"\n\nfunc main() { fmt.Println(dep.Hello(), version) }\n' > "$work/go/main.go"
(cd "$work/go" && GOFLAGS=-mod=mod GOPROXY=off go build -ldflags "-X main.version=1.2.3" -o "$root/usr/local/bin/gohello" .)
mkdir -p "$work/rust/src"
cat > "$work/rust/Cargo.toml" <<'TOML'
[package]
name = "rusthello"
version = "0.3.1"
edition = "2021"

[dependencies]
itoa = "=1.0.14"
smallvec = "=1.13.2"
TOML
printf 'fn main() { let mut b = itoa::Buffer::new(); let v: smallvec::SmallVec<[u8; 4]> = smallvec::smallvec![1]; println!("{} {}", b.format(42), v.len()); }\n' > "$work/rust/src/main.rs"
(cd "$work/rust" && CARGO_TARGET_DIR="$out/rust-target" cargo auditable build --release -q)
cp "$out/rust-target/release/rusthello" "$root/usr/local/bin/rusthello"
umoci repack --refresh-bundle --image "$out/oci:test" "$out/bundle"

# Layer 6: a jar with Maven metadata (pom.properties and a manifest).
mkdir -p "$work/jar/META-INF/maven/com.example/sbom-demo" "$work/jar/com/example"
printf 'groupId=com.example\nartifactId=sbom-demo\nversion=2.4.0\n' > "$work/jar/META-INF/maven/com.example/sbom-demo/pom.properties"
printf 'Manifest-Version: 1.0\nImplementation-Title: sbom-demo\nImplementation-Version: 2.4.0\n\n' > "$work/manifest.mf"
printf 'demo' > "$work/jar/com/example/Demo.txt"
mkdir -p "$root/opt/app"
(cd "$work/jar" && jar cfm "$root/opt/app/sbom-demo-2.4.0.jar" "$work/manifest.mf" .)
umoci repack --refresh-bundle --image "$out/oci:test" "$out/bundle"

# Layer 7: deletions (whiteouts): a pip package and an npm package.
rm -rf "$site/yaml" "$site/_yaml" "$site"/PyYAML-*.dist-info "$root/srv/app/node_modules/lodash"
rm -f "$root/etc/resolv.conf"
umoci repack --refresh-bundle --image "$out/oci:test" "$out/bundle"
umoci gc --layout "$out/oci"

tar -C "$out/oci" -cf "$out/image.oci.tar" .
skopeo copy -q "oci:$out/oci:test" "docker-archive:$out/image.docker.tar:sbom-test:latest"
rm -rf "$out/bundle" "$work"
echo "built: oci-dir:$out/oci  oci-archive:$out/image.oci.tar  docker-archive:$out/image.docker.tar" >&2
