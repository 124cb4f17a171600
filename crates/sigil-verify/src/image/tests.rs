use super::*;
use sigil_core::keys::PrivateKey;

fn setup() -> (PrivateKey, ImageRef, Digest) {
    let key = PrivateKey::generate_p256().unwrap();
    let image: ImageRef = "127.0.0.1:5000/lab/app:v1".parse().unwrap();
    (key, image, Digest::sha256(b"manifest"))
}

fn sign(
    key: &PrivateKey,
    image: &ImageRef,
    digest: &Digest,
    ann: &[(&str, &str)],
) -> SignatureCandidate {
    let ann: BTreeMap<String, String> = ann
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let payload = SimpleSigningPayload::new(image, digest, &ann).to_bytes();
    let sig = key.sign(&payload).unwrap();
    SignatureCandidate {
        payload,
        signature_b64: Some(B64.encode(sig)),
        ..Default::default()
    }
}

fn policy(key: &PrivateKey) -> ImagePolicy {
    ImagePolicy {
        trust: Trust::Key(key.public_key().clone()),
        tlog: TlogPolicy::Ignore,
        trusted_root: None,
        annotations: BTreeMap::new(),
    }
}

#[test]
fn a_good_signature_verifies_with_cosign_checks() {
    let (key, image, digest) = setup();
    let v = verify_candidates(
        &image,
        &digest,
        vec![sign(&key, &image, &digest, &[])],
        &policy(&key),
    );
    assert_eq!(v.outcome, Outcome::Verified);
    assert_eq!(
        v.checks,
        vec![Check::ClaimsValidated, Check::SignatureVerifiedAgainstKey]
    );
    assert_eq!(
        v.verified[0].payload_json["optional"],
        serde_json::Value::Null
    );
}

#[test]
fn no_candidates_means_no_signatures() {
    let (key, image, digest) = setup();
    let v = verify_candidates(&image, &digest, vec![], &policy(&key));
    assert_eq!(v.outcome, Outcome::NoSignatures);
    assert_eq!(v.error_message().unwrap(), "no signatures found");
}

#[test]
fn signature_replayed_from_another_digest_is_rejected() {
    let (key, image, digest) = setup();
    let other = Digest::sha256(b"other manifest");
    let v = verify_candidates(
        &image,
        &digest,
        vec![sign(&key, &image, &other, &[])],
        &policy(&key),
    );
    assert_eq!(v.outcome, Outcome::NoMatchingSignatures);
    assert!(matches!(v.rejected[0].1, Failure::DigestMismatch { .. }));
    assert!(v
        .error_message()
        .unwrap()
        .starts_with("no matching signatures: invalid or missing digest in claim"));
}

#[test]
fn tampered_payload_and_signature_and_wrong_key_are_rejected() {
    let (key, image, digest) = setup();
    let mut c = sign(&key, &image, &digest, &[]);
    c.payload.push(b' ');
    let v = verify_candidates(&image, &digest, vec![c], &policy(&key));
    assert_eq!(v.rejected[0].1, Failure::SignatureMismatch);

    let mut c = sign(&key, &image, &digest, &[]);
    let mut sig = B64.decode(c.signature_b64.unwrap()).unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    c.signature_b64 = Some(B64.encode(sig));
    let v = verify_candidates(&image, &digest, vec![c], &policy(&key));
    assert_eq!(v.outcome, Outcome::NoMatchingSignatures);

    let other = PrivateKey::generate_p256().unwrap();
    let v = verify_candidates(
        &image,
        &digest,
        vec![sign(&other, &image, &digest, &[])],
        &policy(&key),
    );
    assert_eq!(v.rejected[0].1, Failure::SignatureMismatch);
}

#[test]
fn malformed_annotations_and_payloads_are_rejected_not_panics() {
    let (key, image, digest) = setup();
    let mut c = sign(&key, &image, &digest, &[]);
    c.signature_b64 = Some("%%%".into());
    assert!(matches!(
        verify_candidates(&image, &digest, vec![c], &policy(&key)).rejected[0].1,
        Failure::MalformedSignature { .. }
    ));
    let mut c = sign(&key, &image, &digest, &[]);
    c.signature_b64 = None;
    assert!(matches!(
        verify_candidates(&image, &digest, vec![c], &policy(&key)).rejected[0].1,
        Failure::MalformedSignature { .. }
    ));
    // A correctly signed payload that is not simple-signing JSON.
    let payload = b"not json".to_vec();
    let c = SignatureCandidate {
        signature_b64: Some(B64.encode(key.sign(&payload).unwrap())),
        payload,
        ..Default::default()
    };
    assert!(matches!(
        verify_candidates(&image, &digest, vec![c], &policy(&key)).rejected[0].1,
        Failure::MalformedPayload { .. }
    ));
}

#[test]
fn annotations_must_match() {
    let (key, image, digest) = setup();
    let mut p = policy(&key);
    p.annotations.insert("env".into(), "prod".into());
    let v = verify_candidates(
        &image,
        &digest,
        vec![sign(&key, &image, &digest, &[("env", "dev")])],
        &p,
    );
    assert!(
        matches!(&v.rejected[0].1, Failure::AnnotationMismatch { found: Some(f), .. } if f == "dev")
    );
    let v = verify_candidates(&image, &digest, vec![sign(&key, &image, &digest, &[])], &p);
    assert!(matches!(
        &v.rejected[0].1,
        Failure::AnnotationMismatch { found: None, .. }
    ));
    let v = verify_candidates(
        &image,
        &digest,
        vec![sign(&key, &image, &digest, &[("env", "prod"), ("x", "y")])],
        &p,
    );
    assert!(v.is_verified());
}

#[test]
fn one_good_signature_among_bad_ones_is_enough() {
    let (key, image, digest) = setup();
    let other = PrivateKey::generate_p256().unwrap();
    let v = verify_candidates(
        &image,
        &digest,
        vec![
            sign(&other, &image, &digest, &[]),
            sign(&key, &image, &digest, &[]),
        ],
        &policy(&key),
    );
    assert!(v.is_verified());
    assert_eq!(v.verified[0].index, 1);
    assert_eq!(v.rejected.len(), 1);
}

#[test]
fn the_log_is_required_by_default_and_fails_closed() {
    let (key, image, digest) = setup();
    let mut p = policy(&key);
    p.tlog = TlogPolicy::Required;
    let v = verify_candidates(&image, &digest, vec![sign(&key, &image, &digest, &[])], &p);
    assert_eq!(v.rejected[0].1, Failure::TlogEntryMissing);
    let mut c = sign(&key, &image, &digest, &[]);
    c.rekor_bundle = Some("{}".into());
    let v = verify_candidates(&image, &digest, vec![c], &p);
    assert!(matches!(v.rejected[0].1, Failure::TlogUnverifiable { .. }));
}
