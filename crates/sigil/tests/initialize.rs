//! `sigil initialize` end to end: the binary refreshes from a python-tuf generated repository
//! (sigil-core's testdata) served on loopback, later commands verify against the cached root,
//! and an attacking mirror is refused without touching the cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

type Files = Arc<Mutex<HashMap<String, Vec<u8>>>>;

fn tuf_testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigil-core/testdata/tuf")
}

fn repo_files() -> HashMap<String, Vec<u8>> {
    fn walk(dir: &Path, base: &Path, out: &mut HashMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let base = tuf_testdata().join("repo");
    let mut out = HashMap::new();
    walk(&base, &base, &mut out);
    out
}

/// A minimal HTTP/1.1 file server on an ephemeral loopback port (one request per connection),
/// living as long as the test process.
fn serve(files: Files) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut sock in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            let path = text
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let body = files.lock().unwrap().get(path).cloned();
            let (status, body) = match body {
                Some(b) => ("200 OK", b),
                None => ("404 Not Found", Vec::new()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes());
            let _ = sock.write_all(&body);
        }
    });
    format!("http://{addr}")
}

fn sigil(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .env("SIGIL_HOME", home)
        .env_remove("SIGIL_TRUST_CONFIG")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `sigil verify-blob` of a public-good conformance bundle, trust from the defaults.
fn verify_blob(home: &Path) -> Output {
    let vectors =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigil-verify/testdata/conformance");
    let bundle = vectors.join("bundle-verify/happy-path-v0.3/bundle.sigstore.json");
    sigil(
        home,
        &[
            "verify-blob",
            "--bundle",
            bundle.to_str().unwrap(),
            "--certificate-identity",
            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            vectors.join("a.txt").to_str().unwrap(),
        ],
    )
}

#[test]
fn initialize_caches_the_root_later_commands_use_and_refuses_a_rollback() {
    let files: Files = Arc::new(Mutex::new(repo_files()));
    let mirror = serve(files.clone());
    let home = tempfile::tempdir().unwrap();
    let root = tuf_testdata().join("root.v1.json");
    let init = [
        "initialize",
        "--mirror",
        &mirror,
        "--root",
        root.to_str().unwrap(),
    ];

    let o = sigil(home.path(), &init);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let cached = PathBuf::from(
        stdout
            .trim()
            .strip_prefix("trusted root cached at ")
            .unwrap(),
    );
    assert!(
        cached.starts_with(home.path().join("tuf")),
        "{}",
        cached.display()
    );
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        include_bytes!("../assets/public-good-trusted-root.json")
    );

    // Later commands verify against the cached root (same content as the embedded one here).
    let o = verify_blob(home.path());
    assert!(o.status.success(), "{}", stderr(&o));
    // ... and really read it: a damaged cache is reported, with the fix.
    std::fs::write(&cached, b"{").unwrap();
    let o = verify_blob(home.path());
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("rerun `sigil initialize`"),
        "{}",
        stderr(&o)
    );
    // Initializing again restores it (from the cached TUF root: no --root needed).
    let o = sigil(home.path(), &init[..3]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = verify_blob(home.path());
    assert!(o.status.success(), "{}", stderr(&o));

    // The mirror replays an old timestamp: refused, exit non-zero, the cache untouched.
    let before = std::fs::read(
        cached
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("timestamp.json"),
    )
    .unwrap();
    files.lock().unwrap().insert(
        "timestamp.json".into(),
        std::fs::read(tuf_testdata().join("attacks/timestamp.v1.json")).unwrap(),
    );
    let o = sigil(home.path(), &init);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(
            "rollback of `timestamp.json`: version 1 is older than the trusted version 2"
        ),
        "{}",
        stderr(&o)
    );
    let after = std::fs::read(
        cached
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("timestamp.json"),
    )
    .unwrap();
    assert_eq!(before, after);
}
