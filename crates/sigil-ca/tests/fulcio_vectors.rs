//! sigil-core's Fulcio extension parser and SCT verifier against real Fulcio certificates
//! (fixtures: see `testdata/README.md`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use der::{Decode, Encode};
use sigil_core::fulcio::{self, CertificateIdentity, Extension, SubjectAltName};
use x509_cert::Certificate;

const GITHUB_LEAF: &[u8] = include_bytes!("../testdata/github-leaf.der");
const INTERMEDIATE: &[u8] = include_bytes!("../testdata/fulcio-intermediate.der");
const CTFE_2022: &[u8] = include_bytes!("../testdata/ctfe-2022.spki.der");
const OTHERNAME_LEAF: &[u8] = include_bytes!("../testdata/othername-leaf.der");

#[test]
fn github_actions_certificate_identity() {
    let id = CertificateIdentity::from_der(GITHUB_LEAF).unwrap();
    let workflow =
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2";
    assert_eq!(id.san, SubjectAltName::Uri(workflow.into()));
    assert_eq!(
        id.issuer.as_deref(),
        Some("https://token.actions.githubusercontent.com")
    );
    assert_eq!(
        id.get(Extension::Issuer),
        Some("https://token.actions.githubusercontent.com")
    );
    assert_eq!(id.get(Extension::BuildSignerUri), Some(workflow));
    assert_eq!(id.get(Extension::RunnerEnvironment), Some("github-hosted"));
    assert_eq!(
        id.get(Extension::SourceRepositoryIdentifier),
        Some("768213997")
    );
    assert_eq!(
        id.get(Extension::SourceRepositoryOwnerIdentifier),
        Some("2314423")
    );
    assert_eq!(
        id.get(Extension::RunInvocationUri),
        Some("https://github.com/trailofbits/rfc8785.py/actions/runs/8351058501/attempts/1")
    );
    assert_eq!(
        id.get(Extension::SourceRepositoryVisibilityAtSigning),
        Some("public")
    );
    assert_eq!(id.github_workflow.trigger.as_deref(), Some("release"));
    assert_eq!(
        id.github_workflow.sha.as_deref(),
        Some("d8b4a6445f38c48b9137a8099706d9b8073146e4")
    );
    assert_eq!(id.github_workflow.name.as_deref(), Some("release"));
    assert_eq!(
        id.github_workflow.repository.as_deref(),
        Some("trailofbits/rfc8785.py")
    );
    assert_eq!(
        id.github_workflow.git_ref.as_deref(),
        Some("refs/tags/v0.1.2")
    );
    // 1–6 and 8–22 present; 23 (environment) and 24 (token subject) absent in this 2024 cert.
    assert_eq!(id.extensions.len(), 21);
}

#[test]
fn othername_identity() {
    let id = CertificateIdentity::from_der(OTHERNAME_LEAF).unwrap();
    assert_eq!(id.san, SubjectAltName::OtherName("foo!oidc.local".into()));
    assert_eq!(id.issuer.as_deref(), Some("http://oidc.local:8080"));
}

#[test]
fn real_fulcio_sct_verifies_like_sigstore_go() {
    let leaf = Certificate::from_der(GITHUB_LEAF).unwrap();
    let issuer = Certificate::from_der(INTERMEDIATE).unwrap();
    let issuer_spki = issuer
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let sct = fulcio::verify_embedded_sct(&leaf, &issuer_spki, CTFE_2022).unwrap();
    assert_eq!(sct.timestamp, 1_710_888_075_966);

    // Wrong issuer key hash: the signature no longer verifies.
    let err = fulcio::verify_embedded_sct(&leaf, CTFE_2022, CTFE_2022).unwrap_err();
    assert!(
        matches!(err, fulcio::FulcioError::BadSctSignature { .. }),
        "{err}"
    );
    // A log that did not sign it.
    let other_log = leaf
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let err = fulcio::verify_embedded_sct(&leaf, &issuer_spki, &other_log).unwrap_err();
    assert!(
        matches!(err, fulcio::FulcioError::NoSctFromLog { .. }),
        "{err}"
    );
}

#[test]
fn garbage_never_panics() {
    for cut in 0..GITHUB_LEAF.len() {
        let _ = CertificateIdentity::from_der(&GITHUB_LEAF[..cut]);
    }
    let mut flipped = GITHUB_LEAF.to_vec();
    for i in (0..flipped.len()).step_by(7) {
        flipped[i] ^= 0x55;
        let _ = CertificateIdentity::from_der(&flipped);
        flipped[i] ^= 0x55;
    }
}
