//! Files in the data directory, and the CT log's sequencer.
//!
//! Keys and certificates are created once and never replaced: each is written to a temporary
//! file, fsynced, then hard-linked to its name, which fails if the name exists. Two processes
//! starting on a fresh directory at once therefore agree on one key (the loser reads the
//! winner's file back) instead of each keeping a key that the other overwrote.
//!
//! The CT log's leaves live in the transparency-log crate's [`LogStorage`] (its `FileStore`:
//! durable leaves plus Merkle levels). `LogStorage::append` wants one caller at a time and
//! returns once a whole batch is durable, so submissions go through one sequencer thread that
//! takes every pending entry into one batch (group commit): an SCT is returned only once its
//! entry is on disk, and concurrent submissions share the cost of the sync.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::{mpsc, Arc};

use sigil_tlog::store::{LogStorage, NewLeaf, MAX_BATCH};
use tokio::sync::oneshot;

use crate::Error;

fn write_tmp(path: &Path, data: &[u8], mode: u32) -> Result<std::path::PathBuf, Error> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts
        .open(&tmp)
        .map_err(|e| Error::io("creating", &tmp, e))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("writing", &tmp, e))?;
    Ok(tmp)
}

/// Replaces `path` atomically (for settings that change on every start).
fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), Error> {
    let tmp = write_tmp(path, data, mode)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("renaming into place", path, e))
}

/// Creates `path` with `data` unless it exists; returns what the file holds afterwards.
fn create_once(path: &Path, data: &[u8], mode: u32) -> Result<Vec<u8>, Error> {
    let tmp = write_tmp(path, data, mode)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(data.to_vec()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).map_err(|e| Error::io("reading", path, e))
        }
        Err(e) => Err(Error::io("creating", path, e)),
    }
}

/// Creates a secret (mode 0600) unless it exists; returns the file's contents.
pub(crate) fn create_private(path: &Path, data: &[u8]) -> Result<Vec<u8>, Error> {
    create_once(path, data, 0o600)
}

/// Creates a public file (mode 0644) unless it exists; returns the file's contents.
pub(crate) fn create_public(path: &Path, data: &[u8]) -> Result<Vec<u8>, Error> {
    create_once(path, data, 0o644)
}

/// Writes a public file (mode 0644), replacing it.
pub(crate) fn write_public(path: &Path, data: &[u8]) -> Result<(), Error> {
    write_atomic(path, data, 0o644)
}

type Pending = (Vec<u8>, oneshot::Sender<Result<u64, Error>>);

/// Appends CT log leaves to a [`LogStorage`] in batches, from one thread. Dropping it closes
/// the queue and waits for the thread, so the storage (and its directory lock) is released
/// when the CA is dropped, not some time later.
#[derive(Debug)]
pub(crate) struct Sequencer {
    tx: Option<mpsc::Sender<Pending>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Sequencer {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Sequencer {
    pub(crate) fn start(storage: Arc<dyn LogStorage>) -> Result<Self, Error> {
        let (tx, rx) = mpsc::channel::<Pending>();
        let thread = std::thread::Builder::new()
            .name("ct-log-sequencer".into())
            .spawn(move || sequence(storage.as_ref(), &rx))
            .map_err(|e| Error::io("starting the sequencer thread for", Path::new("ct"), e))?;
        Ok(Sequencer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Appends one leaf; resolves to its index once it is durable.
    pub(crate) async fn append(&self, leaf: Vec<u8>) -> Result<u64, Error> {
        let (done, wait) = oneshot::channel();
        self.tx
            .as_ref()
            .ok_or(Error::StoreClosed)?
            .send((leaf, done))
            .map_err(|_| Error::StoreClosed)?;
        wait.await.map_err(|_| Error::StoreClosed)?
    }
}

fn sequence(storage: &dyn LogStorage, rx: &mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let leaves: Vec<NewLeaf> = batch
            .iter_mut()
            .map(|(data, _)| NewLeaf {
                data: std::mem::take(data),
                keys: Vec::new(),
            })
            .collect();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match storage.append(&leaves, now) {
            Ok(first) => {
                for (i, (_, done)) in (0u64..).zip(batch.drain(..)) {
                    let _ = done.send(Ok(first + i));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "CT log append failed");
                let msg = e.to_string();
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Err(Error::Storage(msg.clone())));
                }
            }
        }
    }
}
