//! Crash safety of `sigil registry serve`: concurrent pushers run while the registry is killed
//! with SIGKILL at random moments and restarted on the same root. Afterwards every push that
//! was acknowledged (201) must be intact and digest-valid, nothing partial may ever be served
//! or left visible on disk, and uploads interrupted by a kill must resume on the restarted
//! registry from the offset it reports.
//!
//! Small by default (3 kills); `SIGIL_CRASH_KILLS=25 SIGIL_CRASH_PUSHERS=6` for a larger run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use sigil_core::Digest;
use sigil_testkit::registry::{http, start_sigil_registry, HttpResponse};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn seed() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1
}

#[derive(Default)]
struct Ledger {
    blobs: Vec<(String, Digest)>,
    manifests: Vec<(String, String, Vec<u8>)>,
}

#[derive(Default)]
struct Counters {
    acked_blobs: AtomicUsize,
    acked_manifests: AtomicUsize,
    failed_requests: AtomicUsize,
    resumed_uploads: AtomicUsize,
}

struct Shared {
    addr: RwLock<String>,
    stop: AtomicBool,
    ledger: Mutex<Ledger>,
    counters: Counters,
}

impl Shared {
    fn addr(&self) -> String {
        self.addr.read().unwrap().clone()
    }
    fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Option<HttpResponse> {
        match http(&self.addr(), method, path, headers, body) {
            Ok(r) => Some(r),
            Err(_) => {
                self.counters
                    .failed_requests
                    .fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// Pushes a blob monolithically; `Some(true)` when acknowledged.
fn push_monolithic(s: &Shared, repo: &str, data: &[u8]) -> bool {
    let d = Digest::sha256(data);
    matches!(
        s.req("POST", &format!("/v2/{repo}/blobs/uploads/?digest={d}"), &[], data),
        Some(r) if r.status == 201
    )
}

/// Pushes a blob in chunks; when the registry dies mid-way, waits for the new one and resumes
/// from the offset it reports. Returns whether the push was acknowledged.
fn push_chunked(s: &Shared, repo: &str, data: &[u8], rng: &mut Rng) -> bool {
    let Some(start) = s.req("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"") else {
        return false;
    };
    if start.status != 202 {
        return false;
    }
    let loc = start.header("location").unwrap().to_owned();
    let mut offset = 0usize;
    let mut interrupted = false;
    let mut attempts = 0;
    while offset < data.len() {
        attempts += 1;
        if attempts > 200 || s.stop.load(Ordering::Relaxed) {
            return false;
        }
        let len = (1 + rng.below(256 * 1024) as usize).min(data.len() - offset);
        let range = format!("{}-{}", offset, offset + len - 1);
        let r = s.req(
            "PATCH",
            &loc,
            &[("Content-Range", &range)],
            &data[offset..offset + len],
        );
        match r {
            Some(r) if r.status == 202 => {
                offset = next_offset(r.header("range").unwrap(), true);
            }
            Some(r) if r.status == 416 || r.status == 404 => {
                // 416: the registry holds more or fewer bytes than we thought (a chunk died
                // part way); 404: the session is gone. Ask where to resume.
                interrupted = true;
                match s.req("GET", &loc, &[], b"") {
                    // `0-0` is ambiguous (0 or 1 bytes): if a chunk at 0 was refused, 1.
                    Some(st) if st.status == 204 => {
                        offset = next_offset(st.header("range").unwrap(), offset == 0);
                    }
                    _ => return false,
                }
            }
            Some(_) => return false,
            None => {
                interrupted = true;
                std::thread::sleep(Duration::from_millis(100));
                // Resume from what the (restarted) registry holds.
                if let Some(st) = s.req("GET", &loc, &[], b"") {
                    if st.status == 204 {
                        offset = next_offset(st.header("range").unwrap(), false);
                    }
                }
            }
        }
    }
    let d = Digest::sha256(data);
    let ok =
        matches!(s.req("PUT", &format!("{loc}?digest={d}"), &[], b""), Some(r) if r.status == 201);
    if ok && interrupted {
        s.counters.resumed_uploads.fetch_add(1, Ordering::Relaxed);
    }
    ok
}

/// The offset after an upload `Range` header. distribution-style `0-0` means zero or one
/// byte; `refused_at_zero` says a chunk starting at 0 was refused, so it is one.
fn next_offset(range: &str, refused_at_zero: bool) -> usize {
    let end: usize = range.split('-').nth(1).unwrap().parse().unwrap();
    if end == 0 && !refused_at_zero {
        0
    } else {
        end + 1
    }
}

fn pusher(s: Arc<Shared>, id: usize) {
    let mut rng = Rng(seed() ^ (id as u64) << 32);
    let repo = format!("crash/p{id}");
    let mut i = 0;
    while !s.stop.load(Ordering::Relaxed) {
        i += 1;
        let size = 1 + rng.below(1 << 21) as usize;
        let data = rng.bytes(size);
        let ok = if rng.below(2) == 0 {
            push_monolithic(&s, &repo, &data)
        } else {
            push_chunked(&s, &repo, &data, &mut rng)
        };
        if !ok {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let d = Digest::sha256(&data);
        s.counters.acked_blobs.fetch_add(1, Ordering::Relaxed);
        s.ledger
            .lock()
            .unwrap()
            .blobs
            .push((repo.clone(), d.clone()));
        // Read it back at once: a 200 must carry exactly the acknowledged bytes.
        if let Some(r) = s.req("GET", &format!("/v2/{repo}/blobs/{d}"), &[], b"") {
            if r.status == 200 {
                assert!(d.matches(&r.body), "served a blob that does not match {d}");
            }
        }
        let config = format!(r#"{{"architecture":"amd64","os":"linux","n":{i}}}"#);
        if !push_monolithic(&s, &repo, config.as_bytes()) {
            continue;
        }
        let cd = Digest::sha256(config.as_bytes());
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{d}","size":{size}}}]}}"#,
            config.len()
        );
        let tag = format!("t{i}");
        let r = s.req(
            "PUT",
            &format!("/v2/{repo}/manifests/{tag}"),
            &[("Content-Type", OCI_MANIFEST)],
            manifest.as_bytes(),
        );
        if matches!(r, Some(r) if r.status == 201) {
            s.counters.acked_manifests.fetch_add(1, Ordering::Relaxed);
            s.ledger
                .lock()
                .unwrap()
                .manifests
                .push((repo.clone(), tag, manifest.into_bytes()));
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every file under `blobs/` must hash to its name: content only appears there complete.
fn check_blob_store(root: &Path) -> usize {
    let mut n = 0;
    let mut stack: Vec<PathBuf> = vec![root.join("blobs")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let alg = p
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let want: Digest = format!("{alg}:{}", p.file_name().unwrap().to_str().unwrap())
                .parse()
                .unwrap();
            assert!(
                want.matches(&std::fs::read(&p).unwrap()),
                "partial or corrupt blob file {}",
                p.display()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn acknowledged_pushes_survive_kill_9() {
    let kills = env_usize("SIGIL_CRASH_KILLS", 3);
    let pushers = env_usize("SIGIL_CRASH_PUSHERS", 4);
    let sigil = Path::new(env!("CARGO_BIN_EXE_sigil"));
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let mut reg = start_sigil_registry(sigil, &root, &[]);
    let shared = Arc::new(Shared {
        addr: RwLock::new(reg.addr.clone()),
        stop: AtomicBool::new(false),
        ledger: Mutex::new(Ledger::default()),
        counters: Counters::default(),
    });
    let threads: Vec<_> = (0..pushers)
        .map(|i| {
            let s = shared.clone();
            std::thread::spawn(move || pusher(s, i))
        })
        .collect();
    let mut rng = Rng(seed());
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(150 + rng.below(600)));
        drop(reg); // SIGKILL, then reap
        reg = start_sigil_registry(sigil, &root, &[]);
        *shared.addr.write().unwrap() = reg.addr.clone();
    }
    std::thread::sleep(Duration::from_millis(500));
    shared.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    // One more kill with everything quiet, then check from a fresh process.
    drop(reg);
    let reg = start_sigil_registry(sigil, &root, &[]);
    let ledger = shared.ledger.lock().unwrap();
    for (repo, d) in &ledger.blobs {
        let r = http(&reg.addr, "GET", &format!("/v2/{repo}/blobs/{d}"), &[], b"").unwrap();
        assert_eq!(r.status, 200, "acknowledged blob {repo}@{d} is missing");
        assert!(
            d.matches(&r.body),
            "acknowledged blob {repo}@{d} is corrupt"
        );
    }
    for (repo, tag, bytes) in &ledger.manifests {
        let r = http(
            &reg.addr,
            "GET",
            &format!("/v2/{repo}/manifests/{tag}"),
            &[("Accept", OCI_MANIFEST)],
            b"",
        )
        .unwrap();
        assert_eq!(
            r.status, 200,
            "acknowledged manifest {repo}:{tag} is missing"
        );
        assert_eq!(&r.body, bytes, "manifest {repo}:{tag} changed");
    }
    let files = check_blob_store(&root);
    let c = &shared.counters;
    eprintln!(
        "crash test: {kills} kills, {pushers} pushers, {} blobs and {} manifests acknowledged and intact, \
         {} uploads resumed after a kill, {} requests failed during kills, {files} blob files verified on disk",
        c.acked_blobs.load(Ordering::Relaxed),
        c.acked_manifests.load(Ordering::Relaxed),
        c.resumed_uploads.load(Ordering::Relaxed),
        c.failed_requests.load(Ordering::Relaxed),
    );
    assert!(
        c.acked_blobs.load(Ordering::Relaxed) > 0,
        "no push was ever acknowledged"
    );
}
