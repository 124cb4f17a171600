use super::*;
use crate::checkpoint::NoteVerifier;
use crate::keys::PrivateKey;
use serde_json::{json, Value};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rekor");

fn production_key() -> PublicKey {
    let b64 = std::fs::read_to_string(format!("{DIR}/rekor-production.pub.b64")).unwrap();
    PublicKey::from_spki_der(&B64.decode(b64.trim()).unwrap()).unwrap()
}

fn b64_to_hex(s: &str) -> String {
    hex::encode(B64.decode(s).unwrap())
}

/// Converts the bundle's proto-JSON tlog entry into the Rekor API shape.
fn entry_from_bundle(case: &str) -> LogEntry {
    let text = std::fs::read_to_string(format!("{DIR}/{case}.sigstore.json")).unwrap();
    let bundle: Value = serde_json::from_str(&text).unwrap();
    let e = &bundle["verificationMaterial"]["tlogEntries"][0];
    let num = |v: &Value| v.as_str().unwrap().parse::<i64>().unwrap();
    let p = &e["inclusionProof"];
    LogEntry {
        attestation: None,
        body: e["canonicalizedBody"].as_str().unwrap().to_owned(),
        integrated_time: num(&e["integratedTime"]),
        log_id: b64_to_hex(e["logId"]["keyId"].as_str().unwrap()),
        log_index: num(&e["logIndex"]),
        verification: Some(Verification {
            inclusion_proof: Some(InclusionProof {
                checkpoint: p["checkpoint"]["envelope"].as_str().unwrap().to_owned(),
                hashes: p["hashes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| b64_to_hex(h.as_str().unwrap()))
                    .collect(),
                log_index: num(&p["logIndex"]),
                root_hash: b64_to_hex(p["rootHash"].as_str().unwrap()),
                tree_size: num(&p["treeSize"]),
            }),
            signed_entry_timestamp: e["inclusionPromise"]["signedEntryTimestamp"]
                .as_str()
                .map(str::to_owned),
        }),
    }
}

fn verifier() -> NoteVerifier {
    NoteVerifier::rekor("rekor.sigstore.dev", production_key())
}

#[test]
fn public_good_entries_verify() {
    for case in ["happy-path-v0.3", "happy-path-intoto-in-dsse-v3"] {
        let entry = entry_from_bundle(case);
        verify_set(&entry, &production_key()).unwrap_or_else(|e| panic!("{case}: {e}"));
        let cp = verify_inclusion(&entry, &verifier()).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(cp.origin.starts_with("rekor.sigstore.dev - "));
    }
}

#[test]
fn log_id_is_sha256_of_the_key() {
    let entry = entry_from_bundle("happy-path-v0.3");
    assert_eq!(hex::encode(log_id(&production_key())), entry.log_id);
}

#[test]
fn public_good_failure_cases_fail() {
    let e = entry_from_bundle("set-invalid-signature_fail");
    assert_eq!(verify_set(&e, &production_key()), Err(RekorError::BadSet));
    for case in [
        "inclusion-proof-corrupted-hash_fail",
        "invalid-checkpoint-signature_fail",
        "checkpoint-wrong-roothash_fail",
    ] {
        let e = entry_from_bundle(case);
        assert!(
            verify_inclusion(&e, &verifier()).is_err(),
            "{case} verified"
        );
    }
}

#[test]
fn tampered_entry_fails_set() {
    let mut e = entry_from_bundle("happy-path-v0.3");
    e.log_index += 1;
    assert_eq!(verify_set(&e, &production_key()), Err(RekorError::BadSet));
    let mut e = entry_from_bundle("happy-path-v0.3");
    e.integrated_time -= 1;
    assert!(verify_set(&e, &production_key()).is_err());
}

#[test]
fn wrong_log_is_refused() {
    let e = entry_from_bundle("happy-path-v0.3");
    let other = PrivateKey::generate_p256().unwrap();
    assert!(matches!(
        verify_set(&e, other.public_key()),
        Err(RekorError::WrongLog { .. })
    ));
}

/// Public-good Rekor's stored hashedrekord body, given back as a proposed entry (the same
/// shape), must canonicalise to exactly the same bytes: same key re-encoding, same JCS.
#[test]
fn hashedrekord_canonical_body_matches_rekor() {
    let e = entry_from_bundle("happy-path-v0.3");
    let body = B64.decode(&e.body).unwrap();
    let proposed: Value = serde_json::from_slice(&body).unwrap();
    let accepted = canonicalize_proposed(&proposed).unwrap();
    assert_eq!(
        String::from_utf8(accepted.body).unwrap(),
        String::from_utf8(body).unwrap()
    );
    assert_eq!(accepted.kind, EntryKind::HashedRekord);
    assert!(accepted
        .index_keys
        .iter()
        .any(|k| k.starts_with("sha256:a0cfc71271d6e278")));
    assert!(accepted
        .index_keys
        .iter()
        .any(|k| k.starts_with("https://github.com/sigstore-conformance/")));
}

#[test]
fn hashedrekord_with_bad_signature_is_refused() {
    let e = entry_from_bundle("happy-path-v0.3");
    let mut proposed: Value = serde_json::from_slice(&B64.decode(&e.body).unwrap()).unwrap();
    proposed["spec"]["data"]["hash"]["value"] = json!("00".repeat(32));
    assert!(matches!(
        canonicalize_proposed(&proposed),
        Err(RekorError::BadSignature(_))
    ));
}

fn signed_hashedrekord(key: &PrivateKey, artifact: &[u8]) -> Value {
    let sig = key.sign(artifact).unwrap();
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(artifact))}},
            "signature": {"content": B64.encode(sig), "publicKey": {"content": B64.encode(key.public_key().to_pem())}},
        },
    })
}

#[test]
fn hashedrekord_with_public_key() {
    let key = PrivateKey::generate_p256().unwrap();
    let accepted = canonicalize_proposed(&signed_hashedrekord(&key, b"hello")).unwrap();
    let body: Value = serde_json::from_slice(&accepted.body).unwrap();
    assert_eq!(body["kind"], "hashedrekord");
    let other = PrivateKey::generate_p256().unwrap();
    let mut forged = signed_hashedrekord(&key, b"hello");
    forged["spec"]["signature"]["publicKey"]["content"] =
        json!(B64.encode(other.public_key().to_pem()));
    assert!(canonicalize_proposed(&forged).is_err());
}

fn dsse_proposed(key: &PrivateKey, payload: &[u8], tamper: bool) -> Value {
    let pt = "application/vnd.in-toto+json";
    let mut sig = key.sign(&pae(pt, payload)).unwrap();
    if tamper {
        sig[10] ^= 1;
    }
    let env = json!({"payload": B64.encode(payload), "payloadType": pt,
        "signatures": [{"keyid": "", "sig": B64.encode(sig)}]});
    json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": {
        "envelope": env.to_string(),
        "verifiers": [B64.encode(key.public_key().to_pem())]}}})
}

fn pae(t: &str, p: &[u8]) -> Vec<u8> {
    let mut v = format!("DSSEv1 {} {} {} ", t.len(), t, p.len()).into_bytes();
    v.extend_from_slice(p);
    v
}

#[test]
fn dsse_entries() {
    let key = PrivateKey::generate_p256().unwrap();
    let stmt = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"abcd"}}],"predicateType":"p","predicate":{}}"#;
    let accepted = canonicalize_proposed(&dsse_proposed(&key, stmt, false)).unwrap();
    let body: Value = serde_json::from_slice(&accepted.body).unwrap();
    assert_eq!(
        body["spec"]["payloadHash"]["value"],
        hex::encode(Sha256::digest(stmt))
    );
    assert_eq!(body["spec"]["signatures"].as_array().unwrap().len(), 1);
    assert!(accepted.index_keys.contains(&"sha256:abcd".to_owned()));
    // Server-computed fields sent as null (sigstore-python does) count as absent.
    let mut with_nulls = dsse_proposed(&key, stmt, false);
    with_nulls["spec"]["envelopeHash"] = Value::Null;
    with_nulls["spec"]["signatures"] = Value::Null;
    assert!(canonicalize_proposed(&with_nulls).is_ok());
    let mut with_hash = dsse_proposed(&key, stmt, false);
    with_hash["spec"]["payloadHash"] = json!({"algorithm": "sha256", "value": "00"});
    assert!(canonicalize_proposed(&with_hash).is_err());
    assert!(matches!(
        canonicalize_proposed(&dsse_proposed(&key, stmt, true)),
        Err(RekorError::BadSignature(_))
    ));
}

#[test]
fn large_dsse_entries_are_checked_on_two_threads_with_the_same_result() {
    // Over PARALLEL_FROM: the payload's hash and subjects are read on a second thread.
    let key = PrivateKey::generate_p256().unwrap();
    let filler = "a".repeat(1 << 20);
    let stmt = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha256":"abcd"}}}}],"predicateType":"p","predicate":{{"f":"{filler}"}}}}"#
    );
    let proposed = dsse_proposed(&key, stmt.as_bytes(), false);
    let accepted = canonicalize_proposed(&proposed).unwrap();
    let body: Value = serde_json::from_slice(&accepted.body).unwrap();
    let envelope = proposed["spec"]["proposedContent"]["envelope"]
        .as_str()
        .unwrap();
    let payload_key = format!("sha256:{}", hex::encode(Sha256::digest(stmt.as_bytes())));
    assert_eq!(body["spec"]["payloadHash"]["value"], payload_key[7..]);
    assert_eq!(
        body["spec"]["envelopeHash"]["value"],
        hex::encode(Sha256::digest(envelope.as_bytes()))
    );
    assert!(accepted.index_keys.contains(&"sha256:abcd".to_owned()));
    assert!(accepted.index_keys.contains(&payload_key));
    assert!(matches!(
        canonicalize_proposed(&dsse_proposed(&key, stmt.as_bytes(), true)),
        Err(RekorError::BadSignature(_))
    ));
}

#[test]
fn dsse_envelopes_read_without_a_value_tree_agree_with_the_value_path() {
    let key = PrivateKey::generate_p256().unwrap();
    let good = dsse_proposed(&key, b"{}", false);
    let text = good["spec"]["proposedContent"]["envelope"]
        .as_str()
        .unwrap();
    let v: Value = serde_json::from_str(text).unwrap();
    let fast = super::body::parse_envelope_text(text).unwrap();
    let slow = super::body::parse_envelope(&v).unwrap();
    assert_eq!(fast, slow);
    // What the borrowed reader does not take is left to the Value path (same errors as before).
    for bad in [
        r#"{"payloadType":"t","payload":"e30=","signatures":[]}"#,
        r#"{"payloadType":"t","payload":"not base64!","signatures":[{"sig":"AA=="}]}"#,
        r#"{"payloadType":1,"payload":"e30=","signatures":[{"sig":"AA=="}]}"#,
        r#"{"payloadType":"t","payload":"e30=","signatures":[{"sig":"AA==","keyid":7}]}"#,
        r#"{"payloadType":"t","payloadType":"u","payload":"e30=","signatures":[{"sig":"AA=="}]}"#,
    ] {
        assert!(super::body::parse_envelope_text(bad).is_none(), "{bad}");
    }
    let keyid_number: Value = serde_json::from_str(
        r#"{"payloadType":"t","payload":"e30=","signatures":[{"sig":"AA==","keyid":7}]}"#,
    )
    .unwrap();
    assert!(super::body::parse_envelope(&keyid_number).is_ok());
}

#[test]
fn intoto_entries() {
    let key = PrivateKey::generate_p256().unwrap();
    let payload = b"{}";
    let pt = "application/vnd.in-toto+json";
    let sig_b64 = B64.encode(key.sign(&pae(pt, payload)).unwrap());
    let proposed = json!({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
        "envelope": {"payloadType": pt, "payload": B64.encode(B64.encode(payload)),
            "signatures": [{"sig": B64.encode(&sig_b64), "publicKey": B64.encode(key.public_key().to_pem())}]},
        "hash": {"algorithm": "sha256", "value": "00".repeat(32)}}}});
    let accepted = canonicalize_proposed(&proposed).unwrap();
    let body: Value = serde_json::from_slice(&accepted.body).unwrap();
    assert!(body["spec"]["content"]["envelope"].get("payload").is_none());
    assert_eq!(
        body["spec"]["content"]["payloadHash"]["value"],
        hex::encode(Sha256::digest(payload))
    );
}

#[test]
fn unknown_kinds_and_versions_are_refused() {
    for (k, v) in [
        ("rekord", "0.0.1"),
        ("hashedrekord", "0.0.2"),
        ("dsse", "9"),
    ] {
        let p = json!({"apiVersion": v, "kind": k, "spec": {}});
        assert!(matches!(
            canonicalize_proposed(&p),
            Err(RekorError::UnsupportedKind { .. })
        ));
    }
    assert!(canonicalize_proposed(&json!({"kind": "hashedrekord"})).is_err());
    assert!(canonicalize_proposed(&json!([1, 2])).is_err());
}

#[test]
fn set_round_trip() {
    let key = PrivateKey::generate_p256().unwrap();
    let mut e = LogEntry {
        attestation: None,
        body: B64.encode(b"{}"),
        integrated_time: 1_700_000_000,
        log_id: hex::encode(log_id(key.public_key())),
        log_index: 3,
        verification: None,
    };
    let set = sign_set(&e, &key).unwrap();
    e.verification = Some(Verification {
        inclusion_proof: None,
        signed_entry_timestamp: Some(B64.encode(set)),
    });
    verify_set(&e, key.public_key()).unwrap();
    assert_eq!(
        String::from_utf8(set_payload(&e).unwrap()).unwrap(),
        format!(
            "{{\"body\":\"e30=\",\"integratedTime\":1700000000,\"logID\":\"{}\",\"logIndex\":3}}",
            e.log_id
        )
    );
}

#[test]
fn uuids() {
    let leaf = [7u8; 32];
    let u = entry_uuid(0x24b5_d08d_29d1_02ab, &leaf);
    assert_eq!(u.len(), 80);
    assert_eq!(uuid_leaf_hash(&u), Some(leaf));
    assert_eq!(uuid_leaf_hash(&hex::encode(leaf)), Some(leaf));
    assert_eq!(uuid_leaf_hash("xyz"), None);
}

/// The direct hashedrekord path must give what the `Value` path gives, byte for byte and
/// error for error; anything else must be left to the `Value` path.
#[test]
fn hashedrekord_fast_path_matches_value_path() {
    let e = entry_from_bundle("happy-path-v0.3");
    let rekor_body = B64.decode(&e.body).unwrap();
    let key = PrivateKey::generate_p256().unwrap();
    let good = signed_hashedrekord(&key, b"hello");
    let mut bad_sig = good.clone();
    bad_sig["spec"]["data"]["hash"]["value"] = json!("00".repeat(32));
    let mut bad_alg = good.clone();
    bad_alg["spec"]["data"]["hash"]["algorithm"] = json!("md5");
    let mut short = good.clone();
    short["spec"]["data"]["hash"]["value"] = json!("abcd");
    let mut not_hex = good.clone();
    not_hex["spec"]["data"]["hash"]["value"] = json!("zz".repeat(32));
    let mut empty_sig = good.clone();
    empty_sig["spec"]["signature"]["content"] = json!("");
    let mut extra = good.clone();
    extra["spec"]["extra"] = json!({"a": 1});
    let cases: Vec<Vec<u8>> = vec![
        rekor_body,
        serde_json::to_vec(&good).unwrap(),
        serde_json::to_vec(&bad_sig).unwrap(),
        serde_json::to_vec(&bad_alg).unwrap(),
        serde_json::to_vec(&short).unwrap(),
        serde_json::to_vec(&not_hex).unwrap(),
        serde_json::to_vec(&empty_sig).unwrap(),
        serde_json::to_vec(&extra).unwrap(),
        // An escaped slash in the base64 key: same string once decoded.
        serde_json::to_vec(&good)
            .unwrap()
            .iter()
            .fold(Vec::new(), |mut v, b| {
                if *b == b'/' {
                    v.extend_from_slice(b"\\/");
                } else {
                    v.push(*b);
                }
                v
            }),
    ];
    for (i, c) in cases.iter().enumerate() {
        let v: Value = serde_json::from_slice(c).unwrap();
        let fast =
            canonicalize_proposed_slice(c).unwrap_or_else(|| panic!("case {i}: no fast path"));
        assert_eq!(fast, canonicalize_proposed(&v), "case {i}");
    }
    // Not the fast path's shape: the caller parses a `Value`.
    let mut missing = good.clone();
    missing["spec"]["signature"]
        .as_object_mut()
        .unwrap()
        .remove("publicKey");
    let mut number = good.clone();
    number["spec"]["data"]["hash"]["value"] = json!(5);
    let mut other_version = good.clone();
    other_version["apiVersion"] = json!("0.0.2");
    let dup = br#"{"kind":"hashedrekord","kind":"dsse","apiVersion":"0.0.1","spec":{}}"#.to_vec();
    for (i, c) in [
        serde_json::to_vec(&missing).unwrap(),
        serde_json::to_vec(&number).unwrap(),
        serde_json::to_vec(&other_version).unwrap(),
        serde_json::to_vec(&dsse_proposed(&key, b"x", false)).unwrap(),
        dup,
        b"{not json".to_vec(),
    ]
    .iter()
    .enumerate()
    {
        assert!(canonicalize_proposed_slice(c).is_none(), "case {i}");
    }
}

/// The SET payload written directly equals the JCS of the same members.
#[test]
fn set_payload_is_jcs() {
    for (body, time, index) in [
        ("e30=", 1_700_000_000i64, 3i64),
        ("a\"b\\c\u{1}é", -5, 0),
        ("", 0, 9_007_199_254_740_992),
    ] {
        let e = LogEntry {
            attestation: None,
            body: body.into(),
            integrated_time: time,
            log_id: "ab".repeat(32),
            log_index: index,
            verification: None,
        };
        let v = json!({"body": body, "integratedTime": time, "logID": e.log_id, "logIndex": index});
        assert_eq!(set_payload(&e).unwrap(), jcs::canonicalize(&v).unwrap());
    }
    let e = LogEntry {
        attestation: None,
        body: String::new(),
        integrated_time: 1 << 54,
        log_id: String::new(),
        log_index: 0,
        verification: None,
    };
    assert!(set_payload(&e).is_err());
}
