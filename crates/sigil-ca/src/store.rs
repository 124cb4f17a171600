//! Files in the data directory: keys and certificates written atomically (temporary file,
//! fsync, rename), and the CT log's durable append-only entry file.
//!
//! The entry file is hand-written because the transparency-log crate's reusable Merkle storage
//! did not exist when this was written; it holds exactly RFC 6962 `MerkleTreeLeaf` encodings,
//! so a Merkle tree can be built over it later without rewriting it. Appends go through one
//! writer thread that batches every pending entry into one write and one `fsync` (group
//! commit): an SCT is returned only once its entry is on disk, and concurrent submissions
//! share the cost of the sync.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

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

/// The CT log's entries: length-prefixed records (`u32` big-endian length, then the bytes).
#[derive(Debug)]
pub struct EntryFile {
    tx: mpsc::Sender<Pending>,
    path: PathBuf,
}

impl EntryFile {
    /// Opens (or creates) the file, dropping a torn record at its end left by a crash in the
    /// middle of an append, and starts the writer thread.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| Error::io("opening", path, e))?;
        let (count, good_len) = scan(&mut file).map_err(|e| Error::io("reading", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("reading", path, e))?
            .len();
        if good_len != len {
            tracing::warn!(path = %path.display(), "dropping a torn record at the end of the CT log");
            file.set_len(good_len)
                .map_err(|e| Error::io("truncating", path, e))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| Error::io("seeking", path, e))?;
        let (tx, rx) = mpsc::channel::<Pending>();
        let thread_path = path.to_path_buf();
        std::thread::Builder::new()
            .name("ct-log-writer".into())
            .spawn(move || writer(file, count, good_len, rx, &thread_path))
            .map_err(|e| Error::io("starting the writer thread for", path, e))?;
        Ok(EntryFile {
            tx,
            path: path.to_path_buf(),
        })
    }

    /// Appends one entry; resolves to its index once it is durable.
    pub async fn append(&self, entry: Vec<u8>) -> Result<u64, Error> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((entry, done))
            .map_err(|_| Error::StoreClosed)?;
        wait.await.map_err(|_| Error::StoreClosed)?
    }

    /// Reads every entry (for tests and tools; the log only appends).
    pub fn read_all(&self) -> Result<Vec<Vec<u8>>, Error> {
        let mut data = Vec::new();
        File::open(&self.path)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|e| Error::io("reading", &self.path, e))?;
        let mut out = Vec::new();
        let mut rest = data.as_slice();
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let n = u32::from_be_bytes(*len) as usize;
            let Some((rec, tail)) = (n <= tail.len()).then(|| tail.split_at(n)) else {
                break;
            };
            out.push(rec.to_vec());
            rest = tail;
        }
        Ok(out)
    }
}

/// Counts the complete records and returns their total byte length.
fn scan(file: &mut File) -> std::io::Result<(u64, u64)> {
    let mut data = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut data)?;
    let (mut count, mut pos) = (0u64, 0usize);
    while let Some(len) = data
        .get(pos..pos + 4)
        .and_then(|l| <[u8; 4]>::try_from(l).ok())
    {
        let n = u32::from_be_bytes(len) as usize;
        if pos + 4 + n > data.len() {
            break;
        }
        pos += 4 + n;
        count += 1;
    }
    Ok((count, pos as u64))
}

fn writer(
    mut file: File,
    mut count: u64,
    mut durable: u64,
    rx: mpsc::Receiver<Pending>,
    path: &Path,
) {
    let mut batch: Vec<Pending> = Vec::new();
    let mut buf = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        buf.clear();
        for (entry, _) in &batch {
            // Entries are certificates' TBS plus a few bytes: far below 4 GiB.
            let len = u32::try_from(entry.len()).unwrap_or(u32::MAX);
            buf.extend_from_slice(&len.to_be_bytes());
            buf.extend_from_slice(entry);
        }
        let result = file.write_all(&buf).and_then(|()| file.sync_data());
        match result {
            Ok(()) => {
                durable += buf.len() as u64;
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Ok(count));
                    count += 1;
                }
            }
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "CT log append failed");
                // Cut back to the last durable record so that a retry does not follow garbage.
                let _ = file.set_len(durable);
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Err(Error::io(
                        "appending to",
                        path,
                        std::io::Error::new(e.kind(), e.to_string()),
                    )));
                }
            }
        }
    }
}
