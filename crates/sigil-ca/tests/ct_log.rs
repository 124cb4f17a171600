//! The embedded and a standalone RFC 6962 CT log: input checks, durable leaves, signed tree
//! heads, audit paths and consistency proofs, and submission over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use common::*;
use der::{Decode, Encode};
use serde_json::{json, Value};
use sigil_ca::CaConfig;
use sigil_core::fulcio;
use x509_cert::Certificate;

#[tokio::test]
async fn ct_log_add_pre_chain_checks_its_input() {
    let s = stack().await;
    let log = s.ca_state.ct_log.clone().unwrap();
    let root = s.ca_state.authority.root_der().to_vec();
    let inter = s.ca_state.authority.intermediate_der().to_vec();
    let url = format!("{}/ct/v1/add-pre-chain", s.ca.url());
    let post = |chain: Vec<Vec<u8>>| {
        let body = json!({"chain": chain.iter().map(|c| B64.encode(c)).collect::<Vec<_>>()});
        let req = s.http.post(&url).json(&body);
        async move {
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // The intermediate is not a precertificate.
    let (status, body) = post(vec![inter.clone(), root.clone()]).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("poison"));
    // A lone certificate, garbage, and a chain to a foreign root.
    assert_eq!(post(vec![inter.clone()]).await.0, 400);
    assert_eq!(
        post(vec![vec![0x30, 0x03, 1, 2, 3], root.clone()]).await.0,
        400
    );
    let gh_leaf = include_bytes!("../testdata/github-leaf.der").to_vec();
    let gh_inter = include_bytes!("../testdata/fulcio-intermediate.der").to_vec();
    assert_eq!(post(vec![gh_leaf, gh_inter]).await.0, 400);
    assert!(log.entries().unwrap().is_empty());
    let (status, roots) = {
        let r = s
            .http
            .get(format!("{}/ct/v1/get-roots", s.ca.url()))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(roots["certificates"][0], B64.encode(&root));

    // Read endpoints refuse what is out of range or malformed.
    for q in [
        "get-entries?start=0&end=1",
        "get-entries?start=x&end=1",
        "get-sth-consistency?first=1&second=9",
        "get-proof-by-hash?hash=AAAA&tree_size=1",
        "get-proof-by-hash?tree_size=1",
    ] {
        let r = s
            .http
            .get(format!("{}/ct/v1/{q}", s.ca.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{q}");
    }
}

#[tokio::test]
async fn ct_log_proofs_over_many_entries() {
    let s = stack().await;
    let key = Key::new();
    let p = profile();
    let token = s.github_token(&p);
    let sub = format!("repo:{}:ref:{}", p.repository, p.git_ref);
    // Concurrent submissions (group commit) all land, each with its own index.
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let body = key_request(&token, &key, &sub);
        let url = format!("{}/api/v2/signingCert", s.ca.url());
        let http = s.http.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    let log = s.ca_state.ct_log.clone().unwrap();
    let leaves = log.entries().unwrap();
    assert_eq!(leaves.len(), 12);
    let sth = log.signed_tree_head().unwrap();
    let root: [u8; 32] = B64
        .decode(&sth.sha256_root_hash)
        .unwrap()
        .try_into()
        .unwrap();
    for (i, leaf) in leaves.iter().enumerate() {
        let (index, path) = log
            .proof_by_hash(&sigil_core::merkle::leaf_hash(leaf), 12)
            .unwrap();
        assert_eq!(index, i as u64);
        let path: Vec<[u8; 32]> = path
            .iter()
            .map(|h| B64.decode(h).unwrap().try_into().unwrap())
            .collect();
        let got = sigil_core::merkle::root_from_inclusion(
            index,
            12,
            &sigil_core::merkle::leaf_hash(leaf),
            &path,
        )
        .unwrap();
        assert_eq!(got, root);
    }
    assert!(log.consistency(5, 12).unwrap().len() > 1);
}

#[tokio::test]
async fn ca_submits_to_a_remote_ct_log_over_http() {
    let s = stack().await;
    let dir = tempfile::tempdir().unwrap();
    // A standalone CT log, reached over HTTP by a second CA.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ct_url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = CaConfig::from_yaml(&format!(
        "oidc-issuers:\n  {GITHUB}:\n    issuer-url: {GITHUB}\n    type: github-workflow\n    discovery-url: {}/.well-known/openid-configuration\nct-log-url: {ct_url}\n",
        s.gh.settings().unwrap().url
    ))
    .unwrap();
    let ca = sigil_ca::open_ca(&dir.path().join("ca"), &config).unwrap();
    assert!(
        ca.ct_log.is_none(),
        "no embedded log when ct-log-url is set"
    );
    let key = Arc::new(sigil_ca::FileSigner::load_or_generate(&dir.path().join("ct.key")).unwrap());
    let log = Arc::new(
        sigil_ca::CtLog::open(
            &dir.path().join("ct"),
            key,
            vec![ca.authority.root_der().to_vec()],
        )
        .unwrap(),
    );
    let _ct = sigil_ca::spawn(listener, sigil_ca::ct_router(log.clone())).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ca_srv = sigil_ca::spawn(l, sigil_ca::router(ca.clone())).unwrap();

    let p = profile();
    let token = s.github_token(&p);
    let sub = format!("repo:{}:ref:{}", p.repository, p.git_ref);
    let resp = s
        .http
        .post(format!("{}/api/v2/signingCert", ca_srv.url()))
        .json(&key_request(&token, &Key::new(), &sub))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let chain = chain_of(&resp.json().await.unwrap());
    let leaf = Certificate::from_der(&chain[0]).unwrap();
    let inter = Certificate::from_der(&chain[1]).unwrap();
    let inter_spki = inter
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    fulcio::verify_embedded_sct(&leaf, &inter_spki, log.public_key_spki()).unwrap();
    assert_eq!(log.size(), 1);

    // The log refuses chains of a CA it does not accept (the first stack's CA).
    let other = s.ca_state.authority.chain_der();
    let body = json!({"chain": other.iter().map(|c| B64.encode(c)).collect::<Vec<_>>()});
    let r = s
        .http
        .post(format!("{ct_url}/ct/v1/add-pre-chain"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // An unreachable log is a 502 for the client, with nothing issued.
    config.ct_log_url = Some("http://127.0.0.1:9".into());
    let broken = sigil_ca::open_ca(&dir.path().join("ca"), &config).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let broken_srv = sigil_ca::spawn(l, sigil_ca::router(broken)).unwrap();
    let r = s
        .http
        .post(format!("{}/api/v2/signingCert", broken_srv.url()))
        .json(&key_request(&token, &Key::new(), &sub))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
}
