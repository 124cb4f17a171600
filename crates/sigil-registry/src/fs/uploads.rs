//! Upload sessions of the filesystem backend (distribution-spec § Pushing blobs: POST opens a
//! session, PATCH appends chunks, PUT closes it with the digest).
//!
//! A session is a directory `uploads/<id>` with the repository name and the data received so
//! far, so sessions survive a restart and clients can resume them (`GET` the session for its
//! `Range`). While the process runs, each session also keeps a sha256 state that is fed as
//! bytes arrive, so closing a session does not read the data again; after a restart, or for a
//! sha512 digest, the data is hashed from disk once.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use sigil_core::{Algorithm, Digest, Hasher};

use super::{blocking, rename_into_place, FsStorage, Shared};
use crate::name::RepoName;
use crate::storage::BodyStream;
use crate::Error;

/// Chunks queued between the network and the disk writer.
const PIPELINE_DEPTH: usize = 64;
/// Write buffer of the disk writer.
const WRITE_BUFFER: usize = 1 << 20;
/// Large uploads are synced to disk every this many bytes while they stream in.
const SYNC_EVERY: usize = 8 << 20;

#[derive(Debug)]
pub(crate) struct Session {
    repo: String,
    size: u64,
    /// sha256 of the first `size` bytes, when known.
    hasher: Option<Hasher>,
    /// Set when the session was finished or cancelled while someone waited for its lock.
    gone: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, Shared<Session>>>);

/// A fresh random id: 128 bits, hex.
pub(crate) fn random_id() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // The OS RNG failing is not recoverable in any useful way; fall back to the clock so
        // ids stay unique (they are not secrets: access is controlled by auth, not by ids).
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = nanos.to_le_bytes();
    }
    hex::encode(b)
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn session_dir(s: &FsStorage, id: &str) -> PathBuf {
    s.root.join("uploads").join(id)
}

async fn session(s: &FsStorage, repo: &RepoName, id: &str) -> Result<Shared<Session>, Error> {
    if !valid_id(id) {
        return Err(Error::UploadUnknown(id.to_owned()));
    }
    let existing = s.sessions.0.lock().ok().and_then(|m| m.get(id).cloned());
    let sess = match existing {
        Some(sess) => sess,
        None => {
            // Not in memory: a session of a previous process, resumed from disk.
            let dir = session_dir(s, id);
            let owner = match tokio::fs::read_to_string(dir.join("repo")).await {
                Ok(o) => o,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::UploadUnknown(id.to_owned()))
                }
                Err(e) => return Err(Error::io("reading", dir.join("repo"))(e)),
            };
            let size = match tokio::fs::metadata(dir.join("data")).await {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::UploadUnknown(id.to_owned()))
                }
                Err(e) => return Err(Error::io("reading metadata of", dir.join("data"))(e)),
            };
            let fresh = Arc::new(tokio::sync::Mutex::new(Session {
                repo: owner,
                size,
                hasher: None,
                gone: false,
            }));
            match s.sessions.0.lock() {
                Ok(mut m) => m.entry(id.to_owned()).or_insert(fresh).clone(),
                Err(_) => fresh,
            }
        }
    };
    if sess.lock().await.repo != repo.as_str() {
        return Err(Error::UploadUnknown(id.to_owned()));
    }
    Ok(sess)
}

fn drop_session(s: &FsStorage, id: &str) {
    if let Ok(mut m) = s.sessions.0.lock() {
        m.remove(id);
    }
}

pub(crate) async fn start(s: &FsStorage, repo: &RepoName) -> Result<String, Error> {
    let limit = s.limits.max_uploads;
    if super::load(super::count_open(s)) >= limit {
        // Reclaim abandoned sessions before refusing.
        expire(s, Duration::from_secs(15 * 60)).await?;
        if super::load(super::count_open(s)) >= limit {
            return Err(Error::TooManyUploads { limit });
        }
    }
    let id = random_id();
    let dir = session_dir(s, &id);
    let repo_name = repo.as_str().to_owned();
    let d = dir.clone();
    blocking(move || {
        std::fs::create_dir_all(&d).map_err(Error::io("creating", &d))?;
        std::fs::File::create(d.join("data")).map_err(Error::io("creating", d.join("data")))?;
        // The repo file last: a directory without it is not a session (see `session`).
        std::fs::write(d.join("repo"), repo_name).map_err(Error::io("writing", d.join("repo")))
    })
    .await?;
    super::count_open(s).fetch_add(1, Ordering::SeqCst);
    let sess = Arc::new(tokio::sync::Mutex::new(Session {
        repo: repo.as_str().to_owned(),
        size: 0,
        hasher: Some(Hasher::new(Algorithm::Sha256)),
        gone: false,
    }));
    if let Ok(mut m) = s.sessions.0.lock() {
        m.insert(id.clone(), sess);
    }
    Ok(id)
}

pub(crate) async fn size(s: &FsStorage, repo: &RepoName, id: &str) -> Result<u64, Error> {
    let sess = session(s, repo, id).await?;
    let g = sess.lock().await;
    if g.gone {
        return Err(Error::UploadUnknown(id.to_owned()));
    }
    Ok(g.size)
}

pub(crate) async fn append(
    s: &FsStorage,
    repo: &RepoName,
    id: &str,
    offset: Option<u64>,
    mut body: BodyStream,
) -> Result<u64, Error> {
    let sess = session(s, repo, id).await?;
    let mut g = sess.lock().await;
    if g.gone {
        return Err(Error::UploadUnknown(id.to_owned()));
    }
    if let Some(off) = offset {
        if off != g.size {
            return Err(Error::RangeInvalid {
                expected: g.size,
                got: off,
            });
        }
    }
    let path = session_dir(s, id).join("data");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(PIPELINE_DEPTH);
    let mut hasher = g.hasher.take();
    let wpath = path.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let mut run = |hasher: &mut Option<Hasher>| -> std::io::Result<()> {
            let f = std::fs::OpenOptions::new().append(true).open(&wpath)?;
            let mut w = std::io::BufWriter::with_capacity(WRITE_BUFFER, f);
            let mut unsynced = 0usize;
            while let Some(chunk) = rx.blocking_recv() {
                w.write_all(&chunk)?;
                if let Some(h) = hasher.as_mut() {
                    h.update(&chunk);
                }
                unsynced += chunk.len();
                if unsynced >= SYNC_EVERY {
                    // Flush large uploads to disk while the rest still arrives, so the sync
                    // that `finish` must do before acknowledging finds little left to write.
                    w.flush()?;
                    w.get_ref().sync_data()?;
                    unsynced = 0;
                }
            }
            // No fsync of the tail here: a chunk is not a durability point. `finish` syncs
            // before the blob becomes visible, which is what an acknowledged (201) push needs.
            w.flush()
        };
        let r = run(&mut hasher);
        (hasher, r)
    });
    let limit = s.limits.max_blob_size;
    let mut sent = 0u64;
    let mut failure = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => {
                sent += c.len() as u64;
                if g.size + sent > limit {
                    failure = Some(Error::TooLarge { limit });
                    break;
                }
                if tx.send(c).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            Err(e) => {
                failure = Some(Error::Body(e));
                break;
            }
        }
    }
    drop(tx);
    let (hasher, written) = match writer.await {
        Ok(r) => r,
        Err(e) => (None, Err(std::io::Error::other(e))),
    };
    // The file is the truth: what reached it is the session's content now.
    let on_disk = tokio::fs::metadata(&path)
        .await
        .map_err(Error::io("reading metadata of", &path))?
        .len();
    g.hasher = if on_disk == g.size + sent {
        hasher
    } else {
        None
    };
    g.size = on_disk;
    if let Some(Error::TooLarge { limit }) = failure {
        drop(g);
        cancel(s, repo, id).await?;
        return Err(Error::TooLarge { limit });
    }
    if let Some(e) = failure {
        return Err(e);
    }
    written.map_err(Error::io("writing", &path))?;
    Ok(g.size)
}

pub(crate) async fn finish(
    s: &FsStorage,
    repo: &RepoName,
    id: &str,
    digest: &Digest,
) -> Result<u64, Error> {
    let sess = session(s, repo, id).await?;
    let mut g = sess.lock().await;
    if g.gone {
        return Err(Error::UploadUnknown(id.to_owned()));
    }
    let dir = session_dir(s, id);
    let data = dir.join("data");
    let actual = match (digest.algorithm(), g.hasher.clone()) {
        (Algorithm::Sha256, Some(h)) => h.finish(),
        (alg, _) => {
            let p = data.clone();
            blocking(move || hash_file(&p, alg)).await?
        }
    };
    if &actual != digest {
        g.gone = true;
        drop(g);
        remove_session_dir(s, id).await;
        return Err(Error::DigestMismatch {
            expected: digest.to_string(),
            actual: actual.to_string(),
        });
    }
    let size = g.size;
    let dest = s.blob_path(digest);
    blocking(move || {
        if dest.exists() {
            // Content-addressed: a concurrent upload of the same blob already put exactly
            // these bytes there.
            return Ok(());
        }
        let f = std::fs::File::open(&data).map_err(Error::io("opening", &data))?;
        f.sync_data().map_err(Error::io("syncing", &data))?;
        rename_into_place(&data, &dest)
    })
    .await?;
    s.link_empty(s.blob_link(repo, digest)).await?;
    g.gone = true;
    drop(g);
    remove_session_dir(s, id).await;
    Ok(size)
}

pub(crate) async fn cancel(s: &FsStorage, repo: &RepoName, id: &str) -> Result<(), Error> {
    let sess = session(s, repo, id).await?;
    let mut g = sess.lock().await;
    if g.gone {
        return Err(Error::UploadUnknown(id.to_owned()));
    }
    g.gone = true;
    drop(g);
    remove_session_dir(s, id).await;
    Ok(())
}

async fn remove_session_dir(s: &FsStorage, id: &str) {
    drop_session(s, id);
    let dir = session_dir(s, id);
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
        tracing::warn!(error = %e, dir = %dir.display(), "removing an upload session");
    }
    let _ = super::count_open(s).fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
        Some(n.saturating_sub(1))
    });
}

pub(crate) async fn expire(s: &FsStorage, max_idle: Duration) -> Result<usize, Error> {
    let up = s.root.join("uploads");
    let mut rd = tokio::fs::read_dir(&up)
        .await
        .map_err(Error::io("listing", &up))?;
    let now = SystemTime::now();
    let mut expired = 0;
    while let Some(e) = rd.next_entry().await.map_err(Error::io("listing", &up))? {
        let id = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let data = path.join("data");
        let touched = match tokio::fs::metadata(&data).await {
            Ok(m) => m.modified().ok(),
            Err(_) => tokio::fs::metadata(&path)
                .await
                .ok()
                .and_then(|m| m.modified().ok()),
        };
        let idle = touched
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or_default();
        if idle < max_idle {
            continue;
        }
        let held = s.sessions.0.lock().ok().and_then(|m| m.get(&id).cloned());
        if let Some(sess) = held {
            // A session in use is not stale, whatever its mtime says.
            let Ok(mut g) = sess.try_lock() else {
                continue;
            };
            g.gone = true;
        }
        remove_session_dir(s, &id).await;
        expired += 1;
    }
    Ok(expired)
}

fn hash_file(path: &Path, alg: Algorithm) -> Result<Digest, Error> {
    let mut f = std::fs::File::open(path).map_err(Error::io("opening", path))?;
    let mut h = Hasher::new(alg);
    let mut buf = vec![0u8; WRITE_BUFFER];
    loop {
        let n = f.read(&mut buf).map_err(Error::io("reading", path))?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(h.finish())
}
