//! `sigil_sign::tuf::refresh` over HTTP against the python-tuf generated repository in
//! sigil-core's testdata, served on 127.0.0.1 by a minimal HTTP/1.1 file server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sigil_core::tuf::TufError;
use sigil_sign::tuf::{refresh, TufCache, TufClientError};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// Serves `files` on an ephemeral loopback port until the test's runtime ends.
async fn serve(files: Files) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let files = files.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                let path = line
                    .split(' ')
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/');
                let body = files.lock().unwrap().get(path).cloned();
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            });
        }
    });
    format!("http://{addr}")
}

fn bootstrap() -> Vec<u8> {
    std::fs::read(tuf_testdata().join("root.v1.json")).unwrap()
}

fn snapshot_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in [dir.to_owned(), dir.join("targets")] {
        for entry in std::fs::read_dir(&sub).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn refresh_caches_the_verified_root_and_keeps_it_on_attack() {
    let files: Files = Arc::new(Mutex::new(repo_files()));
    let mirror = serve(files.clone()).await;
    let home = tempfile::tempdir().unwrap();
    let cache = TufCache::new(home.path(), &mirror);
    let client = reqwest::Client::new();
    let now = OffsetDateTime::now_utc();

    let updated = refresh(&client, &mirror, &bootstrap(), &cache, now)
        .await
        .unwrap();
    assert_eq!(updated.root_version, 2);
    let expected = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigil/assets/public-good-trusted-root.json"),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(cache.target_path("trusted_root.json")).unwrap(),
        expected
    );
    assert!(cache.target_path("signing_config.v0.2.json").is_file());
    assert_eq!(
        std::fs::read(cache.dir().join("root.json")).unwrap(),
        std::fs::read(tuf_testdata().join("repo/2.root.json")).unwrap()
    );

    // A second run starts from the cached root 2 and succeeds against the same mirror.
    refresh(&client, &mirror, &bootstrap(), &cache, now)
        .await
        .unwrap();

    // The mirror now replays the old timestamp: refused, and the cache is untouched.
    let before = snapshot_dir(cache.dir());
    files.lock().unwrap().insert(
        "timestamp.json".into(),
        std::fs::read(tuf_testdata().join("attacks/timestamp.v1.json")).unwrap(),
    );
    let err = refresh(&client, &mirror, &bootstrap(), &cache, now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, TufClientError::Verify(TufError::Rollback { .. })),
        "{err:?}"
    );
    assert_eq!(snapshot_dir(cache.dir()), before);
}

#[tokio::test]
async fn oversized_and_missing_files_are_refused() {
    let mut repo = repo_files();
    repo.insert("timestamp.json".into(), vec![b' '; 1_000_000]);
    let files: Files = Arc::new(Mutex::new(repo));
    let mirror = serve(files.clone()).await;
    let home = tempfile::tempdir().unwrap();
    let cache = TufCache::new(home.path(), &mirror);
    let client = reqwest::Client::new();
    let now = OffsetDateTime::now_utc();

    let err = refresh(&client, &mirror, &bootstrap(), &cache, now)
        .await
        .unwrap_err();
    assert!(
        matches!(err, TufClientError::TooLarge { limit: 16_384, .. }),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .ends_with("/timestamp.json` is larger than the 16384-byte limit"));
    // Nothing was cached.
    assert!(!cache.dir().exists());

    files.lock().unwrap().remove("timestamp.json");
    let err = refresh(&client, &mirror, &bootstrap(), &cache, now)
        .await
        .unwrap_err();
    let TufClientError::Verify(inner) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        inner.to_string(),
        "`timestamp.json` not found on the mirror"
    );
}
