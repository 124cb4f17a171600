//! The sigstore-python, sigstore-go and cosign test vectors (`testdata/{sigstore-python,
//! sigstore-go,cosign}`, sources in `testdata/SOURCE.md`), each with the outcome of the
//! upstream test that uses it:
//! - sigstore-python `test/unit/verify/test_verifier.py`, `test_policy.py`, `test_models.py`
//!   (its `null_policy` = any identity; staging and production roots from `testdata/trust`;
//!   the TSA tests put `tsa/ca.json` in place of the staging root's timestamp authorities);
//! - sigstore-go `pkg/verify/signed_entity_test.go`;
//! - cosign `pkg/cosign/testdata` (no recorded verification; its log material verifies
//!   against the production root it ships).
//!
//! Plus the bad-input cases of issue 6 the conformance suite does not cover, made by changing
//! one field of a valid bundle; each must fail with the check it breaks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use sigil_core::bundle::Bundle;
use sigil_core::trust_root::{trusted_root_from_any, CertificateAuthority, TrustedRoot};
use sigil_verify::{
    verify_bundle, Artifact, BundleSigner, Failure, GithubExpectations, IdentityPolicy, Matcher,
    SctPolicy, TlogPolicy, VerifiedBundle,
};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(testdata().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn root(rel: &str) -> TrustedRoot {
    trusted_root_from_any(&read(rel)).unwrap()
}

fn staging() -> TrustedRoot {
    root("trust/staging/trusted_root.json")
}

fn production() -> TrustedRoot {
    root("trust/production/trusted_root.json")
}

/// sigstore-python's TSA fixture: staging, with `tsa/ca.json` as the only timestamp authority.
fn staging_with_tsa() -> TrustedRoot {
    let mut r = staging();
    let ca: CertificateAuthority =
        serde_json::from_slice(&read("sigstore-python/tsa/ca.json")).unwrap();
    r.timestamp_authorities = vec![ca];
    r
}

fn any_identity() -> BundleSigner {
    identity(Matcher::regex(".*").unwrap(), Matcher::regex(".*").unwrap())
}

fn identity(identity: Matcher, issuer: Matcher) -> BundleSigner {
    BundleSigner::Identity(IdentityPolicy {
        identity,
        issuer,
        github: GithubExpectations::default(),
    })
}

fn exact(id: &str, iss: &str) -> BundleSigner {
    identity(Matcher::Exact(id.into()), Matcher::Exact(iss.into()))
}

fn verify_json(
    bundle: &[u8],
    artifact: Artifact<'_>,
    signer: &BundleSigner,
    root: &TrustedRoot,
) -> Result<VerifiedBundle, String> {
    let b = Bundle::from_json(bundle).map_err(|e| e.to_string())?;
    verify_bundle(
        &b,
        artifact,
        signer,
        root,
        TlogPolicy::Required,
        SctPolicy::Required,
    )
    .map_err(|f| f.to_string())
}

fn verify_failure(
    bundle: &[u8],
    artifact: Artifact<'_>,
    signer: &BundleSigner,
    root: &TrustedRoot,
) -> Failure {
    let b = Bundle::from_json(bundle).unwrap();
    verify_bundle(
        &b,
        artifact,
        signer,
        root,
        TlogPolicy::Required,
        SctPolicy::Required,
    )
    .expect_err("must fail")
}

/// Verifies `bundle_rel` over the artifact file `artifact_rel`, by bytes and by digest.
fn verify_file(
    bundle_rel: &str,
    artifact_rel: &str,
    signer: &BundleSigner,
    root: &TrustedRoot,
) -> Result<VerifiedBundle, String> {
    let art = read(artifact_rel);
    let digest: [u8; 32] = Sha256::digest(&art).into();
    let bundle = read(bundle_rel);
    let by_bytes = verify_json(&bundle, Artifact::Bytes(&art), signer, root);
    let by_digest = verify_json(&bundle, Artifact::Sha256(&digest), signer, root);
    assert_eq!(
        by_bytes.is_ok(),
        by_digest.is_ok(),
        "{bundle_rel}: path and digest disagree: {by_bytes:?} / {by_digest:?}"
    );
    by_bytes
}

fn hex32(h: &str) -> [u8; 32] {
    hex::decode(h).unwrap().try_into().unwrap()
}

fn edit(bundle_rel: &str, f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&read(bundle_rel)).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

// ---- sigstore-python: staging-signed ----

#[test]
fn python_bundle_v01_verifies_offline() {
    verify_file(
        "sigstore-python/bundle.txt.sigstore",
        "sigstore-python/bundle.txt",
        &any_identity(),
        &staging(),
    )
    .unwrap();
}

#[test]
fn python_bundle_identity_policy() {
    // test_policy.py: Identity(a@tny.town, https://github.com/login/oauth) passes, another
    // identity fails naming what the certificate holds.
    verify_file(
        "sigstore-python/bundle.txt.sigstore",
        "sigstore-python/bundle.txt",
        &exact("a@tny.town", "https://github.com/login/oauth"),
        &staging(),
    )
    .unwrap();
    let art = read("sigstore-python/bundle.txt");
    let f = verify_failure(
        &read("sigstore-python/bundle.txt.sigstore"),
        Artifact::Bytes(&art),
        &exact("bad@ident.example.com", "https://github.com/login/oauth"),
        &staging(),
    );
    match f {
        Failure::Identity { subjects, .. } => assert_eq!(subjects, ["a@tny.town"]),
        other => panic!("expected an identity failure, got {other:?}"),
    }
}

#[test]
fn python_bundle_v03_and_alt_media_type_verify() {
    for (b, a) in [
        (
            "sigstore-python/bundle_v3.txt.sigstore",
            "sigstore-python/bundle_v3.txt",
        ),
        (
            "sigstore-python/bundle_v3_alt.txt.sigstore",
            "sigstore-python/bundle_v3_alt.txt",
        ),
    ] {
        verify_file(b, a, &any_identity(), &staging()).unwrap_or_else(|e| panic!("{b}: {e}"));
    }
    verify_file(
        "sigstore-python/bundle_v3.txt.sigstore",
        "sigstore-python/bundle_v3.txt",
        &exact("william@yossarian.net", "https://github.com/login/oauth"),
        &staging(),
    )
    .unwrap();
}

#[test]
fn python_rekor_v2_bundle_with_tsa_verifies() {
    let v = verify_file(
        "sigstore-python/staging-rekor-v2.txt.sigstore.json",
        "sigstore-python/staging-rekor-v2.txt",
        &any_identity(),
        &staging(),
    )
    .unwrap();
    // Rekor v2 gives no integrated time: the only time is the TSA's.
    assert!(v.timestamps.is_empty());
    assert_eq!(v.signed_timestamps.len(), 1);
}

#[test]
fn python_rekor_v2_dsse_bundle_verifies() {
    let digest = hex32("a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf");
    let v = verify_json(
        &read("sigstore-python/a.dsse.staging-rekor-v2.txt.sigstore.json"),
        Artifact::Sha256(&digest),
        &any_identity(),
        &staging(),
    )
    .unwrap();
    assert_eq!(
        v.dsse_payload.unwrap().0,
        "application/vnd.in-toto+json",
        "verify_dsse returns the in-toto payload"
    );
}

#[test]
fn python_cve_2022_36056_entry_inconsistent() {
    let art = read("sigstore-python/bundle_cve_2022_36056.txt");
    let f = verify_failure(
        &read("sigstore-python/bundle_cve_2022_36056.txt.sigstore"),
        Artifact::Bytes(&art),
        &any_identity(),
        &staging(),
    );
    assert!(
        matches!(f, Failure::TlogMismatch { .. }),
        "transparency log entry is inconsistent with other materials: {f:?}"
    );
}

#[test]
fn python_invalid_media_type_rejected() {
    let e = Bundle::from_json(&read("sigstore-python/bundle_invalid_version.txt.sigstore"))
        .expect_err("bad media type");
    assert!(e.to_string().contains("media type"), "{e}");
}

#[test]
fn python_no_checkpoint_rejected() {
    let e = verify_file(
        "sigstore-python/bundle_no_checkpoint.txt.sigstore",
        "sigstore-python/bundle_no_checkpoint.txt",
        &any_identity(),
        &staging(),
    )
    .unwrap_err();
    assert!(
        e.contains("entry must contain inclusion proof, with checkpoint"),
        "{e}"
    );
}

// ---- sigstore-python: production-signed ----

#[test]
fn python_empty_chain_rejected() {
    let e = verify_file(
        "sigstore-python/bundle_no_cert_v1.txt.sigstore",
        "sigstore-python/bundle_no_cert_v1.txt",
        &any_identity(),
        &production(),
    )
    .unwrap_err();
    assert!(e.contains("expected non-empty certificate chain"), "{e}");
}

#[test]
fn python_no_log_entry_rejected() {
    let e = verify_file(
        "sigstore-python/bundle_no_log_entry.txt.sigstore",
        "sigstore-python/bundle_no_log_entry.txt",
        &any_identity(),
        &production(),
    )
    .unwrap_err();
    assert!(e.contains("expected exactly one log entry"), "{e}");
}

#[test]
fn python_no_signed_time_rejected() {
    let e = verify_file(
        "sigstore-python/bundle_v3_no_signed_time.txt.sigstore.json",
        "sigstore-python/bundle_v3_no_signed_time.txt",
        &any_identity(),
        &production(),
    )
    .unwrap_err();
    assert!(
        e.contains("bundle must contain an inclusion promise or signed timestamp"),
        "{e}"
    );
}

#[test]
fn python_github_bundle_with_every_workflow_extension() {
    let signer = BundleSigner::Identity(IdentityPolicy {
        identity: Matcher::Exact(
            "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
                .into(),
        ),
        issuer: Matcher::Exact("https://token.actions.githubusercontent.com".into()),
        github: GithubExpectations {
            trigger: Some("release".into()),
            sha: Some("d8b4a6445f38c48b9137a8099706d9b8073146e4".into()),
            name: Some("release".into()),
            repository: Some("trailofbits/rfc8785.py".into()),
            git_ref: Some("refs/tags/v0.1.2".into()),
        },
    });
    let v = verify_file(
        "sigstore-python/bundle_v3_github.whl.sigstore",
        "sigstore-python/bundle_v3_github.whl",
        &signer,
        &production(),
    )
    .unwrap();
    let id = v.identity.unwrap();
    assert_eq!(
        id.github_workflow.repository.as_deref(),
        Some("trailofbits/rfc8785.py")
    );
    // A different trigger is named in the failure.
    let signer = BundleSigner::Identity(IdentityPolicy {
        identity: Matcher::regex(".*").unwrap(),
        issuer: Matcher::regex(".*").unwrap(),
        github: GithubExpectations {
            trigger: Some("push".into()),
            ..GithubExpectations::default()
        },
    });
    let art = read("sigstore-python/bundle_v3_github.whl");
    let f = verify_failure(
        &read("sigstore-python/bundle_v3_github.whl.sigstore"),
        Artifact::Bytes(&art),
        &signer,
        &production(),
    );
    assert_eq!(
        f.to_string(),
        "expected GitHub Workflow Trigger not found in certificate"
    );
}

// ---- sigstore-python: RFC 3161 timestamps (TestVerifierWithTimestamp) ----

const TSA_ART: &str = "sigstore-python/tsa/bundle.txt";

#[test]
fn python_tsa_bundle_verifies_with_log_and_timestamp() {
    let v = verify_file(
        "sigstore-python/tsa/bundle.txt.sigstore",
        TSA_ART,
        &any_identity(),
        &staging_with_tsa(),
    )
    .unwrap();
    // sigstore-python's threshold-2 test: the integrated time and a TSA time both count.
    assert_eq!(v.timestamps.len(), 1);
    assert!(!v.signed_timestamps.is_empty());
}

#[test]
fn python_tsa_bundle_verifies_without_inclusion_promise() {
    for fields in [
        &["inclusionPromise"][..],
        &["inclusionPromise", "integratedTime"][..],
    ] {
        let bundle = edit("sigstore-python/tsa/bundle.txt.sigstore", |v| {
            let e = v["verificationMaterial"]["tlogEntries"][0]
                .as_object_mut()
                .unwrap();
            for f in fields {
                e.remove(*f);
            }
        });
        let art = read(TSA_ART);
        let v = verify_json(
            &bundle,
            Artifact::Bytes(&art),
            &any_identity(),
            &staging_with_tsa(),
        )
        .unwrap_or_else(|e| panic!("without {fields:?}: {e}"));
        assert!(v.timestamps.is_empty() && !v.signed_timestamps.is_empty());
    }
}

#[test]
fn python_tsa_validity_without_end_verifies() {
    let mut r = staging_with_tsa();
    if let Some(v) = r.timestamp_authorities[0].valid_for.as_mut() {
        v.end = None;
    }
    verify_file(
        "sigstore-python/tsa/bundle.txt.sigstore",
        TSA_ART,
        &any_identity(),
        &r,
    )
    .unwrap();
}

#[test]
fn python_tsa_too_many_timestamps() {
    let e = verify_file(
        "sigstore-python/tsa/bundle.many_timestamp.sigstore",
        TSA_ART,
        &any_identity(),
        &staging_with_tsa(),
    )
    .unwrap_err();
    assert!(e.contains("too many signed timestamps"), "{e}");
}

#[test]
fn python_tsa_duplicate_timestamps() {
    let e = verify_file(
        "sigstore-python/tsa/bundle.duplicate.sigstore",
        TSA_ART,
        &any_identity(),
        &staging_with_tsa(),
    )
    .unwrap_err();
    assert!(e.contains("duplicate"), "{e}");
}

#[test]
fn python_tsa_late_timestamp_rejected() {
    // sigstore-python (threshold 2) rejects it: "not enough sources of verified time". Its
    // timestamp was issued 12 minutes after signing by a TSA certificate other than
    // `tsa/ca.json`'s leaf, so it does not verify; sigil, like sigstore-go with
    // `WithSignedTimestamps(1)`, rejects a bundle whose timestamps all fail.
    let art = read(TSA_ART);
    let f = verify_failure(
        &read("sigstore-python/tsa/bundle.txt.late_timestamp.sigstore"),
        Artifact::Bytes(&art),
        &any_identity(),
        &staging_with_tsa(),
    );
    assert!(matches!(f, Failure::Timestamp { .. }), "{f}");
    assert!(f.to_string().contains("threshold not met"), "{f}");
}

#[test]
fn python_tsa_timestamp_outside_authority_validity() {
    let mut r = staging_with_tsa();
    r.timestamp_authorities[0].valid_for.as_mut().unwrap().end =
        Some(time::OffsetDateTime::from_unix_timestamp(1_730_332_800).unwrap()); // 2024-10-31
    let art = read(TSA_ART);
    let f = verify_failure(
        &read("sigstore-python/tsa/bundle.txt.sigstore"),
        Artifact::Bytes(&art),
        &any_identity(),
        &r,
    );
    assert!(matches!(f, Failure::Timestamp { .. }), "{f}");
    assert!(
        f.to_string()
            .contains("outside the timestamp authority's validity"),
        "{f}"
    );
}

#[test]
fn tsa_timestamps_without_trusted_authority_fail() {
    // sigstore-python: a signed timestamp is never left unchecked.
    let art = read(TSA_ART);
    let f = verify_failure(
        &read("sigstore-python/tsa/bundle.txt.sigstore"),
        Artifact::Bytes(&art),
        &any_identity(),
        &TrustedRoot {
            timestamp_authorities: Vec::new(),
            ..staging()
        },
    );
    assert!(
        f.to_string().contains("lists no timestamp authority"),
        "{f}"
    );
}

#[test]
fn tsa_tampered_timestamp_fails() {
    // Flip one byte inside the TSTInfo's message imprint, and one in the CMS signature.
    let orig = read("sigstore-python/tsa/bundle.txt.sigstore");
    let v: serde_json::Value = serde_json::from_slice(&orig).unwrap();
    let stamps = v["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
        .as_array()
        .unwrap()
        .clone();
    let der = B64
        .decode(stamps[0]["signedTimestamp"].as_str().unwrap())
        .unwrap();
    let art = read(TSA_ART);
    for (what, at) in [("signature", der.len() - 3), ("TSTInfo", der.len() / 5)] {
        let mut bad = der.clone();
        bad[at] ^= 0x01;
        let bundle = edit("sigstore-python/tsa/bundle.txt.sigstore", |v| {
            v["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"] =
                serde_json::json!([{ "signedTimestamp": B64.encode(&bad) }]);
        });
        let f = verify_failure(
            &bundle,
            Artifact::Bytes(&art),
            &any_identity(),
            &staging_with_tsa(),
        );
        assert!(
            matches!(f, Failure::Timestamp { .. }),
            "tampered {what}: {f}"
        );
    }
}

// ---- sigstore-go (signed_entity_test.go) ----

#[test]
fn go_sigstore_js_provenance_verifies_up_to_the_artifact() {
    // sigstore-go verifies this bundle without an artifact (WithoutArtifactUnsafe); its only
    // subject has a SHA-512 digest. sigil always checks an artifact, and checks it last, so
    // the expected outcome is: every check passes, then no sha256 subject matches.
    let r = root("sigstore-go/public-good.json");
    let f = verify_failure(
        &read("sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json"),
        Artifact::Sha256(&[0; 32]),
        &exact(
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
            "https://token.actions.githubusercontent.com",
        ),
        &r,
    );
    assert!(
        matches!(f, Failure::ArtifactMismatch { .. }),
        "everything before the subject check must pass: {f}"
    );
}

#[test]
fn go_othername_san() {
    let r = root("sigstore-go/scaffolding.json");
    let digest = hex32("bc103b4a84971ef6459b294a2b98568a2bfb72cded09d4acd1e16366a401f95b");
    let bundle = read("sigstore-go/othername.sigstore.json");
    verify_json(
        &bundle,
        Artifact::Sha256(&digest),
        &exact("foo!oidc.local", "http://oidc.local:8080"),
        &r,
    )
    .unwrap();
    let f = verify_failure(
        &bundle,
        Artifact::Sha256(&digest),
        &exact("foo@oidc.local", "http://oidc.local:8080"),
        &r,
    );
    assert!(matches!(f, Failure::Identity { .. }), "{f}");
}

#[test]
fn go_dsse_with_two_signatures_rejected() {
    let f = verify_failure(
        &read("sigstore-go/dsse-2sigs.sigstore.json"),
        Artifact::Sha256(&[0; 32]),
        &any_identity(),
        &root("sigstore-go/public-good.json"),
    );
    assert!(f.to_string().contains("exactly one signature"), "{f}");
}

// ---- cosign ----

#[test]
fn cosign_oci_attestation_bundle_verifies() {
    let digest = hex32("732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4");
    let v = verify_json(
        &read("cosign/oci-attestation.sigstore.json"),
        Artifact::Sha256(&digest),
        &any_identity(),
        &root("cosign/trusted_root_pgi.json"),
    )
    .unwrap();
    assert_eq!(v.timestamps.len(), 1);
}

// ---- issue 6 bad input, by changing one field of a valid bundle ----

const GH_BUNDLE: &str = "sigstore-python/bundle_v3_github.whl.sigstore";
const GH_ART: &str = "sigstore-python/bundle_v3_github.whl";

fn gh_failure(bundle: &[u8], root: &TrustedRoot) -> Failure {
    let art = read(GH_ART);
    verify_failure(bundle, Artifact::Bytes(&art), &any_identity(), root)
}

#[test]
fn bad_root_certificate_included_in_bundle() {
    let r = production();
    let anchor = r
        .certificate_authorities
        .last()
        .unwrap()
        .certificates()
        .last()
        .unwrap()
        .to_vec();
    let bundle = edit(GH_BUNDLE, |v| {
        v["verificationMaterial"]["x509CertificateChain"]["certificates"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({ "rawBytes": B64.encode(&anchor) }));
    });
    let f = gh_failure(&bundle, &r);
    assert!(f.to_string().contains("includes a root certificate"), "{f}");
}

#[test]
fn bad_certificate_from_another_instance_ca() {
    // The production log vouches for the entry, but the CAs are staging's.
    let mut r = production();
    r.certificate_authorities = staging().certificate_authorities;
    let f = gh_failure(&read(GH_BUNDLE), &r);
    assert!(matches!(f, Failure::Certificate { .. }), "{f}");
}

#[test]
fn bad_tampered_certificate() {
    let bundle = edit(GH_BUNDLE, |v| {
        let c =
            &mut v["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"];
        let mut der = B64.decode(c.as_str().unwrap()).unwrap();
        let n = der.len();
        der[n - 5] ^= 0x01; // inside the CA's signature
        *c = serde_json::Value::String(B64.encode(der));
    });
    let f = gh_failure(&bundle, &production());
    // The log recorded the genuine certificate, so the entry no longer matches.
    assert!(matches!(f, Failure::TlogMismatch { .. }), "{f}");
}

#[test]
fn bad_tampered_set() {
    let bundle = edit(GH_BUNDLE, |v| {
        let s = &mut v["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]
            ["signedEntryTimestamp"];
        let mut sig = B64.decode(s.as_str().unwrap()).unwrap();
        let n = sig.len();
        sig[n - 2] ^= 0x01;
        *s = serde_json::Value::String(B64.encode(sig));
    });
    let f = gh_failure(&bundle, &production());
    assert!(f.to_string().contains("signed entry timestamp"), "{f}");
}

#[test]
fn bad_tampered_inclusion_proof() {
    let bundle = edit(GH_BUNDLE, |v| {
        let h = &mut v["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"][0];
        let mut b = B64.decode(h.as_str().unwrap()).unwrap();
        b[0] ^= 0x01;
        *h = serde_json::Value::String(B64.encode(b));
    });
    let f = gh_failure(&bundle, &production());
    assert!(f.to_string().contains("inclusion proof"), "{f}");
}

#[test]
fn bad_checkpoint_key_hint() {
    // The signature is left intact; only the 4-byte key ID in the signature line changes.
    let bundle = edit(GH_BUNDLE, |v| {
        let env = &mut v["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
            ["envelope"];
        let text = env.as_str().unwrap().to_owned();
        let (body, sig_line) = text.trim_end().rsplit_once('\n').unwrap();
        let (prefix, b64) = sig_line.rsplit_once(' ').unwrap();
        let mut raw = B64.decode(b64).unwrap();
        raw[0] ^= 0x01;
        *env = serde_json::Value::String(format!("{body}\n{prefix} {}\n", B64.encode(raw)));
    });
    let f = gh_failure(&bundle, &production());
    assert!(f.to_string().contains("key's ID"), "{f}");
}

#[test]
fn bad_malformed_json() {
    let e =
        Bundle::from_json(b"{\"mediaType\": \"application/vnd.dev.sigstore.bundle.v0.3+json\",")
            .expect_err("malformed");
    assert!(e.to_string().contains("malformed bundle JSON"), "{e}");
}

// ---- sigstore-python trust material parse tests (test_models.py) ----

#[test]
fn python_trusted_roots_and_configs_parse() {
    root("sigstore-python/trusted_root/trustedroot.v1.json");
    root("sigstore-python/trusted_root/trustedroot.v1.local_tlog_ed25519_rekor-tiles.json");
    root("sigstore-python/trust_config/config.v1.json");
    root("sigstore-python/tsa/trust_config.json");
    for bad in [
        "sigstore-python/trusted_root/trustedroot.badtype.json",
        "sigstore-python/trust_config/config.badtype.json",
    ] {
        let e = trusted_root_from_any(&read(bad)).expect_err(bad);
        assert!(e.to_string().contains("media type"), "{bad}: {e}");
    }
    let ok: CertificateAuthority = serde_json::from_slice(&read(
        "sigstore-python/trusted_root/certificate_authority.json",
    ))
    .unwrap();
    assert!(!ok.certificates().is_empty());
}
