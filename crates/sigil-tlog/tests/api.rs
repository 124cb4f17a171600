//! The Rekor v1 API and tlog-tiles reads over a real socket on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use sigil_core::checkpoint::{verify_checkpoint, NoteVerifier};
use sigil_core::keys::{PrivateKey, PublicKey};
use sigil_core::merkle;
use sigil_core::rekor::{self, LogEntries};
use sigil_tlog::{LogConfig, TlogServer};

fn hashedrekord(key: &PrivateKey, artifact: &[u8]) -> Value {
    let sig = key.sign(artifact).unwrap();
    json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(artifact))}},
            "signature": {"content": B64.encode(sig),
                "publicKey": {"content": B64.encode(key.public_key().to_pem())}},
        },
    })
}

struct Env {
    server: TlogServer,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn new(config: LogConfig) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let server = TlogServer::start("127.0.0.1:0".parse().unwrap(), dir.path(), config)
            .await
            .unwrap();
        Env {
            server,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.server.url())
    }
    async fn get(&self, p: &str) -> reqwest::Response {
        self.http.get(self.url(p)).send().await.unwrap()
    }
    async fn post(&self, p: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.url(p)).json(body).send().await.unwrap()
    }
    async fn log_key(&self) -> PublicKey {
        let pem = self
            .get("/api/v1/log/publicKey")
            .await
            .text()
            .await
            .unwrap();
        PublicKey::from_pem(pem.as_bytes()).unwrap()
    }
    async fn tree_size(&self) -> i64 {
        let info: Value = self.get("/api/v1/log").await.json().await.unwrap();
        info["treeSize"].as_i64().unwrap()
    }
}

async fn one(resp: reqwest::Response) -> (String, rekor::LogEntry) {
    let m: LogEntries = resp.json().await.unwrap();
    assert_eq!(m.len(), 1);
    m.into_iter().next().unwrap()
}

#[tokio::test]
async fn create_verify_and_read_back() {
    let env = Env::new(LogConfig::default()).await;
    let log_key = env.log_key().await;
    let verifier = NoteVerifier::rekor("sigil-tlog", log_key.clone());
    let signer = PrivateKey::generate_p256().unwrap();
    let mut uuids = Vec::new();
    let proposed: Vec<Value> = (0..5)
        .map(|i| hashedrekord(&signer, format!("artifact {i}").as_bytes()))
        .collect();
    for i in 0..5 {
        let r = env.post("/api/v1/log/entries", &proposed[i as usize]).await;
        assert_eq!(r.status(), 201);
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let (uuid, entry) = one(r).await;
        assert_eq!(loc, format!("/api/v1/log/entries/{uuid}"));
        assert_eq!(etag, uuid);
        assert_eq!(uuid.len(), 80);
        assert_eq!(entry.log_index, i);
        rekor::verify_set(&entry, &log_key).unwrap();
        let cp = rekor::verify_inclusion(&entry, &verifier).unwrap();
        assert_eq!(cp.size, i as u64 + 1);
        uuids.push(uuid);
    }
    // Read back by index, by UUID (with and without the tree ID), via retrieve.
    let (u, e) = one(env.get("/api/v1/log/entries?logIndex=2").await).await;
    assert_eq!(u, uuids[2]);
    rekor::verify_inclusion(&e, &verifier).unwrap();
    assert_eq!(
        e.verification
            .as_ref()
            .unwrap()
            .inclusion_proof
            .as_ref()
            .unwrap()
            .tree_size,
        5
    );
    let (u, _) = one(env.get(&format!("/api/v1/log/entries/{}", uuids[3])).await).await;
    assert_eq!(u, uuids[3]);
    let (u, _) = one(env
        .get(&format!("/api/v1/log/entries/{}", &uuids[3][16..]))
        .await)
    .await;
    assert_eq!(u, uuids[3]);
    let got: Vec<LogEntries> = env
        .post(
            "/api/v1/log/entries/retrieve",
            &json!({"entryUUIDs": [uuids[0]], "logIndexes": [4],
            "entries": [proposed[1]]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let keys: Vec<&String> = got.iter().flat_map(|m| m.keys()).collect();
    assert_eq!(keys, vec![&uuids[0], &uuids[4], &uuids[1]]);

    // Search by artifact hash, by public key, and both.
    let h = hex::encode(Sha256::digest(b"artifact 3"));
    let found: Vec<String> = env
        .post(
            "/api/v1/index/retrieve",
            &json!({"hash": format!("sha256:{h}")}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found, vec![uuids[3].clone()]);
    let pk = json!({"format": "x509", "content": B64.encode(signer.public_key().to_pem())});
    let found: Vec<String> = env
        .post("/api/v1/index/retrieve", &json!({"publicKey": pk}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found.len(), 5);
    let found: Vec<String> = env
        .post(
            "/api/v1/index/retrieve",
            &json!({"publicKey": pk, "hash": h, "operator": "and"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found, vec![uuids[3].clone()]);

    // Log info and consistency between every pair of sizes.
    let info: Value = env.get("/api/v1/log").await.json().await.unwrap();
    assert_eq!(info["treeSize"], 5);
    let cp = verify_checkpoint(info["signedTreeHead"].as_str().unwrap(), &verifier).unwrap();
    assert_eq!(
        hex::encode(cp.root_hash),
        info["rootHash"].as_str().unwrap()
    );
    assert_eq!(
        cp.origin,
        format!("sigil-tlog - {}", info["treeID"].as_str().unwrap())
    );
    let roots: Vec<[u8; 32]> = {
        let mut t = merkle::MemoryTree::new();
        let mut roots = vec![];
        for i in 0..5 {
            let (_, e) = one(env.get(&format!("/api/v1/log/entries?logIndex={i}")).await).await;
            t.push(&B64.decode(e.body).unwrap());
            roots.push(t.root_at(i + 1).unwrap());
        }
        roots
    };
    assert_eq!(roots[4], cp.root_hash);
    for a in 1..=5u64 {
        for b in a..=5u64 {
            let p: Value = env
                .get(&format!("/api/v1/log/proof?firstSize={a}&lastSize={b}"))
                .await
                .json()
                .await
                .unwrap();
            let hashes: Vec<[u8; 32]> = p["hashes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| rekor::decode_hash(h.as_str().unwrap()).unwrap())
                .collect();
            assert_eq!(
                p["rootHash"].as_str().unwrap(),
                hex::encode(roots[b as usize - 1])
            );
            merkle::verify_consistency(
                a,
                b,
                &hashes,
                &roots[a as usize - 1],
                &roots[b as usize - 1],
            )
            .unwrap();
        }
    }

    // tlog-tiles: the checkpoint, a partial level-0 tile (leaf hashes), the entry bundle.
    let note = env.get("/checkpoint").await.text().await.unwrap();
    assert_eq!(note, info["signedTreeHead"].as_str().unwrap());
    let tile = env.get("/tile/0/000.p/5").await.bytes().await.unwrap();
    assert_eq!(tile.len(), 5 * 32);
    let bundle = env
        .get("/tile/entries/000.p/5")
        .await
        .bytes()
        .await
        .unwrap();
    let mut t = merkle::MemoryTree::new();
    let mut rest = &bundle[..];
    for i in 0..5 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let data = &rest[2..2 + len];
        assert_eq!(&tile[i * 32..(i + 1) * 32], merkle::leaf_hash(data));
        t.push(data);
        rest = &rest[2 + len..];
    }
    assert!(rest.is_empty());
    assert_eq!(t.root_at(5).unwrap(), cp.root_hash);
    assert_eq!(env.get("/tile/0/000").await.status(), 404);
    assert_eq!(env.get("/tile/0/000.p/6").await.status(), 404);
}

#[tokio::test]
async fn duplicates_conflict_with_the_existing_location() {
    let env = Env::new(LogConfig::default()).await;
    let signer = PrivateKey::generate_p256().unwrap();
    let entry = hashedrekord(&signer, b"same");
    let (uuid, _) = one(env.post("/api/v1/log/entries", &entry).await).await;
    // Concurrent duplicates land in one batch or several: all but none get 409.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let http = env.http.clone();
        let url = env.url("/api/v1/log/entries");
        let e = entry.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url).json(&e).send().await.unwrap()
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status(), 409);
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("/api/v1/log/entries/{uuid}")
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], 409);
        assert!(body["message"].as_str().unwrap().contains(&uuid));
    }
    assert_eq!(env.tree_size().await, 1);
}

#[tokio::test]
async fn bad_input_gets_4xx_and_appends_nothing() {
    let env = Env::new(LogConfig {
        max_entry_size: 2048,
        ..LogConfig::default()
    })
    .await;
    let signer = PrivateKey::generate_p256().unwrap();
    let good = hashedrekord(&signer, b"x");
    let mut bad_sig = good.clone();
    bad_sig["spec"]["data"]["hash"]["value"] = json!("00".repeat(32));
    let mut bad_b64 = good.clone();
    bad_b64["spec"]["signature"]["content"] = json!("!!!");
    let mut big = good.clone();
    big["spec"]["signature"]["publicKey"]["content"] = json!(B64.encode(vec![b'a'; 3000]));
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (b"{not json".to_vec(), 400),
        (b"[]".to_vec(), 400),
        (
            json!({"apiVersion": "0.0.1", "kind": "rekord", "spec": {}})
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            json!({"apiVersion": "0.0.9", "kind": "hashedrekord", "spec": {}})
                .to_string()
                .into_bytes(),
            400,
        ),
        (bad_sig.to_string().into_bytes(), 400),
        (bad_b64.to_string().into_bytes(), 400),
        (big.to_string().into_bytes(), 413),
        (vec![b' '; 10_000], 413),
    ];
    for (body, want) in cases {
        let r = env
            .http
            .post(env.url("/api/v1/log/entries"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            want,
            "{}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["code"], want);
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    for (path, want) in [
        ("/api/v1/log/entries?logIndex=-1", 400),
        ("/api/v1/log/entries?logIndex=abc", 400),
        ("/api/v1/log/entries?logIndex=0", 404),
        ("/api/v1/log/entries?logIndex=99999999999999999999", 400),
        ("/api/v1/log/entries/zz", 400),
        (&format!("/api/v1/log/entries/{}", "ab".repeat(32)), 404),
        ("/api/v1/log/proof?firstSize=3&lastSize=2", 400),
        ("/api/v1/log/proof?firstSize=0&lastSize=2", 400),
        ("/api/v1/log/proof?lastSize=5", 400),
        ("/api/v1/log/proof", 400),
        ("/tile/0/x12", 404),
    ] {
        let r = env.get(path).await;
        assert_eq!(r.status().as_u16(), want, "{path}");
    }
    let r = env.post("/api/v1/index/retrieve", &json!({})).await;
    assert_eq!(r.status(), 400);
    let r = env
        .post("/api/v1/log/entries/retrieve", &json!({"logIndexes": [-1]}))
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(env.tree_size().await, 0);
    // The log still works afterwards.
    assert_eq!(env.post("/api/v1/log/entries", &good).await.status(), 201);
    assert_eq!(env.tree_size().await, 1);

    // A request within the wire limit whose canonical body is above the entry limit.
    let small = Env::new(LogConfig {
        max_entry_size: 300,
        ..LogConfig::default()
    })
    .await;
    let r = small.post("/api/v1/log/entries", &good).await;
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("above the limit of 300"),
        "{e}"
    );
    assert_eq!(small.tree_size().await, 0);
}

#[tokio::test]
async fn key_and_entries_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let signer = PrivateKey::generate_p256().unwrap();
    let (key1, uuid, root1) = {
        let s = TlogServer::start(
            "127.0.0.1:0".parse().unwrap(),
            dir.path(),
            LogConfig::default(),
        )
        .await
        .unwrap();
        let http = reqwest::Client::new();
        let pem = http
            .get(format!("{}/api/v1/log/publicKey", s.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let r = http
            .post(format!("{}/api/v1/log/entries", s.url()))
            .json(&hashedrekord(&signer, b"a"))
            .send()
            .await
            .unwrap();
        let (uuid, _) = one(r).await;
        let info: Value = http
            .get(format!("{}/api/v1/log", s.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        s.shutdown().await.unwrap();
        (pem, uuid, info["rootHash"].as_str().unwrap().to_owned())
    };
    // The sequencer thread releases the store once the server is gone.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let s = TlogServer::start(
        "127.0.0.1:0".parse().unwrap(),
        dir.path(),
        LogConfig::default(),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let pem = http
        .get(format!("{}/api/v1/log/publicKey", s.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(pem, key1);
    let info: Value = http
        .get(format!("{}/api/v1/log", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["rootHash"].as_str().unwrap(), root1);
    let r = http
        .get(format!("{}/api/v1/log/entries/{uuid}", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A different origin for an existing log is refused.
    let err = sigil_tlog::Log::open(
        dir.path(),
        LogConfig {
            origin: Some("other".into()),
            ..LogConfig::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("origin"), "{err}");
}

#[tokio::test]
async fn dsse_and_ed25519_log_keys() {
    let env = Env::new(LogConfig {
        key_algorithm: sigil_tlog::LogKeyAlgorithm::Ed25519,
        origin: Some("log.example".into()),
        ..LogConfig::default()
    })
    .await;
    let log_key = env.log_key().await;
    assert_eq!(log_key.algorithm(), sigil_core::keys::KeyAlgorithm::Ed25519);
    let signer = PrivateKey::generate_p256().unwrap();
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"img","digest":{"sha256":"1234"}}],"predicateType":"x","predicate":{}}"#;
    let pt = "application/vnd.in-toto+json";
    let mut pae = format!("DSSEv1 {} {} {} ", pt.len(), pt, payload.len()).into_bytes();
    pae.extend_from_slice(payload);
    let env_json = json!({"payload": B64.encode(payload), "payloadType": pt,
        "signatures": [{"keyid": "", "sig": B64.encode(signer.sign(&pae).unwrap())}]});
    let proposed = json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": {
        "envelope": env_json.to_string(), "verifiers": [B64.encode(signer.public_key().to_pem())]}}});
    let r = env.post("/api/v1/log/entries", &proposed).await;
    assert_eq!(r.status(), 201);
    let (_, entry) = one(r).await;
    rekor::verify_set(&entry, &log_key).unwrap();
    rekor::verify_inclusion(&entry, &NoteVerifier::rekor("log.example", log_key)).unwrap();
    let found: Vec<String> = env
        .post("/api/v1/index/retrieve", &json!({"hash": "sha256:1234"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
}
