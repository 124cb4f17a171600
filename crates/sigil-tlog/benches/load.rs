//! Load benchmark of the log (not a test: it prints figures, asserts nothing about speed).
//!
//! For each pre-loaded size N (default 0 and 1,000,000; `TLOG_BENCH_SIZES=0,1000000,10000000`):
//! 1. pre-load N hashedrekord-shaped entries straight into the store (batches of 4096);
//! 2. start one HTTP server per size on 127.0.0.1:0 and, in `TLOG_BENCH_ROUNDS` (3) rounds
//!    alternating between the sizes, send `TLOG_BENCH_REQUESTS` (20,000) real hashedrekord
//!    entries in total from 64 concurrent clients, each with its own P-256 key and signature,
//!    so the server pays the signature check; report the median durable appends/s and the add
//!    latency p50/p99, and the server's CPU time per append (process CPU minus the load
//!    generator's threads, from `/proc/self/task/*/stat`): other jobs on a shared machine move
//!    appends/s a lot, CPU per append much less, and 2 cores / CPU per append is what the
//!    server would sustain with the load generator elsewhere;
//! 3. 64 clients, then 1 client, GET `/api/v1/log/entries?logIndex=<random>` (entry + SET +
//!    inclusion proof): p50/p99, after reading the index and level files once (see [`warm`];
//!    `TLOG_BENCH_COLD=1` skips that);
//! 4. bytes on disk per entry.
//!
//! Run with `bench/tlog/run.sh` (or `cargo bench -p sigil-tlog --bench load`). Set
//! `TLOG_BENCH_DIR` to keep the pre-loaded directories somewhere with room (10 M entries
//! take about 8 GB).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use sigil_core::keys::PrivateKey;
use sigil_tlog::{search_key, FileStore, LogConfig, LogStorage, NewLeaf, TlogServer};

const CLIENTS: usize = 64;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() {
                        dir_bytes(&e.path())
                    } else {
                        m.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// utime + stime (clock ticks) from a `/proc/.../stat` line, and the thread's name.
fn stat_ticks(path: &Path) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let (open, close) = (text.find('(')?, text.rfind(')')?);
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 2..)?.split(' ').collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((comm, ticks))
}

/// CPU ticks of the whole process (exited threads included) and of the load generator's
/// threads (the client runtime `load-client*` and the main thread, named after this binary,
/// `load-…`). The difference is the server's: its runtime, sequencer and sync threads.
fn cpu_split() -> (u64, u64) {
    let total = stat_ticks(Path::new("/proc/self/stat")).map_or(0, |(_, t)| t);
    let client = std::fs::read_dir("/proc/self/task")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| stat_ticks(&e.path().join("stat")))
                .filter(|(comm, _)| comm.starts_with("load-"))
                .map(|(_, t)| t)
                .sum()
        })
        .unwrap_or(0);
    (total, client)
}

/// Reads the index and level files once, so proof GETs measure the server with its tree in
/// the page cache (as a log server with the RAM for it runs) rather than whatever other jobs
/// on a shared machine left there. Entry bodies (`entries.dat`) stay as they are: a random
/// entry may still need a disk read. `TLOG_BENCH_COLD=1` skips this.
fn warm(tree: &Path) {
    use std::io::Read as _;
    let t = Instant::now();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for e in std::fs::read_dir(tree).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "index.dat" || name.starts_with("level-") {
            let mut f = std::fs::File::open(e.path()).unwrap();
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                bytes += n as u64;
            }
        }
    }
    eprintln!(
        "  read {} MB of index and level files into the page cache ({:.1} s)",
        bytes >> 20,
        t.elapsed().as_secs_f64()
    );
}

/// Clock ticks per second of `/proc` CPU times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// Pre-loads `n` entries shaped like public Rekor's hashedrekord bodies (a PEM key, a DER
/// signature, a distinct artifact hash each).
fn preload(dir: &Path, n: u64) {
    let store = FileStore::open(&dir.join("tree")).unwrap();
    let have = store.size();
    if have >= n {
        return;
    }
    let key = PrivateKey::generate_p256().unwrap();
    let pem_b64 = B64.encode(key.public_key().to_pem());
    let sig_b64 = B64.encode(key.sign(b"x").unwrap());
    let key_hash = hex::encode(Sha256::digest(key.public_key().to_pem().as_bytes()));
    let start = Instant::now();
    let mut i = have;
    while i < n {
        let end = (i + 4096).min(n);
        let leaves: Vec<NewLeaf> = (i..end)
            .map(|j| {
                let h = hex::encode(Sha256::digest(j.to_le_bytes()));
                let body = format!(
                    r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{h}"}}}},"signature":{{"content":"{sig_b64}","publicKey":{{"content":"{pem_b64}"}}}}}}}}"#
                );
                NewLeaf {
                    data: body.into_bytes(),
                    keys: vec![search_key(&format!("sha256:{h}")), search_key(&key_hash)],
                }
            })
            .collect();
        store.append(&leaves, 1_700_000_000).unwrap();
        i = end;
        if i % 1_000_000 < 4096 {
            eprintln!(
                "  pre-loaded {i} entries ({:.0} s)",
                start.elapsed().as_secs_f64()
            );
        }
    }
}

fn requests(count: usize) -> Vec<Vec<u8>> {
    // Distinct keys and signatures for every request.
    (0..count)
        .map(|i| {
            let key = PrivateKey::generate_p256().unwrap();
            let artifact = format!("bench artifact {i} {:?}", Instant::now());
            let sig = key.sign(artifact.as_bytes()).unwrap();
            serde_json::json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(artifact.as_bytes()))}},
                "signature": {"content": B64.encode(sig), "publicKey": {"content": B64.encode(key.public_key().to_pem())}}}})
            .to_string()
            .into_bytes()
        })
        .collect()
}

async fn run_load(url: &str, reqs: Vec<Vec<u8>>) -> (f64, Vec<Duration>) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap();
    let queue = Arc::new(std::sync::Mutex::new(reqs));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (http, queue, url) = (
            http.clone(),
            queue.clone(),
            format!("{url}/api/v1/log/entries"),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let Some(body) = queue.lock().unwrap().pop() else {
                    break;
                };
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                r.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    (all.len() as f64 / secs, all)
}

async fn run_reads(url: &str, size: u64, count: usize, clients: usize) -> Vec<Duration> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let per = count / clients;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, url) = (http.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1);
            let mut lat = Vec::new();
            for _ in 0..per {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = x % size;
                let t = Instant::now();
                let r = http
                    .get(format!("{url}/api/v1/log/entries?logIndex={i}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

fn main() {
    let sizes: Vec<u64> = std::env::var("TLOG_BENCH_SIZES")
        .unwrap_or_else(|_| "0,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().replace('_', "").parse().ok())
        .collect();
    let n_req = env_usize("TLOG_BENCH_REQUESTS", 20_000);
    let n_reads = env_usize("TLOG_BENCH_READS", 20_000);
    let base: PathBuf = std::env::var_os("TLOG_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let keep = std::env::var_os("TLOG_BENCH_DIR").is_some();
    println!("sigil-tlog load benchmark: {CLIENTS} clients, {n_req} appends and {n_reads} proof reads per size");
    // What the server pays per entry before it is queued (parse, P-256 prehash verify, JCS).
    let sample = requests(500);
    let t = Instant::now();
    for r in &sample {
        let v: serde_json::Value = serde_json::from_slice(r).unwrap();
        sigil_core::rekor::canonicalize_proposed(&v).unwrap();
    }
    println!(
        "server-side validation of one hashedrekord entry: {:.0} us (one core)",
        t.elapsed().as_secs_f64() * 1e6 / sample.len() as f64
    );
    println!("proof GET = GET /api/v1/log/entries?logIndex=<random> (entry, SET, inclusion proof, checkpoint); columns give 64 clients / 1 client");
    let rounds = env_usize("TLOG_BENCH_ROUNDS", 3).max(1);
    println!(
        "load average before: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    // Pre-load every size, then start one server per size and alternate the load rounds
    // between them, so that other work on the machine hits all sizes alike.
    let mut logs = Vec::new();
    for n in &sizes {
        let dir = base.join(format!("sigil-tlog-bench-{n}"));
        if !keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
        eprintln!("pre-loading {n} entries into {}", dir.display());
        preload(&dir, *n);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tlog-server")
            .enable_all()
            .build()
            .unwrap();
        let server = rt
            .block_on(TlogServer::start(
                "127.0.0.1:0".parse().unwrap(),
                &dir,
                LogConfig::default(),
            ))
            .unwrap();
        logs.push((
            *n,
            dir,
            rt,
            server,
            Vec::<f64>::new(),
            Vec::<Duration>::new(),
            Vec::<f64>::new(),
        ));
    }
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load-client")
        .enable_all()
        .build()
        .unwrap();
    for round in 0..rounds {
        for (n, _, _, server, rates, lats, cpus) in logs.iter_mut() {
            eprintln!(
                "round {round}: signing {} requests with distinct keys",
                n_req / rounds
            );
            let reqs = requests(n_req / rounds);
            let count = reqs.len() as f64;
            let (total0, client0) = cpu_split();
            let (rate, lat) = client_rt.block_on(run_load(&server.url(), reqs));
            let (total1, client1) = cpu_split();
            let server_ticks = (total1 - total0).saturating_sub(client1 - client0);
            let cpu_us = server_ticks as f64 / TICKS_PER_SEC * 1e6 / count;
            eprintln!(
                "round {round}: {n} pre-loaded: {rate:.0} appends/s, server CPU {cpu_us:.0} us/append, load generator {:.0} us/append",
                (client1 - client0) as f64 / TICKS_PER_SEC * 1e6 / count
            );
            rates.push(rate);
            lats.extend(lat);
            cpus.push(cpu_us);
        }
    }
    println!("| pre-loaded | appends/s (median of {rounds} rounds) | server CPU us/append (median) | add p50 ms | add p99 ms | proof GET p50 ms | proof GET p99 ms | bytes/entry |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut medians = Vec::new();
    for (n, dir, rt, server, mut rates, mut lat, mut cpus) in logs {
        rates.sort_by(f64::total_cmp);
        let rate = rates[rates.len() / 2];
        cpus.sort_by(f64::total_cmp);
        let cpu = cpus[cpus.len() / 2];
        lat.sort();
        let url = server.url();
        let size = server.log().head().size;
        if std::env::var_os("TLOG_BENCH_COLD").is_none() {
            warm(&dir.join("tree"));
        }
        let reads = client_rt.block_on(run_reads(&url, size, n_reads, CLIENTS));
        let reads1 = client_rt.block_on(run_reads(&url, size, n_reads / 4, 1));
        let bytes = dir_bytes(&dir) as f64 / size as f64;
        println!(
            "| {n} | {rate:.0} | {cpu:.0} (2 free cores: {:.0}/s) | {:.2} | {:.2} | {:.3} / {:.3} | {:.3} / {:.3} | {bytes:.0} |",
            2e6 / cpu,
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&reads, 0.5),
            pct(&reads1, 0.5),
            pct(&reads, 0.99),
            pct(&reads1, 0.99)
        );
        medians.push((n, rate));
        rt.block_on(server.shutdown()).unwrap();
        drop(rt);
        if !keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    if let Some((n0, r0)) = medians.first().copied() {
        for (n, r) in medians.iter().skip(1) {
            println!("append rate at {n} entries / at {n0}: {:.2}", r / r0);
        }
    }
    println!(
        "load average after: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!("anchors (not run here, see reference/perf.md): Tessera POSIX 1,590-10,000 writes/s; Trillian ~60 qps per tree; goal >= 5,000 appends/s, proof p99 <= 2 ms at 10 M");
}
