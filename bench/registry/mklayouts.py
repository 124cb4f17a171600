#!/usr/bin/env python3
"""Writes the benchmark's OCI image layouts (stdlib only):
  DIR/big   tag v1: one 50 MiB layer of random bytes
  DIR/many  tag v1: 200 layers of 1-16 KiB random bytes
Layers are typed as uncompressed tar; registries and skopeo (--preserve-digests) copy them
without looking inside, so random bytes measure transfer, not compression."""
import hashlib, json, os, random, sys

def blob(layout, data):
    h = hashlib.sha256(data).hexdigest()
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, h), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}

def image(layout, layers):
    descs = [blob(layout, l) for l in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descs]}}).encode()
    c = blob(layout, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **c),
        "layers": [dict(mediaType="application/vnd.oci.image.layer.v1.tar", **d) for d in descs],
    }).encode()
    m = blob(layout, manifest)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(
            mediaType="application/vnd.oci.image.manifest.v1+json",
            annotations={"org.opencontainers.image.ref.name": "v1"}, **m)]}, f)

out = sys.argv[1]
rng = random.Random(42)
image(os.path.join(out, "big"), [os.urandom(50 * 1024 * 1024)])
image(os.path.join(out, "many"), [rng.randbytes(rng.randint(1024, 16384)) for _ in range(200)])
