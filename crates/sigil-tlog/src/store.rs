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
//! # Memory
//! The duplicate check and the search index are in memory, rebuilt from `index.dat` and
//! `keys.dat` on open: about 40 bytes per leaf plus 30 per search key. Keys are 64-bit hashes,
//! so a search may (with probability ~n·2⁻⁶⁴) return an extra entry; leaf lookups compare
//! the full hash.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use sigil_core::merkle::{self, Hash, NodeSource};

/// Most leaves written in one batch (and so the most a crash can tear).
pub const MAX_BATCH: usize = 4096;
const REC: u64 = 72;
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

fn prefix(h: &Hash) -> u64 {
    u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
}

/// Keys are already uniformly distributed hashes: hash them as themselves.
#[derive(Default)]
struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

#[derive(Debug)]
enum Postings {
    One(u64),
    Many(Vec<u64>),
}

#[derive(Debug, Default)]
struct Maps {
    by_leaf: IdMap<u64>,
    /// Leaves whose 64-bit prefix collided with an earlier leaf's.
    leaf_overflow: HashMap<Hash, u64>,
    search: IdMap<Postings>,
}

impl Maps {
    fn insert(&mut self, index: u64, leaf: &Hash, keys: &[u64]) {
        match self.by_leaf.entry(prefix(leaf)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(index);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.leaf_overflow.insert(*leaf, index);
            }
        }
        for k in keys {
            match self.search.get_mut(k) {
                None => {
                    self.search.insert(*k, Postings::One(index));
                }
                Some(p) => match p {
                    Postings::One(first) => {
                        if *first != index {
                            *p = Postings::Many(vec![*first, index]);
                        }
                    }
                    Postings::Many(v) => {
                        if v.last() != Some(&index) {
                            v.push(index);
                        }
                    }
                },
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    offset: u64,
    keys_offset: u64,
    time: i64,
    len: u32,
    nkeys: u32,
    leaf: Hash,
}

impl Record {
    fn encode(&self) -> [u8; REC as usize] {
        let mut b = [0u8; REC as usize];
        b[0..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..16].copy_from_slice(&self.keys_offset.to_le_bytes());
        b[16..24].copy_from_slice(&self.time.to_le_bytes());
        b[24..28].copy_from_slice(&self.len.to_le_bytes());
        b[28..32].copy_from_slice(&self.nkeys.to_le_bytes());
        b[32..64].copy_from_slice(&self.leaf);
        let crc = crc32fast::hash(&b[0..64]);
        b[64..68].copy_from_slice(&crc.to_le_bytes());
        b
    }

    fn decode(b: &[u8; REC as usize]) -> Option<Record> {
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let u32_at = |i: usize| {
            let mut a = [0u8; 4];
            a.copy_from_slice(&b[i..i + 4]);
            u32::from_le_bytes(a)
        };
        if crc32fast::hash(&b[0..64]) != u32_at(64) {
            return None;
        }
        let mut leaf = [0u8; 32];
        leaf.copy_from_slice(&b[32..64]);
        Some(Record {
            offset: u64_at(0),
            keys_offset: u64_at(8),
            time: u64_at(16) as i64,
            len: u32_at(24),
            nkeys: u32_at(28),
            leaf,
        })
    }
}

#[derive(Debug)]
struct Writer {
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
    size: AtomicU64,
    writer: Mutex<Writer>,
    maps: RwLock<Maps>,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

fn open_rw(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io("opening", path))
}

fn level_path(dir: &Path, level: usize) -> PathBuf {
    dir.join(format!("level-{level:02}.dat"))
}

fn read_exact_at(f: &File, buf: &mut [u8], off: u64, path: &Path) -> Result<(), StoreError> {
    f.read_exact_at(buf, off).map_err(io("reading", path))
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`, recovering from an unclean shutdown.
    pub fn open(dir: &Path) -> Result<FileStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        // Two writers on one directory would interleave their appends: refuse the second.
        let lock_path = dir.join("LOCK");
        let lock = open_rw(&lock_path)?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|_| StoreError::Locked(dir.to_owned()))?;
        let entries_path = dir.join("entries.dat");
        let keys_path = dir.join("keys.dat");
        let index_path = dir.join("index.dat");
        let entries = open_rw(&entries_path)?;
        let keys = open_rw(&keys_path)?;
        let index = open_rw(&index_path)?;
        let flen = |f: &File, p: &Path| -> Result<u64, StoreError> {
            Ok(f.metadata().map_err(io("reading metadata of", p))?.len())
        };
        let entries_len = flen(&entries, &entries_path)?;
        let keys_len = flen(&keys, &keys_path)?;
        let index_len = flen(&index, &index_path)?;

        // Pass 1: the longest prefix of well-formed, contiguous records whose data exists.
        let mut maps = Maps::default();
        let mut n: u64 = 0;
        let mut next_off = 0u64;
        let mut next_keys = 0u64;
        let mut tail: Vec<Record> = Vec::new();
        {
            let mut reader = BufReader::with_capacity(1 << 20, &index);
            let mut keys_reader = BufReader::with_capacity(1 << 20, &keys);
            let mut buf = [0u8; REC as usize];
            let mut keybuf = Vec::new();
            while (n + 1) * REC <= index_len {
                reader
                    .read_exact(&mut buf)
                    .map_err(io("reading", &index_path))?;
                let Some(r) = Record::decode(&buf) else { break };
                let end = r.offset + u64::from(r.len);
                let kend = r.keys_offset + 8 * u64::from(r.nkeys);
                if r.offset != next_off
                    || r.keys_offset != next_keys
                    || end > entries_len
                    || kend > keys_len
                {
                    break;
                }
                keybuf.resize(8 * r.nkeys as usize, 0);
                keys_reader
                    .read_exact(&mut keybuf)
                    .map_err(io("reading", &keys_path))?;
                let ks: Vec<u64> = keybuf
                    .chunks_exact(8)
                    .map(|c| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(c);
                        u64::from_le_bytes(a)
                    })
                    .collect();
                maps.insert(n, &r.leaf, &ks);
                tail.push(r);
                if tail.len() > 2 * MAX_BATCH {
                    tail.drain(..MAX_BATCH);
                }
                next_off = end;
                next_keys = kend;
                n += 1;
            }
        }
        // Only the last batch can be torn by a crash (batches are written one at a time and
        // each is synced before the next): damage further back is corruption, and cutting
        // the log there would drop acknowledged entries. Refuse to start instead.
        let records_in_file = index_len / REC;
        if n < records_in_file.saturating_sub(MAX_BATCH as u64) {
            return Err(StoreError::Corrupt(format!(
                "index record {n} of {records_in_file} is damaged or its data is missing; \
                 this is not a torn tail, refusing to truncate `{}`",
                index_path.display()
            )));
        }
        // Pass 2: the last batch may have index records whose data never reached the disk.
        let tail_start = n - tail.len() as u64;
        let check_from = n.saturating_sub(MAX_BATCH as u64);
        let mut good = n;
        for (i, r) in tail.iter().enumerate() {
            let idx = tail_start + i as u64;
            if idx < check_from {
                continue;
            }
            let mut data = vec![0u8; r.len as usize];
            read_exact_at(&entries, &mut data, r.offset, &entries_path)?;
            if merkle::leaf_hash(&data) != r.leaf {
                good = idx;
                break;
            }
        }
        if good < n {
            // Rebuild the maps without the torn tail (rare: only after a power loss).
            let cut = &tail[(good - tail_start) as usize..];
            maps.by_leaf.retain(|_, v| *v < good);
            maps.leaf_overflow.retain(|_, v| *v < good);
            maps.search.retain(|_, p| match p {
                Postings::One(i) => *i < good,
                Postings::Many(v) => {
                    v.retain(|i| *i < good);
                    !v.is_empty()
                }
            });
            if let Some(first) = cut.first() {
                next_off = first.offset;
                next_keys = first.keys_offset;
            }
            n = good;
        }
        // Cut everything after the last good record.
        let truncate = |f: &File, len: u64, p: &Path| f.set_len(len).map_err(io("truncating", p));
        truncate(&index, n * REC, &index_path)?;
        truncate(&entries, next_off, &entries_path)?;
        truncate(&keys, next_keys, &keys_path)?;
        for (f, p) in [
            (&index, &index_path),
            (&entries, &entries_path),
            (&keys, &keys_path),
        ] {
            f.sync_data().map_err(io("syncing", p))?;
        }

        // Levels: trust them up to `levels.synced`, recompute the rest from the leaf hashes.
        let synced_path = dir.join("levels.synced");
        let synced = std::fs::read(&synced_path)
            .ok()
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0)
            .min(n);
        // A level file shorter than the synced size claims (deleted, or a filesystem that
        // lost it) means nothing in the levels can be trusted: rebuild them all.
        let mut synced = synced;
        for level in 0..64usize {
            let need = synced >> level;
            if need == 0 {
                break;
            }
            let have = std::fs::metadata(level_path(dir, level))
                .map(|m| m.len() / 32)
                .unwrap_or(0);
            if have < need {
                synced = 0;
                break;
            }
        }
        let mut levels: Vec<Arc<File>> = Vec::new();
        let mut counts = Vec::new();
        let mut frontier = Vec::new();
        let mut level = 0usize;
        // Nodes of the level below that still have to be folded in: (first index, hashes).
        let mut pending: (u64, Vec<Hash>) = (synced, Vec::new());
        {
            let mut buf = [0u8; REC as usize];
            for i in synced..n {
                read_exact_at(&index, &mut buf, i * REC, &index_path)?;
                let r = Record::decode(&buf)
                    .ok_or_else(|| StoreError::Corrupt(format!("index record {i}")))?;
                pending.1.push(r.leaf);
            }
        }
        loop {
            let want = n >> level;
            let trusted = synced >> level;
            if want == 0 && level > 0 {
                break;
            }
            let path = level_path(dir, level);
            let f = open_rw(&path)?;
            truncate(&f, trusted * 32, &path)?;
            // `pending` holds this level's nodes from index `pending.0`; write those past
            // `trusted`, then compute the next level's nodes above the untrusted part.
            let (start, hashes) = std::mem::take(&mut pending);
            let mut bytes = Vec::with_capacity(hashes.len() * 32);
            for (k, h) in hashes.iter().enumerate() {
                if start + k as u64 >= trusted {
                    bytes.extend_from_slice(h);
                }
            }
            (&f).write_all(&bytes).map_err(io("writing", &path))?;
            let f = Arc::new(f);
            // The next level needs nodes from trusted_next = synced >> (level+1) to want/2,
            // which are the pairs (2j, 2j+1) of this level.
            let next_start = synced >> (level + 1);
            let next_end = want / 2;
            let mut next = Vec::new();
            for j in next_start..next_end {
                let l = node_at(&f, &path, 2 * j, start, &hashes)?;
                let r = node_at(&f, &path, 2 * j + 1, start, &hashes)?;
                next.push(merkle::node_hash(&l, &r));
            }
            pending = (next_start, next);
            counts.push(want);
            frontier.push(if want % 2 == 1 {
                Some(node_at(&f, &path, want - 1, start, &hashes)?)
            } else {
                None
            });
            levels.push(f);
            level += 1;
            if want <= 1 {
                break;
            }
        }
        // Levels above the top one are stale (a torn tail was cut): remove them so a later
        // append does not add to old nodes.
        for stale in level..64 {
            let p = level_path(dir, stale);
            if p.exists() {
                std::fs::remove_file(&p).map_err(io("removing", &p))?;
            }
        }
        let store = FileStore {
            _lock: lock,
            dir: dir.to_owned(),
            entries,
            keys,
            index,
            levels: RwLock::new(levels),
            size: AtomicU64::new(n),
            writer: Mutex::new(Writer {
                entries_len: next_off,
                keys_len: next_keys,
                counts,
                frontier,
                levels_dirty: true,
                last_level_sync: Instant::now(),
                failed: false,
            }),
            maps: RwLock::new(maps),
        };
        store.sync_levels()?;
        Ok(store)
    }

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
        }
        // Group commit: one fdatasync per file for the whole batch, in parallel.
        let results: Vec<Result<(), StoreError>> = std::thread::scope(|s| {
            let hs: Vec<_> = [
                (&self.entries, &entries_path),
                (&self.keys, &keys_path),
                (&self.index, &index_path),
            ]
            .into_iter()
            .map(|(f, p)| s.spawn(move || f.sync_data().map_err(io("syncing", p))))
            .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(StoreError::Corrupt("sync thread panicked".into())))
                })
                .collect()
        });
        for r in results {
            r?;
        }
        w.entries_len = off;
        w.keys_len = koff;
        w.levels_dirty = true;
        let new_size = first + leaves.len() as u64;
        self.size.store(new_size, Ordering::Release);
        {
            let mut maps = self.maps.write().map_err(|_| poisoned())?;
            for (i, (leaf, h)) in leaves.iter().zip(&hashes).enumerate() {
                maps.insert(first + i as u64, h, &leaf.keys);
            }
        }
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

fn poisoned() -> StoreError {
    StoreError::Corrupt("a writer panicked while holding the log lock".into())
}

/// Node `i` of a level during recovery: from the freshly computed hashes when it is one of
/// them, else from the (trusted) file.
fn node_at(f: &File, path: &Path, i: u64, start: u64, fresh: &[Hash]) -> Result<Hash, StoreError> {
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
        let (primary, overflow) = {
            let maps = self.maps.read().map_err(|_| poisoned())?;
            (
                maps.by_leaf.get(&prefix(leaf_hash)).copied(),
                maps.leaf_overflow.get(leaf_hash).copied(),
            )
        };
        if let Some(i) = primary {
            if self.leaf_info(i)?.leaf_hash == *leaf_hash {
                return Ok(Some(i));
            }
        }
        Ok(overflow)
    }

    fn search(&self, key: u64) -> Result<Vec<u64>, StoreError> {
        let maps = self.maps.read().map_err(|_| poisoned())?;
        let size = self.size();
        Ok(match maps.search.get(&key) {
            None => Vec::new(),
            Some(Postings::One(i)) => vec![*i],
            Some(Postings::Many(v)) => v.clone(),
        }
        .into_iter()
        .filter(|i| *i < size)
        .collect())
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
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
