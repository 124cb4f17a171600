//! Durable storage of an append-only Merkle log: the [`LogStorage`] trait and [`FileStore`],
//! the embedded default backend. Nothing here knows about Rekor: a leaf is opaque bytes plus
//! search keys, so the same store backs the CT log (RFC 6962 `MerkleTreeLeaf` bytes).
//!
//! # Layout of a data directory
//! - `entries.dat`: leaf data, appended back to back.
//! - `keys.dat`: per leaf, its search keys as 8-byte hashes ([`search_key`]).
//! - `index.dat`: one 72-byte record per leaf: data and key offsets, integrated time, data
//!   length, key count, leaf hash, CRC-32 of the record. Record `i` is leaf `i`.
//! - `level-NN.dat`: the perfect-subtree hashes of tree level `NN` (level 0 = leaf hashes),
//!   32 bytes each, in order. A proof or a tlog-tiles tile is a handful of positioned reads,
//!   whatever the log's size; an append writes O(1) amortised hashes.
//! - `levels.synced`: the tree size the level files were last fsynced at.
//! - `LOCK`: `flock`ed while a process has the store open.
//!
//! # Durability (group commit)
//! [`FileStore::append`] writes a whole batch with one `write` per file and returns only after
//! `fdatasync` of the data, key and index files: the caller (the sequencer) acknowledges the
//! batch's entries after that. The level files are derived data: they are synced at most once
//! a second (and on drop), and on open everything after `levels.synced` is recomputed from the
//! leaf hashes in `index.dat`. Batches are written one after another, so after a crash at most
//! the last, unacknowledged batch can be torn: on open the index is cut at the first record
//! whose CRC fails or whose data is missing, and the data of the last [`MAX_BATCH`] records is
//! re-hashed against their leaf hashes, so a torn tail is dropped and never reused half-written.
//!
//! - `leaves-FROM-TO.run`, `search-FROM-TO.run`: the duplicate check (leaf-hash prefix →
//!   index) and the search index (search key → indices) of leaves `FROM..TO`, as sorted
//!   immutable runs (see `postings`), derived data like the levels.
//!
//! # Memory
//! Bounded, whatever the log's size: each of the two indexes holds at most
//! `postings::MEM_LIMIT` (65,536) recent postings in memory (~3 MiB) before a background
//! thread writes them as a run and merges runs of similar size; a lookup is one 4 KiB
//! positioned read per run (at most ~log₂(n / 65,536) + 1 runs). What grows is one 8-byte
//! fence key per 256 postings (~0.1 byte per entry). On open, runs are trusted up to the leaf
//! they cover and the postings after that are re-read from `index.dat` and `keys.dat`. Keys
//! are 64-bit hashes, so a search may (with probability ~n·2⁻⁶⁴) return an extra entry; leaf
//! lookups compare the full hash.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use sigil_core::merkle::{self, Hash, NodeSource};

use postings::{Flush, Postings};
use record::{Record, REC};

mod open;
mod postings;
mod record;
mod sync;

/// Most leaves written in one batch (and so the most a crash can tear).
pub const MAX_BATCH: usize = 4096;
/// The lowest tree level kept in memory: 2⁻¹⁰ of the leaves' hashes and above, ~0.06 byte
/// per entry (640 KiB at 10 M entries).
const UPPER_LEVEL: usize = 10;
const LEVEL_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{op} `{path}`")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("leaf {index} does not exist (tree size {size})")]
    NoSuchLeaf { index: u64, size: u64 },
    #[error("node at level {level} index {index} does not exist")]
    NoSuchNode { level: u32, index: u64 },
    #[error("batch of {0} leaves is larger than the limit of {MAX_BATCH}")]
    BatchTooLarge(usize),
    #[error("corrupt log data: {0}")]
    Corrupt(String),
    #[error("`{0}` is in use by another process (one log process per data directory)")]
    Locked(PathBuf),
}

/// A leaf to append.
#[derive(Debug, Clone)]
pub struct NewLeaf {
    pub data: Vec<u8>,
    /// Search keys, as [`search_key`] hashes them.
    pub keys: Vec<u64>,
}

/// What the store knows about a leaf besides its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafInfo {
    pub index: u64,
    pub integrated_time: i64,
    pub leaf_hash: Hash,
}

/// Storage of an append-only Merkle log. `append` is called by one sequencer at a time;
/// everything else may run concurrently with it and sees only committed leaves.
pub trait LogStorage: Send + Sync + std::fmt::Debug {
    /// Number of committed leaves.
    fn size(&self) -> u64;
    /// Appends `leaves` at the end with `integrated_time`; returns the first index. The
    /// leaves are durable when this returns.
    fn append(&self, leaves: &[NewLeaf], integrated_time: i64) -> Result<u64, StoreError>;
    fn leaf_info(&self, index: u64) -> Result<LeafInfo, StoreError>;
    fn leaf_data(&self, index: u64) -> Result<Vec<u8>, StoreError>;
    /// The perfect-subtree hash at `level`, `index` (see [`merkle::NodeSource`]).
    fn node(&self, level: u32, index: u64) -> Result<Hash, StoreError>;
    /// `count` consecutive hashes of `level` from `start`, concatenated (tlog-tiles).
    fn nodes(&self, level: u32, start: u64, count: u64) -> Result<Vec<u8>, StoreError>;
    /// The index of the leaf with this leaf hash.
    fn find_leaf(&self, leaf_hash: &Hash) -> Result<Option<u64>, StoreError>;
    /// Indices of leaves stored with search key `key`, ascending.
    fn search(&self, key: u64) -> Result<Vec<u64>, StoreError>;
}

/// Adapts a [`LogStorage`] to the proof generators of [`merkle`].
#[derive(Debug)]
pub struct Nodes<'a>(pub &'a dyn LogStorage);

impl NodeSource for Nodes<'_> {
    type Error = StoreError;
    fn node(&self, level: u32, index: u64) -> Result<Hash, StoreError> {
        self.0.node(level, index)
    }
}

/// A [`LogStorage`] seen at one tree size whose right edge is cached
/// ([`merkle::right_edge`]): proofs up to that size cost O(log n) node reads.
#[derive(Debug)]
pub struct HeadNodes<'a> {
    pub store: &'a dyn LogStorage,
    pub size: u64,
    /// `(start, hash of leaves start..size)`, increasing `start`.
    pub edge: &'a [(u64, Hash)],
}

impl NodeSource for HeadNodes<'_> {
    type Error = StoreError;
    fn node(&self, level: u32, index: u64) -> Result<Hash, StoreError> {
        self.store.node(level, index)
    }
    fn cached_range(&self, start: u64, end: u64) -> Option<Hash> {
        if end != self.size {
            return None;
        }
        self.edge
            .binary_search_by_key(&start, |(s, _)| *s)
            .ok()
            .and_then(|i| self.edge.get(i))
            .map(|(_, h)| *h)
    }
}

/// The 64-bit search key of a string (first 8 bytes of its SHA-256).
pub fn search_key(s: &str) -> u64 {
    let d = Sha256::digest(s.as_bytes());
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

pub(super) fn prefix(h: &Hash) -> u64 {
    u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
}

#[derive(Debug)]
pub(super) struct Writer {
    entries_len: u64,
    keys_len: u64,
    /// Node count per level.
    counts: Vec<u64>,
    /// Per level, the last node when the count is odd (waiting for its right sibling).
    frontier: Vec<Option<Hash>>,
    levels_dirty: bool,
    last_level_sync: Instant,
    /// A write failed after the in-memory tree state moved on: refuse further appends until
    /// a restart recovers from what is on disk.
    failed: bool,
    /// `fdatasync` of `entries.dat` and `keys.dat`, in parallel with `index.dat`'s.
    syncers: [sync::SyncThread; 2],
}

/// The last nodes written to one level below [`UPPER_LEVEL`]: about two batches' worth
/// ([`recent_cap`]). The inclusion proofs of a fresh batch, which every append answers with,
/// read their lower siblings from here instead of the level files (~10 `pread`s per append).
#[derive(Debug, Default)]
pub(super) struct Recent {
    /// Index of the first hash held.
    start: u64,
    hashes: std::collections::VecDeque<Hash>,
}

fn recent_cap(level: usize) -> usize {
    ((2 * MAX_BATCH) >> level) + 2
}

/// The embedded, durable [`LogStorage`] (see the module docs).
#[derive(Debug)]
pub struct FileStore {
    /// Holds an exclusive `flock` on `LOCK` for the store's lifetime (the kernel drops it
    /// when the process dies, so `kill -9` leaves no stale lock).
    _lock: File,
    dir: PathBuf,
    entries: File,
    keys: File,
    index: File,
    levels: RwLock<Vec<Arc<File>>>,
    /// Levels [`UPPER_LEVEL`] and up, also kept in memory, so a proof reads at most
    /// `UPPER_LEVEL` nodes from the level files (one per lower level).
    upper: RwLock<Vec<Vec<Hash>>>,
    /// The newest nodes of the levels below [`UPPER_LEVEL`] (see [`Recent`]).
    recent: RwLock<Vec<Recent>>,
    size: AtomicU64,
    writer: Mutex<Writer>,
    /// Leaf-hash prefix → index (the duplicate check; candidates are confirmed against
    /// the full hash in `index.dat`).
    leaves: Arc<Postings>,
    /// Search key → indices.
    search: Arc<Postings>,
}

pub(super) fn io<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

pub(super) fn open_rw(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io("opening", path))
}

pub(super) fn level_path(dir: &Path, level: usize) -> PathBuf {
    dir.join(format!("level-{level:02}.dat"))
}

pub(super) fn read_exact_at(
    f: &File,
    buf: &mut [u8],
    off: u64,
    path: &Path,
) -> Result<(), StoreError> {
    f.read_exact_at(buf, off).map_err(io("reading", path))
}

impl FileStore {
    /// Fsyncs the level files and records the size they hold.
    pub fn sync_levels(&self) -> Result<(), StoreError> {
        let mut w = self.writer.lock().map_err(|_| poisoned())?;
        self.sync_levels_locked(&mut w)
    }

    fn sync_levels_locked(&self, w: &mut Writer) -> Result<(), StoreError> {
        let size = self.size.load(Ordering::Acquire);
        let levels = self.levels.read().map_err(|_| poisoned())?.clone();
        for (i, f) in levels.iter().enumerate() {
            f.sync_data()
                .map_err(io("syncing", &level_path(&self.dir, i)))?;
        }
        let path = self.dir.join("levels.synced");
        let tmp = self.dir.join("levels.synced.tmp");
        let mut f = File::create(&tmp).map_err(io("creating", &tmp))?;
        f.write_all(&size.to_le_bytes())
            .and_then(|_| f.sync_data())
            .map_err(io("writing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("renaming", &path))?;
        w.levels_dirty = false;
        w.last_level_sync = Instant::now();
        Ok(())
    }

    fn append_locked(
        &self,
        w: &mut Writer,
        leaves: &[NewLeaf],
        integrated_time: i64,
    ) -> Result<u64, StoreError> {
        let first = self.size();
        let starts = w.counts.clone();
        let mut data = Vec::new();
        let mut keys = Vec::new();
        let mut index = Vec::with_capacity(leaves.len() * REC as usize);
        let mut level_bufs: Vec<Vec<u8>> = Vec::new();
        let mut hashes = Vec::with_capacity(leaves.len());
        let mut off = w.entries_len;
        let mut koff = w.keys_len;
        for leaf in leaves {
            let len = u32::try_from(leaf.data.len())
                .map_err(|_| StoreError::Corrupt("leaf larger than 4 GiB".into()))?;
            let nkeys = u32::try_from(leaf.keys.len())
                .map_err(|_| StoreError::Corrupt("too many keys".into()))?;
            let h = merkle::leaf_hash(&leaf.data);
            let r = Record {
                offset: off,
                keys_offset: koff,
                time: integrated_time,
                len,
                nkeys,
                leaf: h,
            };
            index.extend_from_slice(&r.encode());
            data.extend_from_slice(&leaf.data);
            for k in &leaf.keys {
                keys.extend_from_slice(&k.to_le_bytes());
            }
            off += u64::from(len);
            koff += 8 * u64::from(nkeys);
            hashes.push(h);
            // Fold the new leaf into the levels.
            let mut level = 0usize;
            let mut node = h;
            loop {
                if w.counts.len() <= level {
                    w.counts.push(0);
                    w.frontier.push(None);
                }
                if level_bufs.len() <= level {
                    level_bufs.push(Vec::new());
                }
                level_bufs[level].extend_from_slice(&node);
                w.counts[level] += 1;
                if w.counts[level] % 2 == 1 {
                    w.frontier[level] = Some(node);
                    break;
                }
                let left = w.frontier[level].take().ok_or_else(|| {
                    StoreError::Corrupt(format!("missing left sibling at level {level}"))
                })?;
                node = merkle::node_hash(&left, &node);
                level += 1;
            }
        }
        let entries_path = self.dir.join("entries.dat");
        let keys_path = self.dir.join("keys.dat");
        let index_path = self.dir.join("index.dat");
        (&self.entries)
            .write_all(&data)
            .map_err(io("writing", &entries_path))?;
        (&self.keys)
            .write_all(&keys)
            .map_err(io("writing", &keys_path))?;
        (&self.index)
            .write_all(&index)
            .map_err(io("writing", &index_path))?;
        {
            let mut levels = self.levels.write().map_err(|_| poisoned())?;
            for (l, buf) in level_bufs.iter().enumerate() {
                if levels.len() <= l {
                    levels.push(Arc::new(open_rw(&level_path(&self.dir, l))?));
                }
                (&*levels[l])
                    .write_all(buf)
                    .map_err(io("writing", &level_path(&self.dir, l)))?;
            }
            let mut recent = self.recent.write().map_err(|_| poisoned())?;
            for (l, buf) in level_bufs.iter().enumerate().take(UPPER_LEVEL) {
                if recent.len() <= l {
                    recent.push(Recent::default());
                }
                let start = starts.get(l).copied().unwrap_or(0);
                if let Some(r) = recent.get_mut(l) {
                    if r.start + r.hashes.len() as u64 != start {
                        r.hashes.clear();
                        r.start = start;
                    }
                    r.hashes
                        .extend(buf.chunks_exact(32).filter_map(|c| Hash::try_from(c).ok()));
                    let excess = r.hashes.len().saturating_sub(recent_cap(l));
                    r.hashes.drain(..excess);
                    r.start += excess as u64;
                }
            }
            drop(recent);
            let mut upper = self.upper.write().map_err(|_| poisoned())?;
            for (l, buf) in level_bufs.iter().enumerate().skip(UPPER_LEVEL) {
                if upper.len() <= l - UPPER_LEVEL {
                    upper.push(Vec::new());
                }
                if let Some(cache) = upper.get_mut(l - UPPER_LEVEL) {
                    cache.extend(buf.chunks_exact(32).filter_map(|c| Hash::try_from(c).ok()));
                }
            }
        }
        // Group commit: one fdatasync per file for the whole batch, in parallel. Every
        // started sync is waited for, even after an error, so the next batch's answers are
        // its own.
        let started: Vec<Result<(), StoreError>> = w.syncers.iter().map(|t| t.start()).collect();
        let own = self.index.sync_data().map_err(io("syncing", &index_path));
        let mut first_err = None;
        for (t, s) in w.syncers.iter().zip(started) {
            let r = s.and_then(|()| t.finish());
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        own?;
        if let Some(e) = first_err {
            return Err(e);
        }
        w.entries_len = off;
        w.keys_len = koff;
        w.levels_dirty = true;
        let new_size = first + leaves.len() as u64;
        self.size.store(new_size, Ordering::Release);
        self.leaves.insert(
            hashes
                .iter()
                .enumerate()
                .map(|(i, h)| (prefix(h), first + i as u64)),
            new_size,
            Flush::Background,
        )?;
        self.search.insert(
            leaves
                .iter()
                .enumerate()
                .flat_map(|(i, leaf)| leaf.keys.iter().map(move |k| (*k, first + i as u64))),
            new_size,
            Flush::Background,
        )?;
        Ok(first)
    }

    fn record(&self, index: u64) -> Result<Record, StoreError> {
        let size = self.size();
        if index >= size {
            return Err(StoreError::NoSuchLeaf { index, size });
        }
        let mut buf = [0u8; REC as usize];
        read_exact_at(
            &self.index,
            &mut buf,
            index * REC,
            &self.dir.join("index.dat"),
        )?;
        Record::decode(&buf).ok_or_else(|| StoreError::Corrupt(format!("index record {index}")))
    }

    fn level_file(&self, level: u32) -> Option<Arc<File>> {
        self.levels.read().ok()?.get(level as usize).cloned()
    }
}

pub(super) fn poisoned() -> StoreError {
    StoreError::Corrupt("a writer panicked while holding the log lock".into())
}

/// Node `i` of a level during recovery: from the freshly computed hashes when it is one of
/// them, else from the (trusted) file.
pub(super) fn node_at(
    f: &File,
    path: &Path,
    i: u64,
    start: u64,
    fresh: &[Hash],
) -> Result<Hash, StoreError> {
    if i >= start {
        if let Some(h) = usize::try_from(i - start).ok().and_then(|k| fresh.get(k)) {
            return Ok(*h);
        }
    }
    let mut h = [0u8; 32];
    read_exact_at(f, &mut h, i * 32, path)?;
    Ok(h)
}

impl LogStorage for FileStore {
    fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    fn append(&self, leaves: &[NewLeaf], integrated_time: i64) -> Result<u64, StoreError> {
        if leaves.len() > MAX_BATCH {
            return Err(StoreError::BatchTooLarge(leaves.len()));
        }
        let mut w = self.writer.lock().map_err(|_| poisoned())?;
        if w.failed {
            return Err(StoreError::Corrupt(
                "an earlier write failed; restart the log to recover from what is on disk".into(),
            ));
        }
        // Any error from here on leaves memory ahead of the disk.
        w.failed = true;
        let first = self.append_locked(&mut w, leaves, integrated_time)?;
        w.failed = false;
        if w.last_level_sync.elapsed() >= LEVEL_SYNC_INTERVAL {
            self.sync_levels_locked(&mut w)?;
        }
        Ok(first)
    }

    fn leaf_info(&self, index: u64) -> Result<LeafInfo, StoreError> {
        let r = self.record(index)?;
        Ok(LeafInfo {
            index,
            integrated_time: r.time,
            leaf_hash: r.leaf,
        })
    }

    fn leaf_data(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        let r = self.record(index)?;
        let mut data = vec![0u8; r.len as usize];
        read_exact_at(
            &self.entries,
            &mut data,
            r.offset,
            &self.dir.join("entries.dat"),
        )?;
        Ok(data)
    }

    fn node(&self, level: u32, index: u64) -> Result<Hash, StoreError> {
        let size = self.size();
        if level >= 64 || index >= size >> level {
            return Err(StoreError::NoSuchNode { level, index });
        }
        if (level as usize) < UPPER_LEVEL {
            let recent = self.recent.read().map_err(|_| poisoned())?;
            if let Some(h) = recent.get(level as usize).and_then(|r| {
                let k = usize::try_from(index.checked_sub(r.start)?).ok()?;
                r.hashes.get(k)
            }) {
                return Ok(*h);
            }
        } else {
            let upper = self.upper.read().map_err(|_| poisoned())?;
            if let Some(h) = upper
                .get(level as usize - UPPER_LEVEL)
                .and_then(|l| l.get(usize::try_from(index).ok()?))
            {
                return Ok(*h);
            }
        }
        let f = self
            .level_file(level)
            .ok_or(StoreError::NoSuchNode { level, index })?;
        let mut h = [0u8; 32];
        read_exact_at(
            &f,
            &mut h,
            index * 32,
            &level_path(&self.dir, level as usize),
        )?;
        Ok(h)
    }

    fn nodes(&self, level: u32, start: u64, count: u64) -> Result<Vec<u8>, StoreError> {
        let size = self.size();
        let end = start.checked_add(count);
        if level >= 64 || end.is_none_or(|e| e > size >> level) {
            return Err(StoreError::NoSuchNode {
                level,
                index: start.saturating_add(count),
            });
        }
        let f = self.level_file(level).ok_or(StoreError::NoSuchNode {
            level,
            index: start,
        })?;
        let mut buf = vec![0u8; (count * 32) as usize];
        read_exact_at(
            &f,
            &mut buf,
            start * 32,
            &level_path(&self.dir, level as usize),
        )?;
        Ok(buf)
    }

    fn find_leaf(&self, leaf_hash: &Hash) -> Result<Option<u64>, StoreError> {
        let size = self.size();
        for i in self.leaves.get(prefix(leaf_hash))? {
            if i < size && self.leaf_info(i)?.leaf_hash == *leaf_hash {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    fn search(&self, key: u64) -> Result<Vec<u64>, StoreError> {
        let size = self.size();
        let mut v = self.search.get(key)?;
        v.retain(|i| *i < size);
        Ok(v)
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        // Best effort: a clean shutdown leaves nothing to recompute.
        if let Ok(mut w) = self.writer.lock() {
            if w.levels_dirty {
                let _ = self.sync_levels_locked(&mut w);
            }
        }
        // A background run writer must finish before the directory lock is released.
        let _ = self.leaves.wait_idle();
        let _ = self.search.wait_idle();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
