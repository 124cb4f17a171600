//! Attacks on signature verification (`sigil verify`, `verify-blob`, and the admission
//! controller, which share `sigil-verify`): replayed signatures, wrong signers, weak identity
//! patterns, certificates without a proof of when they were used, and forged or inconsistent
//! transparency-log material. Bundle cases reuse sigstore-conformance's fixtures from
//! `crates/sigil-verify/testdata` (not copied); image-signature cases build their own log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use sigil_core::bundle::{B64Bytes, Bundle, LogId};
use sigil_core::keys::{PrivateKey, PublicKey};
use sigil_core::rekor::{self, LogEntry};
use sigil_core::trust_root::{TimeRange, TransparencyLogInstance, TrustedPublicKey, TrustedRoot};
use sigil_core::{Digest, ImageRef, SimpleSigningPayload};
use sigil_verify::{
    verify_bundle, verify_candidates, Artifact, BundleSigner, Failure, GithubExpectations,
    IdentityPolicy, ImagePolicy, Matcher, Outcome, SctPolicy, SignatureCandidate, TlogPolicy,
    Trust,
};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigil-verify/testdata")
}

fn production_root() -> TrustedRoot {
    TrustedRoot::from_json(
        &std::fs::read(suite().join("trust/production/trusted_root.json")).unwrap(),
    )
    .unwrap()
}

fn exact(identity: &str, issuer: &str) -> BundleSigner {
    BundleSigner::Identity(IdentityPolicy {
        identity: Matcher::Exact(identity.into()),
        issuer: Matcher::Exact(issuer.into()),
        github: GithubExpectations::default(),
    })
}

/// Verifies a sigstore-conformance case's bundle over `a.txt` (or the case's `artifact`).
fn conformance_with(case: &str, signer: &BundleSigner, tlog: TlogPolicy) -> Result<(), Failure> {
    let dir = suite().join("conformance/bundle-verify").join(case);
    let bundle = Bundle::from_json(&std::fs::read(dir.join("bundle.sigstore.json")).unwrap())
        .map_err(|e| Failure::Bundle {
            detail: e.to_string(),
        })?;
    let artifact = std::fs::read(if dir.join("artifact").exists() {
        dir.join("artifact")
    } else {
        dir.join("../a.txt")
    })
    .unwrap();
    let root = if dir.join("trusted_root.json").exists() {
        TrustedRoot::from_json(&std::fs::read(dir.join("trusted_root.json")).unwrap()).unwrap()
    } else {
        production_root()
    };
    verify_bundle(
        &bundle,
        Artifact::Bytes(&artifact),
        signer,
        &root,
        tlog,
        SctPolicy::Required,
    )
    .map(|_| ())
}

fn conformance(case: &str) -> Result<(), Failure> {
    conformance_with(case, &exact(IDENTITY, ISSUER), TlogPolicy::Required)
}

/// The control every bundle attack is measured against: the untouched bundle verifies.
#[test]
fn control_the_genuine_bundle_verifies() {
    conformance("happy-path-v0.3").unwrap();
}

/// cosign verifies a signature's claimed digest against the image (cosign
/// `pkg/cosign/verify.go`, "invalid or missing digest in claim"); a signature copied from
/// another image's `.sig` must not verify this one.
#[test]
fn signature_replayed_from_another_digest() {
    let key = PrivateKey::generate_p256().unwrap();
    let image: ImageRef = "ghcr.io/u/app:v1".parse().unwrap();
    let signed = Digest::sha256(b"the signed manifest");
    let target = Digest::sha256(b"the attacker's manifest");
    let c = key_signed(&key, &image, &signed);
    let v = verify_candidates(&image, &target, vec![c], &key_policy(&key, None));
    assert_eq!(v.outcome, Outcome::NoMatchingSignatures);
    assert!(matches!(v.rejected[0].1, Failure::DigestMismatch { .. }));
}

/// A valid certificate for someone else (cosign `--certificate-identity`): refused.
#[test]
fn wrong_identity() {
    let f = conformance_with(
        "happy-path-v0.3",
        &exact(
            "https://github.com/attacker/repo/.github/workflows/x.yml@refs/heads/main",
            ISSUER,
        ),
        TlogPolicy::Required,
    )
    .unwrap_err();
    assert!(matches!(f, Failure::Identity { .. }), "{f}");
}

/// The right subject from another OIDC issuer (cosign `--certificate-oidc-issuer`): refused.
#[test]
fn wrong_issuer() {
    let f = conformance_with(
        "happy-path-v0.3",
        &exact(IDENTITY, "https://accounts.google.com"),
        TlogPolicy::Required,
    )
    .unwrap_err();
    assert!(matches!(f, Failure::Identity { .. }), "{f}");
}

/// cosign's `--certificate-identity-regexp` / `--certificate-oidc-issuer-regexp` are Go
/// regexps matched unanchored (no public advisory: a policy-writing pitfall), so
/// `github.com/org/` also matches `https://evil.example/github.com/org/…`. sigil matches the same way so a
/// policy means the same in both tools, and reports the pattern as unanchored so the CLI
/// warns; an anchored pattern closes the hole. This test pins that behaviour.
#[test]
fn identity_regexp_matching_only_a_substring() {
    let unanchored = Matcher::regex("github.com/sigstore-conformance/").unwrap();
    assert!(
        unanchored.is_unanchored(),
        "the CLI warns about this pattern"
    );
    assert!(unanchored.matches("https://evil.example/github.com/sigstore-conformance/x"));
    let sloppy_issuer = Matcher::regex("githubusercontent.com").unwrap();
    assert!(sloppy_issuer.matches("https://token.actions.githubusercontent.com.evil.example"));
    // On the real bundle: the unanchored pattern verifies (as cosign), the anchored one that
    // names another repository does not.
    let signer = |id: &str, iss: &str| {
        BundleSigner::Identity(IdentityPolicy {
            identity: Matcher::regex(id).unwrap(),
            issuer: Matcher::regex(iss).unwrap(),
            github: GithubExpectations::default(),
        })
    };
    conformance_with(
        "happy-path-v0.3",
        &signer("sigstore-conformance/", "githubusercontent"),
        TlogPolicy::Required,
    )
    .unwrap();
    let anchored = Matcher::regex("^https://github\\.com/attacker/.*$").unwrap();
    assert!(!anchored.is_unanchored());
    assert!(!anchored.matches("https://evil.example/github.com/attacker/x"));
    let f = conformance_with(
        "happy-path-v0.3",
        &signer(
            "^https://github\\.com/attacker/.*$",
            "^https://token\\.actions\\.githubusercontent\\.com$",
        ),
        TlogPolicy::Required,
    )
    .unwrap_err();
    assert!(matches!(f, Failure::Identity { .. }), "{f}");
}

/// Fulcio certificates live 10 minutes; only a log (or timestamp) proves the signature was
/// made inside them. Verifying a keyless signature with the log ignored would accept a
/// stolen key forever (cosign warns about this with `--insecure-ignore-tlog`; sigil refuses).
#[test]
fn certificate_used_without_a_log_proof() {
    let f = conformance_with(
        "happy-path-v0.3",
        &exact(IDENTITY, ISSUER),
        TlogPolicy::Ignore,
    )
    .unwrap_err();
    assert!(
        matches!(&f, Failure::Certificate { detail } if detail.contains("with the log ignored")),
        "{f}"
    );
}

/// A certificate that expired before the log integrated the entry (sigstore-conformance
/// `intoto-expired-certificate_fail`, `intoto-set-outside-signing-cert-validity_fail`).
#[test]
fn certificate_outside_its_validity() {
    for case in [
        "intoto-expired-certificate_fail",
        "intoto-set-outside-signing-cert-validity_fail",
    ] {
        assert!(conformance(case).is_err(), "{case}");
    }
}

/// A SET whose signature does not verify (sigstore-conformance `set-invalid-signature_fail`).
#[test]
fn forged_set_in_a_bundle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigil-core/testdata/rekor");
    let bundle = Bundle::from_json(
        &std::fs::read(dir.join("set-invalid-signature_fail.sigstore.json")).unwrap(),
    )
    .unwrap();
    let f = verify_bundle(
        &bundle,
        Artifact::Bytes(&std::fs::read(suite().join("conformance/bundle-verify/a.txt")).unwrap()),
        &exact(IDENTITY, ISSUER),
        &production_root(),
        TlogPolicy::Required,
        SctPolicy::Required,
    )
    .unwrap_err();
    assert!(matches!(f, Failure::Tlog { .. }), "{f}");
}

/// An inclusion proof whose hashes were altered (`inclusion-proof-corrupted-hash_fail`), and
/// a checkpoint whose root hash is not the proof's (`checkpoint-wrong-roothash_fail`).
#[test]
fn tampered_inclusion_proof() {
    for case in [
        "inclusion-proof-corrupted-hash_fail",
        "checkpoint-wrong-roothash_fail",
    ] {
        let f = conformance(case).unwrap_err();
        assert!(matches!(f, Failure::Tlog { .. }), "{case}: {f}");
    }
}

/// A checkpoint signed by a key that is not the log's (`invalid-checkpoint-signature_fail`,
/// sigstore-go's "checkpoint signature" check).
#[test]
fn checkpoint_signed_by_another_key() {
    let f = conformance("invalid-checkpoint-signature_fail").unwrap_err();
    assert!(matches!(f, Failure::Tlog { .. }), "{f}");
}

/// CVE-2022-36056 (GHSA-8gw7-4j42-w388): cosign accepted a bundle whose Rekor entry was valid
/// but described another signature. The conformance cases `intoto-log-entry-mismatch_fail`,
/// `wrong-hashedrekord-cert-and-sig_fail` and `wrong-hashedrekord-artifact_fail` are that.
#[test]
fn rekor_entry_inconsistent_with_the_bundle() {
    for case in [
        "intoto-log-entry-mismatch_fail",
        "wrong-hashedrekord-cert-and-sig_fail",
        "wrong-hashedrekord-artifact_fail",
    ] {
        assert!(conformance(case).is_err(), "{case}");
    }
}

/// A bundle logged by another Sigstore instance (staging) is not proof for production.
#[test]
fn entry_from_an_untrusted_log() {
    assert!(conformance("bundle-from-wrong-instance_fail").is_err());
}

// ---- image signatures (`.sig` layers with cosign's Rekor bundle annotation) ----

fn key_signed(key: &PrivateKey, image: &ImageRef, digest: &Digest) -> SignatureCandidate {
    let payload = SimpleSigningPayload::new(image, digest, &BTreeMap::new()).to_bytes();
    let sig = key.sign(&payload).unwrap();
    SignatureCandidate {
        payload,
        signature_b64: Some(B64.encode(sig)),
        ..SignatureCandidate::default()
    }
}

fn key_policy(key: &PrivateKey, log: Option<&PrivateKey>) -> ImagePolicy {
    ImagePolicy {
        trust: Trust::Key(key.public_key().clone()),
        tlog: if log.is_some() {
            TlogPolicy::Required
        } else {
            TlogPolicy::Ignore
        },
        trusted_root: log.map(|l| Arc::new(root_with_log(l.public_key()))),
        annotations: BTreeMap::new(),
    }
}

fn root_with_log(key: &PublicKey) -> TrustedRoot {
    let mut root: TrustedRoot = serde_json::from_value(
        json!({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}),
    )
    .unwrap();
    root.tlogs.push(TransparencyLogInstance {
        base_url: "http://127.0.0.1:1".into(),
        hash_algorithm: "SHA2_256".into(),
        public_key: TrustedPublicKey {
            raw_bytes: B64Bytes(key.spki_der().to_vec()),
            key_details: key.algorithm().key_details().into(),
            valid_for: Some(TimeRange {
                start: Some(time::OffsetDateTime::UNIX_EPOCH),
                end: None,
            }),
        },
        log_id: LogId {
            key_id: B64Bytes(rekor::log_id(key).to_vec()),
        },
        checkpoint_key_id: None,
        operator: None,
    });
    root
}

/// cosign's `dev.sigstore.cosign/bundle` annotation for a hashedrekord entry recording
/// `signature` by `signer` over `payload`, with a SET by `log`.
fn rekor_annotation(
    log: &PrivateKey,
    payload: &[u8],
    signature: &[u8],
    signer: &PublicKey,
) -> String {
    let proposed = json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {
                "content": B64.encode(signature),
                "publicKey": {"content": B64.encode(signer.to_pem())},
            },
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))}},
        },
    });
    let body = rekor::canonicalize_proposed(&proposed).unwrap().body;
    let entry = LogEntry {
        attestation: None,
        body: B64.encode(&body),
        integrated_time: time::OffsetDateTime::now_utc().unix_timestamp(),
        log_id: hex::encode(rekor::log_id(log.public_key())),
        log_index: 7,
        verification: None,
    };
    let set = rekor::sign_set(&entry, log).unwrap();
    json!({
        "SignedEntryTimestamp": B64.encode(set),
        "Payload": {
            "body": entry.body,
            "integratedTime": entry.integrated_time,
            "logIndex": entry.log_index,
            "logID": entry.log_id,
        },
    })
    .to_string()
}

fn image() -> (ImageRef, Digest) {
    (
        "ghcr.io/u/app:v1".parse().unwrap(),
        Digest::sha256(b"manifest"),
    )
}

/// Control for the image-signature log attacks: a genuine entry verifies.
#[test]
fn control_the_genuine_log_entry_verifies() {
    let (key, log) = (
        PrivateKey::generate_p256().unwrap(),
        PrivateKey::generate_p256().unwrap(),
    );
    let (img, digest) = image();
    let mut c = key_signed(&key, &img, &digest);
    let sig = B64.decode(c.signature_b64.as_deref().unwrap()).unwrap();
    c.rekor_bundle = Some(rekor_annotation(&log, &c.payload, &sig, key.public_key()));
    let v = verify_candidates(&img, &digest, vec![c], &key_policy(&key, Some(&log)));
    assert_eq!(v.outcome, Outcome::Verified, "{:?}", v.rejected);
}

/// A signature with no log entry while the log is required (cosign's default): refused.
#[test]
fn missing_set() {
    let (key, log) = (
        PrivateKey::generate_p256().unwrap(),
        PrivateKey::generate_p256().unwrap(),
    );
    let (img, digest) = image();
    let c = key_signed(&key, &img, &digest);
    let v = verify_candidates(&img, &digest, vec![c], &key_policy(&key, Some(&log)));
    assert_eq!(v.rejected[0].1, Failure::TlogEntryMissing);
}

/// A SET made by the attacker's own "log" key under the trusted log's ID: refused.
#[test]
fn forged_set_on_an_image_signature() {
    let (key, log) = (
        PrivateKey::generate_p256().unwrap(),
        PrivateKey::generate_p256().unwrap(),
    );
    let forger = PrivateKey::generate_p256().unwrap();
    let (img, digest) = image();
    let mut c = key_signed(&key, &img, &digest);
    let sig = B64.decode(c.signature_b64.as_deref().unwrap()).unwrap();
    let genuine: serde_json::Value =
        serde_json::from_str(&rekor_annotation(&log, &c.payload, &sig, key.public_key())).unwrap();
    let forged: serde_json::Value = serde_json::from_str(&rekor_annotation(
        &forger,
        &c.payload,
        &sig,
        key.public_key(),
    ))
    .unwrap();
    let mut a = genuine.clone();
    a["SignedEntryTimestamp"] = forged["SignedEntryTimestamp"].clone();
    c.rekor_bundle = Some(a.to_string());
    let v = verify_candidates(&img, &digest, vec![c], &key_policy(&key, Some(&log)));
    assert!(
        matches!(v.rejected[0].1, Failure::Tlog { .. }),
        "{:?}",
        v.rejected
    );
}

/// CVE-2022-36056 on the `.sig` path: a genuine, correctly signed log entry for a different
/// signature (another payload signed by the same key) attached to this signature.
#[test]
fn rekor_entry_for_another_signature() {
    let (key, log) = (
        PrivateKey::generate_p256().unwrap(),
        PrivateKey::generate_p256().unwrap(),
    );
    let (img, digest) = image();
    let other = key_signed(&key, &img, &Digest::sha256(b"another manifest"));
    let other_sig = B64.decode(other.signature_b64.as_deref().unwrap()).unwrap();
    let mut c = key_signed(&key, &img, &digest);
    c.rekor_bundle = Some(rekor_annotation(
        &log,
        &other.payload,
        &other_sig,
        key.public_key(),
    ));
    let v = verify_candidates(&img, &digest, vec![c], &key_policy(&key, Some(&log)));
    assert!(
        matches!(v.rejected[0].1, Failure::TlogMismatch { .. }),
        "{:?}",
        v.rejected
    );
}
