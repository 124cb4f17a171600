//! The CA benchmark's load generator (run it through `bench/ca/run.sh`).
//!
//! `ca_bench --dir DIR [--peer URL] [--duration S] [--concurrency N]` starts sigil's dev OIDC
//! issuer and CA (with its embedded, fsync'ing CT log) in a child process (`ca_bench serve
//! DIR`), then drives `POST /api/v2/signingCert` with N concurrent keep-alive clients for S
//! seconds, against sigil and then against the peer (@sigstore/mock's Fulcio), with identical
//! requests: a GitHub Actions token, an ECDSA P-256 key per client and its proof of
//! possession. Every answer must be a 201 with a three-certificate chain (the peer's: two).
//! Prints certificates per second and p50/p99 latency for each, and the ratio.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.get(1).map(String::as_str) == Some("serve") {
        rt.block_on(serve(PathBuf::from(&args[2])));
        return;
    }
    let dir = PathBuf::from(arg(&args, "--dir").expect("--dir DIR"));
    let duration = Duration::from_secs(arg(&args, "--duration").map_or(10, |s| s.parse().unwrap()));
    let concurrency: usize = arg(&args, "--concurrency").map_or(32, |s| s.parse().unwrap());
    let peer = arg(&args, "--peer");
    rt.block_on(run(dir, duration, concurrency, peer));
}

/// The server half: issuer + CA in this process, announced on stdout as one JSON line.
async fn serve(dir: PathBuf) {
    let issuer = Arc::new(sigil_ca::DevIssuer::open(&dir.join("oidc")).unwrap());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let oidc = sigil_ca::spawn(l, sigil_ca::issuer_router(issuer.clone())).unwrap();
    issuer
        .set_settings(sigil_ca::IssuerSettings {
            issuer: GITHUB.into(),
            url: oidc.url(),
        })
        .unwrap();
    let config = sigil_ca::CaConfig::from_yaml(&format!(
        "oidc-issuers:\n  {GITHUB}:\n    issuer-url: {GITHUB}\n    type: github-workflow\n    discovery-url: {}/.well-known/openid-configuration\n",
        oidc.url()
    ))
    .unwrap();
    let state = sigil_ca::open_ca(&dir.join("ca"), &config).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ca = sigil_ca::spawn(l, sigil_ca::router(state)).unwrap();
    let profile = sigil_ca::WorkflowProfile::new(
        "bench/app",
        ".github/workflows/release.yml",
        "refs/heads/main",
        None,
        "push",
    )
    .unwrap();
    let token = issuer.mint_github(GITHUB, &profile, "sigstore").unwrap();
    println!(
        "{}",
        json!({ "ca": ca.url(), "token": token, "challenge": format!("repo:bench/app:ref:refs/heads/main") })
    );
    // Run until the parent closes stdin.
    tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        let _ = std::io::stdin().read_line(&mut s);
    })
    .await
    .unwrap();
}

struct Stats {
    count: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    fn per_sec(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> f64 {
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies
            .get(i)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }
}

fn bodies(n: usize, token: &str, challenge: &str) -> Vec<String> {
    let rng = SystemRandom::new();
    (0..n)
        .map(|_| {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
            let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref(), &rng).unwrap();
            let mut spki = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
            spki.extend_from_slice(kp.public_key().as_ref());
            let pem = pem::encode(&pem::Pem::new("PUBLIC KEY", spki));
            let proof = B64.encode(kp.sign(&rng, challenge.as_bytes()).unwrap().as_ref());
            json!({
                "credentials": {"oidcIdentityToken": token},
                "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": pem}, "proofOfPossession": proof},
            })
            .to_string()
        })
        .collect()
}

async fn load(url: &str, bodies: &[String], duration: Duration, min_chain: usize) -> Stats {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(bodies.len())
        .build()
        .unwrap();
    let endpoint = format!("{url}/api/v2/signingCert");
    // Check once, untimed, that the target answers correctly.
    let first = client
        .post(&endpoint)
        .header("content-type", "application/json")
        .body(bodies[0].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        first.status().as_u16(),
        201,
        "{url}: {}",
        first.text().await.unwrap_or_default()
    );
    let v: Value = first.json().await.unwrap();
    assert!(
        v["signedCertificateEmbeddedSct"]["chain"]["certificates"]
            .as_array()
            .unwrap()
            .len()
            >= min_chain
    );

    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for body in bodies {
        let body = body.clone();
        let client = client.clone();
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = client
                    .post(&endpoint)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let ok = match r {
                    Ok(resp) if resp.status().as_u16() == 201 => resp.bytes().await.is_ok(),
                    _ => false,
                };
                if ok {
                    lat.push(t.elapsed());
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Stats {
        count: latencies.len(),
        errors,
        elapsed,
        latencies,
    }
}

fn report(name: &str, s: &Stats) {
    println!(
        "  {name:<34} {:>8.0} certs/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} issued, {} errors, {:.1} s)",
        s.per_sec(),
        s.pct(0.50),
        s.pct(0.99),
        s.count,
        s.errors,
        s.elapsed.as_secs_f64()
    );
}

async fn run(dir: PathBuf, duration: Duration, concurrency: usize, peer: Option<String>) {
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("serve")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let (ca, token, challenge) = (
        info["ca"].as_str().unwrap(),
        info["token"].as_str().unwrap(),
        info["challenge"].as_str().unwrap(),
    );
    let bodies = bodies(concurrency, token, challenge);

    println!(
        "POST /api/v2/signingCert, {concurrency} concurrent clients, {} s each, {} cores (client and servers share them):",
        duration.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let ours = load(ca, &bodies, duration, 3).await;
    report("sigil ca (RS256 token, PoP, CT fsync)", &ours);
    let sth: Value = reqwest::get(format!("{ca}/ct/v1/get-sth"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!(
        "  (sigil's CT log holds {} entries after the run)",
        sth["tree_size"]
    );
    if let Some(peer) = peer {
        let theirs = load(&peer, &bodies, duration, 2).await;
        report("@sigstore/mock Fulcio (no checks)", &theirs);
        println!(
            "  ratio sigil/peer throughput = {:.2}x",
            ours.per_sec() / theirs.per_sec()
        );
        println!(
            "  ratio peer/sigil p50 latency = {:.2}x",
            theirs.pct(0.5) / ours.pct(0.5)
        );
    }
    println!("  goal: >= 1000 certs/s for sigil; anchor: TesseraCT ~600 add-chain/s on 2 vCPU");
    drop(child.stdin.take());
    let _ = child.wait();
}
