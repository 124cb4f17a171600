//! Rekor v2 entries with an ECDSA log key (the conformance vectors only have Ed25519 logs):
//! a key-signed bundle (no certificate, so no timestamp is needed) whose hashedrekord 0.0.2
//! entry sits in a one-leaf tree under a checkpoint signed by the log. The valid bundle
//! verifies; each change a forger could make fails with the check it breaks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use sigil_core::bundle::Bundle;
use sigil_core::checkpoint::{rekor_key_id, Checkpoint, NoteSigner};
use sigil_core::keys::PrivateKey;
use sigil_core::merkle;
use sigil_core::trust_root::TrustedRoot;
use sigil_verify::{verify_bundle, Artifact, BundleSigner, SctPolicy, TlogPolicy};

const BASE_URL: &str = "https://log.example.test:8443";
const ORIGIN: &str = "log.example.test";

struct Fixture {
    signer: PrivateKey,
    log: PrivateKey,
    artifact: Vec<u8>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            signer: PrivateKey::generate_p256().unwrap(),
            log: PrivateKey::generate_p256().unwrap(),
            artifact: b"rekor v2 artifact".to_vec(),
        }
    }

    fn root(&self) -> TrustedRoot {
        let der = self.log.public_key().spki_der();
        let root = json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": BASE_URL,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": B64.encode(der), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                              "validFor": {"start": "2020-01-01T00:00:00Z"}},
                "logId": {"keyId": B64.encode(Sha256::digest(der))},
            }],
        });
        TrustedRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap()
    }

    /// The bundle as JSON, with `body` and `origin` as the log wrote them.
    fn bundle(&self, edit_body: impl FnOnce(&mut Value), origin: &str, name: &str) -> Value {
        let digest = Sha256::digest(&self.artifact);
        let sig = self.signer.sign(&self.artifact).unwrap();
        let mut body = json!({
            "apiVersion": "0.0.2",
            "kind": "hashedrekord",
            "spec": {"hashedRekordV002": {
                "data": {"algorithm": "SHA2_256", "digest": B64.encode(digest)},
                "signature": {"content": B64.encode(&sig), "verifier": {
                    "publicKey": {"rawBytes": B64.encode(self.signer.public_key().spki_der())},
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256"}},
            }},
        });
        edit_body(&mut body);
        let body = serde_json::to_vec(&body).unwrap();
        let leaf = merkle::leaf_hash(&body);
        let note = Checkpoint::new(origin, 1, leaf)
            .sign(&NoteSigner {
                name: name.to_owned(),
                key_id: rekor_key_id(self.log.public_key()),
                key: &self.log,
            })
            .unwrap();
        let log_id = B64.encode(Sha256::digest(self.log.public_key().spki_der()));
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "publicKey": {"hint": self.signer.public_key().hint()},
                "tlogEntries": [{
                    "logIndex": "0",
                    "logId": {"keyId": log_id},
                    "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
                    "inclusionProof": {"logIndex": "0", "rootHash": B64.encode(leaf), "treeSize": "1",
                                       "hashes": [], "checkpoint": {"envelope": note}},
                    "canonicalizedBody": B64.encode(&body),
                }],
            },
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": B64.encode(digest)},
                "signature": B64.encode(&sig),
            },
        })
    }

    fn verify(&self, bundle: &Value) -> Result<(), String> {
        let b = Bundle::from_json(&serde_json::to_vec(bundle).unwrap()).unwrap();
        verify_bundle(
            &b,
            Artifact::Bytes(&self.artifact),
            &BundleSigner::Key(self.signer.public_key().clone()),
            &self.root(),
            TlogPolicy::Required,
            SctPolicy::Required,
        )
        .map(|_| ())
        .map_err(|f| f.to_string())
    }
}

#[test]
fn ecdsa_rekor_v2_entry_verifies() {
    let f = Fixture::new();
    f.verify(&f.bundle(|_| {}, ORIGIN, ORIGIN)).unwrap();
}

#[test]
fn checkpoint_must_be_signed_under_the_log_host_name() {
    let f = Fixture::new();
    let e = f
        .verify(&f.bundle(|_| {}, ORIGIN, "other.example"))
        .unwrap_err();
    assert!(e.contains("no signature by `log.example.test`"), "{e}");
}

#[test]
fn checkpoint_origin_must_be_the_log_host_name() {
    let f = Fixture::new();
    let e = f
        .verify(&f.bundle(|_| {}, "log.example.test:8443", ORIGIN))
        .unwrap_err();
    assert!(e.contains("checkpoint origin"), "{e}");
}

/// A change to the logged body.
type BodyEdit = Box<dyn Fn(&mut Value)>;

#[test]
fn logged_body_must_record_this_signature_key_and_digest() {
    let f = Fixture::new();
    let other = PrivateKey::generate_p256().unwrap();
    let cases: [(&str, BodyEdit); 3] = [
        (
            "digest",
            Box::new(|b: &mut Value| {
                b["spec"]["hashedRekordV002"]["data"]["digest"] = json!(B64.encode([0u8; 32]))
            }),
        ),
        (
            "signature",
            Box::new(|b: &mut Value| {
                b["spec"]["hashedRekordV002"]["signature"]["content"] =
                    json!(B64.encode(b"not the signature"))
            }),
        ),
        (
            "key or certificate",
            Box::new(move |b: &mut Value| {
                b["spec"]["hashedRekordV002"]["signature"]["verifier"]["publicKey"]["rawBytes"] =
                    json!(B64.encode(other.public_key().spki_der()))
            }),
        ),
    ];
    for (what, edit) in cases {
        let e = f.verify(&f.bundle(edit, ORIGIN, ORIGIN)).unwrap_err();
        assert!(
            e.contains("inconsistent with other materials"),
            "{what}: {e}"
        );
        assert!(e.contains(what), "{what}: {e}");
    }
}

#[test]
fn inclusion_proof_must_reach_the_checkpoint() {
    let f = Fixture::new();
    let mut b = f.bundle(|_| {}, ORIGIN, ORIGIN);
    // The body no longer hashes to the committed leaf.
    let entry = &mut b["verificationMaterial"]["tlogEntries"][0];
    let mut body = B64
        .decode(entry["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    body.push(b' ');
    entry["canonicalizedBody"] = json!(B64.encode(body));
    let e = f.verify(&b).unwrap_err();
    assert!(e.contains("inclusion proof"), "{e}");
}
