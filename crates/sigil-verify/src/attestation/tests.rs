//! The attestation checks on hand-built `.att` layers (key-signed, log ignored or missing):
//! every bad-input case of issue 8 that needs no log is rejected with its own failure. The
//! log, certificate and bundle paths are covered end to end in `crates/sigil/tests/attest_*`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use sigil_core::bundle::pae;
use sigil_core::intoto::{
    add_signature, envelope_json, envelope_to_sign, Statement, INTOTO_PAYLOAD_TYPE,
};
use sigil_core::keys::PrivateKey;
use sigil_core::{Digest, ImageRef};

use super::*;

struct Fixture {
    key: PrivateKey,
    image: ImageRef,
    digest: Digest,
}

fn fixture() -> Fixture {
    Fixture {
        key: PrivateKey::generate_p256().unwrap(),
        image: "127.0.0.1:5000/owner/app:v1".parse().unwrap(),
        digest: Digest::sha256(b"manifest"),
    }
}

fn policy(f: &Fixture, tlog: TlogPolicy) -> ImagePolicy {
    ImagePolicy {
        trust: Trust::Key(f.key.public_key().clone()),
        tlog,
        trusted_root: None,
        annotations: BTreeMap::new(),
    }
}

/// A signed `.att` layer for a statement about `digest`, with `payload_type`.
fn layer(f: &Fixture, digest: &Digest, payload_type: &str) -> Vec<u8> {
    let st = Statement::for_image(
        &f.image,
        digest,
        "spdxjson",
        br#"{"spdxVersion":"SPDX-2.3"}"#,
        "t",
    )
    .unwrap();
    let (mut env, _) = envelope_to_sign(st.to_bytes());
    env.payload_type = payload_type.to_owned();
    let sig = f.key.sign(&pae(payload_type, &env.payload.0)).unwrap();
    add_signature(&mut env, sig);
    envelope_json(&env)
}

fn legacy(envelope: Vec<u8>) -> AttestationCandidate {
    AttestationCandidate::Legacy {
        envelope,
        certificate_pem: None,
        chain_pem: None,
        rekor_bundle: None,
    }
}

fn only_failure(v: &Verdict) -> &Failure {
    assert_eq!(v.outcome, Outcome::NoMatchingSignatures, "{v:?}");
    &v.rejected[0].1
}

#[test]
fn accepts_a_key_signed_attestation_and_prints_the_envelope() {
    let f = fixture();
    let v = verify_attestations(
        &f.image,
        &f.digest,
        vec![legacy(layer(&f, &f.digest, INTOTO_PAYLOAD_TYPE))],
        &policy(&f, TlogPolicy::Ignore),
        PredicateFilter::Exactly("https://spdx.dev/Document"),
    );
    assert!(v.is_verified(), "{v:?}");
    assert_eq!(
        v.verified[0].payload_json["payloadType"],
        INTOTO_PAYLOAD_TYPE
    );
}

#[test]
fn rejects_another_images_subject() {
    let f = fixture();
    let other = Digest::sha256(b"other manifest");
    let v = verify_attestations(
        &f.image,
        &f.digest,
        vec![legacy(layer(&f, &other, INTOTO_PAYLOAD_TYPE))],
        &policy(&f, TlogPolicy::Ignore),
        PredicateFilter::Any,
    );
    assert!(
        matches!(only_failure(&v), Failure::DigestMismatch { claimed, .. } if claimed.contains(other.hex())),
        "{v:?}"
    );
}

#[test]
fn rejects_another_predicate_type() {
    let f = fixture();
    let v = verify_attestations(
        &f.image,
        &f.digest,
        vec![legacy(layer(&f, &f.digest, INTOTO_PAYLOAD_TYPE))],
        &policy(&f, TlogPolicy::Ignore),
        PredicateFilter::Exactly("https://slsa.dev/provenance/v1"),
    );
    assert_eq!(
        only_failure(&v),
        &Failure::PredicateTypeMismatch {
            expected: "https://slsa.dev/provenance/v1".into(),
            found: "https://spdx.dev/Document".into()
        }
    );
}

#[test]
fn rejects_a_payload_type_other_than_in_toto_even_when_signed() {
    let f = fixture();
    let v = verify_attestations(
        &f.image,
        &f.digest,
        vec![legacy(layer(&f, &f.digest, "application/json"))],
        &policy(&f, TlogPolicy::Ignore),
        PredicateFilter::Any,
    );
    assert_eq!(
        only_failure(&v),
        &Failure::PayloadType {
            found: "application/json".into()
        }
    );
}

#[test]
fn rejects_tampered_payloads_and_signatures() {
    let f = fixture();
    let good: serde_json::Value =
        serde_json::from_slice(&layer(&f, &f.digest, INTOTO_PAYLOAD_TYPE)).unwrap();
    let mut payload = good.clone();
    let p = payload["payload"].as_str().unwrap().to_owned();
    // Another valid base64 payload (a different statement) under the same signature.
    let other = layer(&f, &Digest::sha256(b"x"), INTOTO_PAYLOAD_TYPE);
    let other: serde_json::Value = serde_json::from_slice(&other).unwrap();
    payload["payload"] = other["payload"].clone();
    assert_ne!(payload["payload"].as_str().unwrap(), p);
    let mut sig = good.clone();
    sig["signatures"][0]["sig"] = other["signatures"][0]["sig"].clone();
    for forged in [payload, sig] {
        let v = verify_attestations(
            &f.image,
            &f.digest,
            vec![legacy(serde_json::to_vec(&forged).unwrap())],
            &policy(&f, TlogPolicy::Ignore),
            PredicateFilter::Any,
        );
        assert_eq!(only_failure(&v), &Failure::SignatureMismatch);
    }
}

#[test]
fn requires_a_log_entry_unless_the_log_is_ignored() {
    let f = fixture();
    let v = verify_attestations(
        &f.image,
        &f.digest,
        vec![legacy(layer(&f, &f.digest, INTOTO_PAYLOAD_TYPE))],
        &policy(&f, TlogPolicy::Required),
        PredicateFilter::Any,
    );
    assert_eq!(only_failure(&v), &Failure::TlogEntryMissing);
}

#[test]
fn rejects_malformed_envelopes_and_bundles_without_panicking() {
    let f = fixture();
    let candidates = vec![
        legacy(b"not json".to_vec()),
        legacy(br#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}"#.to_vec()),
        AttestationCandidate::Bundle {
            bundle: b"{}".to_vec(),
        },
        AttestationCandidate::Bundle {
            bundle: br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":""}},"messageSignature":{"signature":""}}"#.to_vec(),
        },
    ];
    let v = verify_attestations(
        &f.image,
        &f.digest,
        candidates,
        &policy(&f, TlogPolicy::Ignore),
        PredicateFilter::Any,
    );
    assert_eq!(v.outcome, Outcome::NoMatchingSignatures);
    assert_eq!(v.rejected.len(), 4);
    assert!(matches!(v.rejected[0].1, Failure::MalformedPayload { .. }));
    assert!(matches!(
        v.rejected[1].1,
        Failure::MalformedSignature { .. }
    ));
    assert!(matches!(v.rejected[2].1, Failure::Bundle { .. }));
    assert!(matches!(v.rejected[3].1, Failure::Bundle { .. }));
}

#[test]
fn no_candidates_is_no_signatures() {
    let f = fixture();
    let v = verify_attestations(
        &f.image,
        &f.digest,
        Vec::new(),
        &policy(&f, TlogPolicy::Ignore),
        PredicateFilter::Any,
    );
    assert_eq!(v.outcome, Outcome::NoSignatures);
    let v = verify_bundle_signatures(
        &f.image,
        &f.digest,
        Vec::new(),
        &policy(&f, TlogPolicy::Ignore),
    );
    assert_eq!(v.outcome, Outcome::NoSignatures);
}
