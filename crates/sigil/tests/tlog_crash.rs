//! Crash test of `sigil tlog serve`: concurrent writers, `kill -9` at random moments, restart.
//! After every restart:
//! - every entry acknowledged with 201 is at the same index, with a valid SET and inclusion
//!   proof up to a checkpoint signed by the log;
//! - no index was acknowledged twice;
//! - every checkpoint served before the crash is consistent (RFC 9162 consistency proof) with
//!   the one served after.
//!
//! `SIGIL_TLOG_CRASH_KILLS=N` sets the number of kills (default 4, kept small for CI).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sigil_core::checkpoint::{verify_checkpoint, NoteVerifier};
use sigil_core::keys::{PrivateKey, PublicKey};
use sigil_core::merkle;
use sigil_core::rekor::{self, LogEntries};
use sigil_testkit::{start_sigil, Peer};

/// A minimal HTTP/1.1 client (one request per connection) so the test needs no async stack.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or(b"");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("truncated response"))?;
    let head = String::from_utf8_lossy(&raw[..text_end]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let len: Option<usize> = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    });
    let body = raw[text_end + 4..].to_vec();
    if let Some(len) = len {
        if body.len() != len {
            return Err(std::io::Error::other("short body"));
        }
    }
    Ok((status, body))
}

fn start(dir: &std::path::Path) -> Peer {
    let dir = dir.to_str().unwrap();
    let args = ["tlog", "serve", "--addr", "127.0.0.1:0", "--data-dir", dir];
    start_sigil(
        std::path::Path::new(env!("CARGO_BIN_EXE_sigil")),
        &args,
        true,
    )
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Debug, Clone)]
struct Acked {
    uuid: String,
    index: i64,
}

#[derive(Debug, Clone)]
struct Seen {
    size: u64,
    root: [u8; 32],
}

fn log_key(addr: &str) -> PublicKey {
    let (st, pem) = http(addr, "GET", "/api/v1/log/publicKey", None).unwrap();
    assert_eq!(st, 200);
    PublicKey::from_pem(&pem).unwrap()
}

fn head(addr: &str, verifier: &NoteVerifier) -> Option<Seen> {
    let (st, body) = http(addr, "GET", "/api/v1/log", None).ok()?;
    if st != 200 {
        return None;
    }
    let v: Value = serde_json::from_slice(&body).ok()?;
    let cp = verify_checkpoint(v["signedTreeHead"].as_str()?, verifier)
        .expect("served checkpoint must verify");
    Some(Seen {
        size: cp.size,
        root: cp.root_hash,
    })
}

#[test]
fn acknowledged_entries_survive_kill_9() {
    let kills: usize = std::env::var("SIGIL_TLOG_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let dir = tempfile::tempdir().unwrap();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let mut acked: Vec<Acked> = Vec::new();
    let mut seen: Vec<Seen> = Vec::new();
    let mut key: Option<PublicKey> = None;

    for round in 0..=kills {
        let mut log = start(dir.path());
        let addr = log.addr.clone();
        let k = log_key(&addr);
        if let Some(prev) = &key {
            assert_eq!(prev, &k, "the log key changed across a restart");
        }
        key = Some(k.clone());
        let verifier = NoteVerifier::rekor("sigil-tlog", k.clone());

        // After the restart: everything acknowledged before is there, unchanged.
        let now = head(&addr, &verifier).expect("log info after restart");
        let mut by_index: HashMap<i64, &Acked> = HashMap::new();
        for a in &acked {
            assert!(
                by_index.insert(a.index, a).is_none(),
                "index {} acknowledged twice",
                a.index
            );
            let (st, body) = http(
                &addr,
                "GET",
                &format!("/api/v1/log/entries?logIndex={}", a.index),
                None,
            )
            .unwrap();
            assert_eq!(
                st, 200,
                "acknowledged entry {} missing after restart",
                a.index
            );
            let map: LogEntries = serde_json::from_slice(&body).unwrap();
            let (uuid, entry) = map.into_iter().next().unwrap();
            assert_eq!(uuid, a.uuid, "index {} now holds another entry", a.index);
            rekor::verify_set(&entry, &k).unwrap();
            rekor::verify_inclusion(&entry, &verifier).unwrap();
        }
        for s in &seen {
            assert!(
                s.size <= now.size,
                "tree shrank from {} to {}",
                s.size,
                now.size
            );
            let (st, body) = http(
                &addr,
                "GET",
                &format!(
                    "/api/v1/log/proof?firstSize={}&lastSize={}",
                    s.size.max(1),
                    now.size
                ),
                None,
            )
            .unwrap();
            if s.size == 0 {
                continue;
            }
            assert_eq!(st, 200);
            let p: Value = serde_json::from_slice(&body).unwrap();
            let hashes: Vec<[u8; 32]> = p["hashes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| rekor::decode_hash(h.as_str().unwrap()).unwrap())
                .collect();
            merkle::verify_consistency(s.size, now.size, &hashes, &s.root, &now.root)
                .unwrap_or_else(|e| {
                    panic!(
                        "checkpoint {} inconsistent with {} after restart: {e}",
                        s.size, now.size
                    )
                });
        }
        seen.clear();
        seen.push(now);
        if round == kills {
            log.kill();
            break;
        }

        // Load: concurrent writers and a checkpoint reader, then kill -9 mid-flight.
        let stop = Arc::new(AtomicBool::new(false));
        let new_acks = Arc::new(Mutex::new(Vec::new()));
        let new_seen = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for w in 0..6 {
            let (stop, new_acks, addr) = (stop.clone(), new_acks.clone(), addr.clone());
            threads.push(std::thread::spawn(move || {
                let key = PrivateKey::generate_p256().unwrap();
                let pem = B64.encode(key.public_key().to_pem());
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let artifact = format!("round {round} writer {w} entry {n} seed {seed}");
                    n += 1;
                    let digest = ring_sha256(artifact.as_bytes());
                    let sig = key.sign(artifact.as_bytes()).unwrap();
                    let body = json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
                        "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}},
                        "signature": {"content": B64.encode(sig), "publicKey": {"content": pem}}}});
                    match http(
                        &addr,
                        "POST",
                        "/api/v1/log/entries",
                        Some(body.to_string().as_bytes()),
                    ) {
                        Ok((201, resp)) => {
                            let map: LogEntries = serde_json::from_slice(&resp).unwrap();
                            let (uuid, e) = map.into_iter().next().unwrap();
                            new_acks.lock().unwrap().push(Acked {
                                uuid,
                                index: e.log_index,
                            });
                        }
                        Ok((st, resp)) => {
                            panic!("unexpected {st}: {}", String::from_utf8_lossy(&resp))
                        }
                        Err(_) => return, // the server died mid-request: not acknowledged
                    }
                }
            }));
        }
        {
            let (stop, new_seen, addr, verifier) = (
                stop.clone(),
                new_seen.clone(),
                addr.clone(),
                verifier.clone(),
            );
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match head(&addr, &verifier) {
                        Some(s) => new_seen.lock().unwrap().push(s),
                        None => return,
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(100 + rng.next() % 400));
        log.kill(); // SIGKILL
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        let got = new_acks.lock().unwrap().len();
        eprintln!("round {round}: {got} entries acknowledged before kill -9");
        acked.extend(new_acks.lock().unwrap().drain(..));
        seen.extend(new_seen.lock().unwrap().drain(..));
    }
    assert!(
        !acked.is_empty(),
        "no entry was acknowledged: the load did not run"
    );
    eprintln!(
        "{} kills, {} acknowledged entries, all present",
        kills,
        acked.len()
    );
}

fn ring_sha256(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&sigil_core::Digest::sha256(b).raw());
    out
}
