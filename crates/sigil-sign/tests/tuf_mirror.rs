//! `sigil_sign::tuf::refresh` over HTTP against the python-tuf generated repository in
//! sigil-core's testdata, served on 127.0.0.1 by a minimal HTTP/1.1 file server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use sigil_core::tuf::TufError;
use sigil_sign::tuf::{refresh, TufCache, TufClientError};
use sigil_testkit::tuf::{self, Files};
use time::OffsetDateTime;

fn bootstrap() -> Vec<u8> {
    std::fs::read(tuf::testdata().join("root.v1.json")).unwrap()
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
    let files: Files = Arc::new(Mutex::new(tuf::repo_files()));
    let mirror = tuf::serve(files.clone());
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
        std::fs::read(tuf::testdata().join("repo/2.root.json")).unwrap()
    );

    // A second run starts from the cached root 2 and succeeds against the same mirror.
    refresh(&client, &mirror, &bootstrap(), &cache, now)
        .await
        .unwrap();

    // The mirror now replays the old timestamp: refused, and the cache is untouched.
    let before = snapshot_dir(cache.dir());
    files.lock().unwrap().insert(
        "timestamp.json".into(),
        std::fs::read(tuf::testdata().join("attacks/timestamp.v1.json")).unwrap(),
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
    let mut repo = tuf::repo_files();
    repo.insert("timestamp.json".into(), vec![b' '; 1_000_000]);
    let files: Files = Arc::new(Mutex::new(repo));
    let mirror = tuf::serve(files.clone());
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
