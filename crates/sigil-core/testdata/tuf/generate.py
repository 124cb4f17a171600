#!/usr/bin/env python3
"""Regenerates crates/sigil-core/testdata/tuf/ with python-tuf, the TUF reference implementation.

Run from the workspace root with the peers' venv (scripts/install-peers.sh installs python-tuf):
    .venv-peers/bin/python crates/sigil-core/testdata/tuf/generate.py

Keys come from fixed seeds, so Ed25519 signatures are reproducible; ECDSA signatures are not
(python's `cryptography` uses random nonces), so a rerun changes those bytes only.

repo/: a consistent-snapshot repository in two states. v1: root 1 (root keys A ecdsa + B
ed25519, threshold 2), timestamp/snapshot/targets 1. v2: root 2 rotates the root keys to
B + C (threshold 2, signed by A, B and C), timestamp/snapshot/targets 2 with new target bytes,
signing_config.v0.2.json and a delegated role `extra`. timestamp.json is the v2 one.
attacks/: validly signed files for the rollback, expiry and rotation tests.
plain/: a repository without consistent snapshots (`snapshot.json`, `targets/trusted_root.json`).
"""

import copy
import hashlib
import json
import os
import shutil
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../../../.."))
EXPIRES = datetime(2100, 1, 1, tzinfo=timezone.utc)
EXPIRED = datetime(2020, 1, 1, tzinfo=timezone.utc)


def ecdsa(n):
    key = ec.derive_private_key(n, ec.SECP256R1())
    return CryptoSigner(key, SSlibKey.from_crypto(key.public_key()))


def eddsa(seed):
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    return CryptoSigner(key, SSlibKey.from_crypto(key.public_key()))


A, B, C = ecdsa(0xA11CE), eddsa(0xB0), ecdsa(0xC0FFEE)
T, S, G = eddsa(0x71), ecdsa(0x5AFE), ecdsa(0x6001)

OUT = os.path.join(HERE, "repo")
ATTACKS = os.path.join(HERE, "attacks")
PRETTY = JSONSerializer(compact=False)


def write(path, md, *signers):
    md.signatures.clear()
    for s in signers:
        md.sign(s, append=True)
    data = md.to_bytes(PRETTY)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return data


def meta(data, version):
    return MetaFile(version=version, length=len(data), hashes={"sha256": hashlib.sha256(data).hexdigest()})


def target(name, data):
    t = TargetFile.from_data(name, data, ["sha256", "sha512"])
    for h in t.hashes.values():
        path = os.path.join(OUT, "targets", os.path.dirname(name), f"{h}.{os.path.basename(name)}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return t


def root(version, root_keys, threshold):
    r = Root(version=version, expires=EXPIRES, consistent_snapshot=True)
    for k in root_keys:
        r.add_key(k.public_key, "root")
    r.roles["root"].threshold = threshold
    r.add_key(T.public_key, "timestamp")
    r.add_key(S.public_key, "snapshot")
    r.add_key(G.public_key, "targets")
    return Metadata(r)


def main():
    for d in (OUT, ATTACKS):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    with open(os.path.join(ROOT, "crates/sigil/assets/public-good-trusted-root.json"), "rb") as f:
        trusted_root = f.read()
    store = os.path.join(
        ROOT,
        ".venv-peers/lib/python3.11/site-packages/sigstore/_store/https%3A%2F%2Ftuf-repo-cdn.sigstore.dev",
    )
    with open(os.path.join(store, "signing_config.v0.2.json"), "rb") as f:
        signing_config = f.read()
    # v1's trusted root: the same content, compact, so the two versions differ in bytes.
    trusted_root_v1 = json.dumps(json.loads(trusted_root), separators=(",", ":")).encode()

    # --- state v1
    root1 = root(1, [A, B], 2)
    write(os.path.join(OUT, "1.root.json"), root1, A, B)
    shutil.copy(os.path.join(OUT, "1.root.json"), os.path.join(HERE, "root.v1.json"))
    targets1 = Metadata(Targets(version=1, expires=EXPIRES))
    targets1.signed.targets["trusted_root.json"] = target("trusted_root.json", trusted_root_v1)
    t1 = write(os.path.join(OUT, "1.targets.json"), targets1, G)
    snapshot1 = Metadata(Snapshot(version=1, expires=EXPIRES))
    snapshot1.signed.meta["targets.json"] = meta(t1, 1)
    s1 = write(os.path.join(OUT, "1.snapshot.json"), snapshot1, S)
    timestamp1 = Metadata(Timestamp(version=1, expires=EXPIRES))
    timestamp1.signed.snapshot_meta = meta(s1, 1)
    write(os.path.join(ATTACKS, "timestamp.v1.json"), timestamp1, T)

    # --- state v2: root key rotation A+B -> B+C
    root2 = root(2, [B, C], 2)
    write(os.path.join(OUT, "2.root.json"), root2, A, B, C)
    shutil.copy(os.path.join(OUT, "2.root.json"), os.path.join(OUT, "root.json"))
    extra = Metadata(Targets(version=1, expires=EXPIRES))
    extra.signed.targets["extra/file.txt"] = target("extra/file.txt", b"delegated\n")
    write(os.path.join(OUT, "1.extra.json"), extra, G)
    targets2 = Metadata(Targets(version=2, expires=EXPIRES))
    targets2.signed.targets["trusted_root.json"] = target("trusted_root.json", trusted_root)
    targets2.signed.targets["signing_config.v0.2.json"] = target("signing_config.v0.2.json", signing_config)
    targets2.signed.delegations = Delegations(
        keys={G.public_key.keyid: G.public_key},
        roles={"extra": DelegatedRole("extra", [G.public_key.keyid], 1, True, paths=["extra/*"])},
    )
    t2 = write(os.path.join(OUT, "2.targets.json"), targets2, G)
    snapshot2 = Metadata(Snapshot(version=2, expires=EXPIRES))
    snapshot2.signed.meta["targets.json"] = meta(t2, 2)
    snapshot2.signed.meta["extra.json"] = MetaFile(version=1)
    s2 = write(os.path.join(OUT, "2.snapshot.json"), snapshot2, S)
    timestamp2 = Metadata(Timestamp(version=2, expires=EXPIRES))
    timestamp2.signed.snapshot_meta = meta(s2, 2)
    write(os.path.join(OUT, "timestamp.json"), timestamp2, T)

    # --- attacks (each validly signed by the role's real keys unless said otherwise)
    # Root 2 signed only by the new root keys B + C: root 1's threshold (A + B) is not met.
    write(os.path.join(ATTACKS, "2.root.new-keys-only.json"), root2, B, C)
    # Root 2 signed by A + B only: root 1's threshold is met, root 2's own (B + C) is not.
    write(os.path.join(ATTACKS, "2.root.old-keys-only.json"), root2, A, B)
    # Root "3" that says it is version 1 again, signed by everyone.
    root_back = root(1, [B, C], 2)
    write(os.path.join(ATTACKS, "3.root.version1.json"), root_back, A, B, C)
    # Timestamp 3 naming snapshot version 1 (a snapshot rollback through the timestamp).
    ts = Metadata(Timestamp(version=3, expires=EXPIRES))
    ts.signed.snapshot_meta = meta(s1, 1)
    write(os.path.join(ATTACKS, "timestamp.snapshot-v1.json"), ts, T)
    # Timestamp 3 and snapshot 3 that lists targets version 1 (a targets rollback).
    snapshot3 = Metadata(Snapshot(version=3, expires=EXPIRES))
    snapshot3.signed.meta["targets.json"] = meta(t1, 1)
    snapshot3.signed.meta["extra.json"] = MetaFile(version=1)
    s3 = write(os.path.join(ATTACKS, "3.snapshot.targets-v1.json"), snapshot3, S)
    ts = Metadata(Timestamp(version=3, expires=EXPIRES))
    ts.signed.snapshot_meta = meta(s3, 3)
    write(os.path.join(ATTACKS, "timestamp.targets-v1.json"), ts, T)
    # Timestamp 3 already expired.
    ts = Metadata(Timestamp(version=3, expires=EXPIRED))
    ts.signed.snapshot_meta = meta(s2, 2)
    write(os.path.join(ATTACKS, "timestamp.expired.json"), ts, T)
    # Timestamp 3 signed by the snapshot key instead of the timestamp key.
    ts = Metadata(Timestamp(version=3, expires=EXPIRES))
    ts.signed.snapshot_meta = meta(s2, 2)
    write(os.path.join(ATTACKS, "timestamp.wrong-key.json"), ts, S)


def plain():
    """A repository with consistent_snapshot false: unversioned metadata and target paths."""
    out = os.path.join(HERE, "plain")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "targets"))
    data = b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}\n'
    with open(os.path.join(out, "targets", "trusted_root.json"), "wb") as f:
        f.write(data)
    r = root(1, [B], 1)
    r.signed.consistent_snapshot = False
    write(os.path.join(out, "1.root.json"), r, B)
    t = Metadata(Targets(version=1, expires=EXPIRES))
    t.signed.targets["trusted_root.json"] = TargetFile.from_data("trusted_root.json", data, ["sha256"])
    t1 = write(os.path.join(out, "targets.json"), t, G)
    s = Metadata(Snapshot(version=1, expires=EXPIRES))
    s.signed.meta["targets.json"] = meta(t1, 1)
    s1 = write(os.path.join(out, "snapshot.json"), s, S)
    ts = Metadata(Timestamp(version=1, expires=EXPIRES))
    ts.signed.snapshot_meta = meta(s1, 1)
    write(os.path.join(out, "timestamp.json"), ts, T)


if __name__ == "__main__":
    main()
    plain()
