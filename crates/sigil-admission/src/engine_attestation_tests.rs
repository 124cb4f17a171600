//! `attestations` with `conditions`: Kyverno's policy shape, attestations checked through
//! `sigil_verify::verify_attestations`, conditions over the predicate.

use std::sync::Arc;

use serde_json::json;
use sigil_core::keys::PrivateKey;

use super::tests::{engine, pod, MemFetcher};
use super::*;
use crate::policy::parse_policies;

const IMAGE: &str = "ghcr.io/u/app";
const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const SLSA: &str = "https://slsa.dev/provenance/v0.2";

/// The shape of kyverno/policies `verify-image-slsa.yaml`, with a static key (no log) as
/// the attestor and Enforce.
fn slsa_policy(key: &PrivateKey) -> Vec<Policy> {
    let pem = key.public_key().to_pem();
    let pem = pem.trim().replace('\n', "\n                  ");
    let yaml = format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-slsa-provenance
spec:
  validationFailureAction: Enforce
  rules:
    - name: check-slsa
      match:
        any:
        - resources:
            kinds:
              - Pod
      verifyImages:
      - imageReferences:
        - "ghcr.io/u/app:*"
        attestations:
        - predicateType: {SLSA}
          attestors:
          - count: 1
            entries:
            - keys:
                publicKeys: |-
                  {pem}
                rekor:
                  ignoreTlog: true
                  url: https://rekor.sigstore.dev
          conditions:
          - all:
            - key: "{{{{ regex_match('^https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v[0-9].[0-9].[0-9]$','{{{{ builder.id}}}}') }}}}"
              operator: Equals
              value: true
"#
    );
    parse_policies(&yaml, "slsa").unwrap().policies
}

fn provenance(builder: &str) -> serde_json::Value {
    json!({"builder": {"id": builder}, "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1"})
}

const GOOD_BUILDER: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0";

fn app_pod() -> Request {
    pod(
        "app",
        "default",
        json!({"containers": [{"name": "a", "image": format!("{IMAGE}:v1")}]}),
    )
}

#[tokio::test]
async fn an_attestation_whose_conditions_hold_is_allowed_and_pinned() {
    let key = PrivateKey::generate_p256().unwrap();
    let f = Arc::new(MemFetcher::default());
    f.tag(&format!("{IMAGE}:v1"), DIGEST);
    f.attest(&key, IMAGE, DIGEST, SLSA, &provenance(GOOD_BUILDER));
    let e = engine(slsa_policy(&key), f);
    let ev = e.evaluate(&app_pod(), Phase::Mutate).await;
    assert!(ev.allowed, "{ev:?}");
    assert!(ev.patch.iter().any(|p| p["op"] == "replace"
        && p["path"] == "/spec/containers/0/image"
        && p["value"] == format!("{IMAGE}:v1@{DIGEST}")));
}

#[tokio::test]
async fn an_attestation_whose_conditions_fail_is_denied_with_kyvernos_message() {
    let key = PrivateKey::generate_p256().unwrap();
    let f = Arc::new(MemFetcher::default());
    f.tag(&format!("{IMAGE}:v1"), DIGEST);
    f.attest(
        &key,
        IMAGE,
        DIGEST,
        SLSA,
        &provenance("https://github.com/evil/builder/.github/workflows/x.yml@refs/heads/main"),
    );
    let e = engine(slsa_policy(&key), f);
    let ev = e.evaluate(&app_pod(), Phase::Mutate).await;
    assert!(!ev.allowed);
    let msg = ev.message.unwrap();
    assert_eq!(
        msg,
        format!(
            "\n\nresource Pod/default/app was blocked due to the following policies \n\n\
             verify-slsa-provenance:\n  check-slsa: '.attestations[0].attestors[0].entries[0].keys: \
             attestation checks failed for {IMAGE}@{DIGEST} and predicate {SLSA}'\n"
        )
    );
}

#[tokio::test]
async fn missing_wrong_type_or_foreign_attestations_are_denied() {
    let key = PrivateKey::generate_p256().unwrap();
    let other = PrivateKey::generate_p256().unwrap();
    // No attestation at all.
    let f = Arc::new(MemFetcher::default());
    f.tag(&format!("{IMAGE}:v1"), DIGEST);
    let e = engine(slsa_policy(&key), f.clone());
    let ev = e.evaluate(&app_pod(), Phase::Mutate).await;
    assert!(!ev.allowed);
    assert!(
        ev.message
            .as_deref()
            .unwrap()
            .contains(&format!("attestions not found for predicate type {SLSA}")),
        "{ev:?}"
    );
    // Another predicate type only, with a good builder.
    f.attest(
        &key,
        IMAGE,
        DIGEST,
        "https://spdx.dev/Document",
        &provenance(GOOD_BUILDER),
    );
    let e = engine(slsa_policy(&key), f.clone());
    assert!(!e.evaluate(&app_pod(), Phase::Mutate).await.allowed);
    // The right type, signed by another key.
    f.attest(&other, IMAGE, DIGEST, SLSA, &provenance(GOOD_BUILDER));
    let e = engine(slsa_policy(&key), f.clone());
    let ev = e.evaluate(&app_pod(), Phase::Mutate).await;
    assert!(!ev.allowed);
    assert!(
        ev.message
            .as_deref()
            .unwrap()
            .contains("no matching attestations"),
        "{ev:?}"
    );
    // Every verified attestation of the type must satisfy the conditions: a good one next
    // to a bad one signed by the same key is still refused.
    f.attest(&key, IMAGE, DIGEST, SLSA, &provenance(GOOD_BUILDER));
    f.attest(
        &key,
        IMAGE,
        DIGEST,
        SLSA,
        &provenance("https://evil.example/x@refs/tags/v1.0.0"),
    );
    let e = engine(slsa_policy(&key), f);
    assert!(!e.evaluate(&app_pod(), Phase::Mutate).await.allowed);
}

/// Conditions see `image` as Kyverno's `AddImageInfo` puts it beside the predicate; the
/// verdict of such a rule is cached per image spelling, not only per digest.
#[tokio::test]
async fn conditions_see_the_image_info_beside_the_predicate() {
    let key = PrivateKey::generate_p256().unwrap();
    let pem = key.public_key().to_pem();
    let pem = pem.trim().replace('\n', "\n                  ");
    let yaml = format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: release-tags
spec:
  validationFailureAction: Enforce
  rules:
    - name: check-tag
      match:
        any:
        - resources:
            kinds:
              - Pod
      verifyImages:
      - imageReferences:
        - "ghcr.io/u/app:*"
        attestations:
        - type: {SLSA}
          attestors:
          - entries:
            - keys:
                publicKeys: |-
                  {pem}
                rekor:
                  ignoreTlog: true
                  url: https://rekor.sigstore.dev
          conditions:
          - all:
            - key: "{{{{ image.tag }}}}"
              operator: Equals
              value: "v1"
            - key: "{{{{ image.registry }}}}/{{{{ image.path }}}}"
              operator: Equals
              value: "ghcr.io/u/app"
            - key: "{{{{ builder.id }}}}"
              operator: Equals
              value: "{GOOD_BUILDER}"
"#
    );
    let policies = parse_policies(&yaml, "release-tags").unwrap().policies;
    let f = Arc::new(MemFetcher::default());
    f.tag(&format!("{IMAGE}:v1"), DIGEST);
    f.tag(&format!("{IMAGE}:v1-rc"), DIGEST);
    f.attest(&key, IMAGE, DIGEST, SLSA, &provenance(GOOD_BUILDER));
    let e = engine(policies, f);
    let ev = e.evaluate(&app_pod(), Phase::Mutate).await;
    assert!(ev.allowed, "{ev:?}");
    // Same digest, another tag: not served from the first verdict.
    let rc = pod(
        "app",
        "default",
        json!({"containers": [{"name": "a", "image": format!("{IMAGE}:v1-rc")}]}),
    );
    let ev = e.evaluate(&rc, Phase::Mutate).await;
    assert!(!ev.allowed, "{ev:?}");
    assert!(ev
        .message
        .unwrap()
        .contains("attestation checks failed for"));
}
