//! Files in the data directory: keys and certificates written atomically (temporary file,
//! fsync, rename), and the CT log's sequencer.
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

fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
    let tmp = path.with_extension("tmp");
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
    std::fs::rename(&tmp, path).map_err(|e| Error::io("renaming into place", path, e))
}

/// Writes a secret (mode 0600).
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<(), Error> {
    write_atomic(path, data, 0o600)
}

/// Writes a public file (mode 0644).
pub(crate) fn write_public(path: &Path, data: &[u8]) -> Result<(), Error> {
    write_atomic(path, data, 0o644)
}

type Pending = (Vec<u8>, oneshot::Sender<Result<u64, Error>>);

/// Appends CT log leaves to a [`LogStorage`] in batches, from one thread.
#[derive(Debug)]
pub(crate) struct Sequencer {
    tx: mpsc::Sender<Pending>,
}

impl Sequencer {
    pub(crate) fn start(storage: Arc<dyn LogStorage>) -> Result<Self, Error> {
        let (tx, rx) = mpsc::channel::<Pending>();
        std::thread::Builder::new()
            .name("ct-log-sequencer".into())
            .spawn(move || sequence(storage.as_ref(), &rx))
            .map_err(|e| Error::io("starting the sequencer thread for", Path::new("ct"), e))?;
        Ok(Sequencer { tx })
    }

    /// Appends one leaf; resolves to its index once it is durable.
    pub(crate) async fn append(&self, leaf: Vec<u8>) -> Result<u64, Error> {
        let (done, wait) = oneshot::channel();
        self.tx.send((leaf, done)).map_err(|_| Error::StoreClosed)?;
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
