//! `rekor.pubkey`, `ctlog.pubkey` and the key refusals: an attestor that names its log key
//! trusts that log alone, with or without a trust config.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use sigil_core::keys::PrivateKey;
use sigil_core::rekor::{canonicalize_proposed, sign_set, LogEntry};
use sigil_core::{Digest, ImageRef, SimpleSigningPayload};
use sigil_verify::SignatureCandidate;

use super::tests::{engine, pod, MemFetcher};
use super::*;
use crate::policy::parse_policies;

const IMAGE: &str = "registry.local/lab/app";
const DIGEST: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// A key signature of `IMAGE@DIGEST` logged by `log`: the `.sig` layer's Rekor bundle
/// annotation (hashedrekord body, SET), as cosign writes it.
fn logged_signature(key: &PrivateKey, log: &PrivateKey) -> SignatureCandidate {
    let image: ImageRef = IMAGE.parse().unwrap();
    let digest: Digest = DIGEST.parse().unwrap();
    let payload = SimpleSigningPayload::new(&image, &digest, &Default::default()).to_bytes();
    let sig = key.sign(&payload).unwrap();
    let body = canonicalize_proposed(&json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload))}},
            "signature": {"content": B64.encode(&sig), "publicKey": {"content": B64.encode(key.public_key().to_pem())}},
        },
    }))
    .unwrap()
    .body;
    let entry = LogEntry {
        attestation: None,
        body: B64.encode(&body),
        integrated_time: 1_700_000_000,
        log_id: hex::encode(sigil_core::rekor::log_id(log.public_key())),
        log_index: 7,
        verification: None,
    };
    let set = sign_set(&entry, log).unwrap();
    let annotation = json!({
        "SignedEntryTimestamp": B64.encode(set),
        "Payload": {"body": entry.body, "integratedTime": entry.integrated_time,
                    "logIndex": entry.log_index, "logID": entry.log_id},
    });
    SignatureCandidate {
        payload,
        signature_b64: Some(B64.encode(sig)),
        rekor_bundle: Some(annotation.to_string()),
        ..SignatureCandidate::default()
    }
}

fn indent(pem: &str) -> String {
    pem.trim().replace('\n', "\n                  ")
}

/// A keys attestor whose log is `rekor.pubkey` (and an unused CT log key, which a key
/// signature never needs).
fn policy(key: &PrivateKey, log_pem: &str) -> Vec<Policy> {
    let yaml = format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: own-log
spec:
  validationFailureAction: Enforce
  rules:
    - name: check-log
      match:
        any:
        - resources:
            kinds:
              - Pod
      verifyImages:
      - imageReferences:
        - "{IMAGE}:*"
        attestors:
        - entries:
          - keys:
              publicKeys: |-
                  {key}
              rekor:
                url: https://rekor.local
                pubkey: |-
                  {log}
"#,
        key = indent(&key.public_key().to_pem()),
        log = indent(log_pem),
    );
    parse_policies(&yaml, "own-log").unwrap().policies
}

fn app() -> Request {
    pod(
        "app",
        "default",
        json!({"containers": [{"name": "a", "image": format!("{IMAGE}:v1")}]}),
    )
}

#[tokio::test]
async fn rekor_pubkey_is_the_only_log_trusted() {
    let key = PrivateKey::generate_p256().unwrap();
    let log = PrivateKey::generate_p256().unwrap();
    let other_log = PrivateKey::generate_p256().unwrap();
    let f = Arc::new(MemFetcher::default());
    f.tag(&format!("{IMAGE}:v1"), DIGEST);
    f.sigs.lock().unwrap().insert(
        format!("{IMAGE}@{DIGEST}"),
        vec![logged_signature(&key, &log)],
    );

    // The log that recorded the signature: admitted, with no trust config at all.
    let e = engine(policy(&key, &log.public_key().to_pem()), f.clone());
    let ev = e.evaluate(&app(), Phase::Mutate).await;
    assert!(ev.allowed, "{ev:?}");

    // Another log's key: the entry's log is unknown, and the message names it.
    let e = engine(policy(&key, &other_log.public_key().to_pem()), f.clone());
    let ev = e.evaluate(&app(), Phase::Mutate).await;
    assert!(!ev.allowed);
    let msg = ev.message.unwrap();
    let entry_log = hex::encode(sigil_core::rekor::log_id(log.public_key()));
    assert!(
        msg.contains(".attestors[0].entries[0].keys: no matching signatures")
            && msg.contains(&format!("entry from unknown log {entry_log}")),
        "{msg}"
    );
}

#[test]
fn log_keys_replace_the_trust_configs_logs() {
    use crate::attestor_trust::{attestor_root, Overrides};
    use crate::policy::{Ctlog, Rekor};
    let rekor_key = PrivateKey::generate_p256().unwrap();
    let ct_key = PrivateKey::generate_p256().unwrap();
    let rekor = Rekor {
        url: Some("https://rekor.local".into()),
        pubkey: Some(rekor_key.public_key().to_pem()),
        ignore_tlog: false,
    };
    let ctlog = Ctlog {
        pubkey: Some(ct_key.public_key().to_pem()),
        ..Ctlog::default()
    };
    let base = Arc::new(
        sigil_core::trust_root::trusted_root_from_any(
            &std::fs::read(super::tests::testdata("trust/production-trusted_root.json")).unwrap(),
        )
        .unwrap(),
    );
    let root = attestor_root(
        Some(base.clone()),
        &Overrides {
            rekor: Some(&rekor),
            ctlog: Some(&ctlog),
            kind: "keyless",
            ..Overrides::default()
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(root.tlogs.len(), 1);
    assert_eq!(root.tlogs[0].base_url, "https://rekor.local");
    assert_eq!(
        root.tlogs[0].log_id.key_id.0,
        sigil_core::rekor::log_id(rekor_key.public_key()).to_vec()
    );
    assert!(root.tlogs[0].valid_at(0) && root.tlogs[0].valid_at(4_000_000_000));
    assert_eq!(root.ctlogs.len(), 1);
    assert_eq!(
        root.ctlogs[0].public_key.raw_bytes.0,
        ct_key.public_key().spki_der()
    );
    // The CAs stay the trust config's.
    assert_eq!(
        root.certificate_authorities.len(),
        base.certificate_authorities.len()
    );
    // A key the trust config already lists keeps its entry (validity, checkpoint key ID).
    let known = &base.tlogs[0];
    let known_pem = sigil_core::keys::PublicKey::from_spki_der(&known.public_key.raw_bytes.0)
        .unwrap()
        .to_pem();
    let same = attestor_root(
        Some(base.clone()),
        &Overrides {
            rekor: Some(&Rekor {
                pubkey: Some(known_pem),
                ..rekor.clone()
            }),
            kind: "keyless",
            ..Overrides::default()
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(same.tlogs.len(), 1);
    assert_eq!(same.tlogs[0].base_url, known.base_url);
    // ignoreTlog / ignoreSCT win over the keys (Kyverno loads them only when not ignored);
    // nothing overridden means the trust config itself, not a copy.
    let ignored = attestor_root(
        Some(base.clone()),
        &Overrides {
            rekor: Some(&Rekor {
                ignore_tlog: true,
                ..rekor.clone()
            }),
            ctlog: Some(&Ctlog {
                ignore_sct: true,
                ..ctlog.clone()
            }),
            kind: "keyless",
            ..Overrides::default()
        },
    )
    .unwrap()
    .unwrap();
    assert!(Arc::ptr_eq(&ignored, &base));
}

/// A ClusterPolicy whose only attestor entry is `entry`.
fn policy_with(entry: &str) -> String {
    format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: p
spec:
  rules:
    - name: r
      match:
        any:
        - resources:
            kinds: [Pod]
      verifyImages:
      - imageReferences: ["ghcr.io/*"]
        attestors:
        - entries:
          - {entry}
"#
    )
}

fn load_err(entry: &str) -> String {
    match parse_policies(&policy_with(entry), "p") {
        Err(crate::Error::Policy { detail, .. }) => detail,
        other => panic!("{other:?}"),
    }
}

/// The one load warning of a policy whose only attestor entry is `entry`.
fn load_warning(entry: &str) -> String {
    let set = parse_policies(&policy_with(entry), "p").unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    set.warnings[0].clone()
}

#[test]
fn keys_sigil_cannot_resolve_load_with_a_warning_saying_what_is_missing() {
    // As in Kyverno the policy loads; the attestor refuses every image (attestor.rs), with
    // the same message.
    assert_eq!(
        load_warning("keys: {kms: 'awskms:///arn:aws:kms:us-east-1:1:key/k'}"),
        "policy `p`: rule `r`: verifyImages[0]: .attestors[0].entries[0]: keys.kms (`awskms:///arn:aws:kms:us-east-1:1:key/k`) needs a KMS client, which sigil does not have; put the public key PEM in keys.publicKeys (images this rule matches are refused)"
    );
    assert!(load_warning("keys: {secret: {name: cosign-key, namespace: kyverno}}").contains(
        "keys.secret (`kyverno/cosign-key`) needs a Kubernetes API client to read the Secret, which sigil does not have; put the Secret's cosign.pub PEM in keys.publicKeys"
    ));
    assert!(load_warning("keys: {publicKeys: 'k8s://kyverno/cosign-key'}")
        .contains("keys.publicKeys `k8s://kyverno/cosign-key` names a Kubernetes Secret (kyverno/cosign-key), which needs a Kubernetes API client sigil does not have; put the Secret's cosign.pub PEM in keys.publicKeys"));
    assert!(load_warning("keys: {publicKeys: 'gcpkms://projects/p/k'}")
        .contains("is a KMS reference, which needs a KMS client sigil does not have"));
    assert!(
        load_warning("keys: {publicKeys: '{{ keys.data.production }}'}")
            .contains("needs Kyverno's policy context")
    );
    // A log key that is not a key is a load error, naming the field.
    assert!(
        load_err("keyless: {subject: a, rekor: {url: 'https://r', pubkey: 'not a key'}}")
            .contains(".attestors[0].entries[0].keyless.rekor.pubkey is not a PEM public key")
    );
    assert!(
        load_err("keyless: {subject: a, rekor: {url: 'https://r'}, ctlog: {pubkey: 'nope'}}")
            .contains("keyless.ctlog.pubkey is not a PEM public key")
    );
    assert!(load_err(
        "keyless: {subject: a, rekor: {url: 'https://r'}, ctlog: {tsaCertChain: 'nope'}}"
    )
    .contains("keyless.ctlog.tsaCertChain"));
}
