//! Opening a [`FileStore`]: taking the directory lock, cutting a torn tail, recomputing the
//! level files past `levels.synced` and the index postings past their last run (see the
//! store's module docs, "Durability").

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use sigil_core::merkle::{self, Hash};

use super::postings::{Flush, Postings};
use super::record::{Record, REC};
use super::{
    io, level_path, node_at, open_rw, prefix, read_exact_at, FileStore, StoreError, Writer,
    MAX_BATCH,
};

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
        let mut n: u64 = 0;
        let mut next_off = 0u64;
        let mut next_keys = 0u64;
        let mut tail: Vec<Record> = Vec::new();
        {
            let mut reader = BufReader::with_capacity(1 << 20, &index);
            let mut buf = [0u8; REC as usize];
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
            let cut = &tail[(good - tail_start) as usize..];
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
        // Index postings: runs up to where they reach, the rest from the records.
        let (leaves, leaves_from) = Postings::open(dir, "leaves", n)?;
        let (search, search_from) = Postings::open(dir, "search", n)?;
        let (leaves, search) = (Arc::new(leaves), Arc::new(search));
        rebuild_postings(
            &index,
            &keys,
            dir,
            n,
            (&leaves, leaves_from),
            (&search, search_from),
        )?;
        let syncers = [
            super::sync::SyncThread::spawn(&entries, &dir.join("entries.dat"))?,
            super::sync::SyncThread::spawn(&keys, &dir.join("keys.dat"))?,
        ];
        let store = FileStore {
            _lock: lock,
            dir: dir.to_owned(),
            entries,
            keys,
            index,
            upper: RwLock::new(load_upper(&levels, dir)?),
            recent: RwLock::new(Vec::new()),
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
                syncers,
            }),
            leaves,
            search,
        };
        store.sync_levels()?;
        Ok(store)
    }
}

/// Re-inserts the postings of leaves `from..n` of each index (those not in its runs yet),
/// reading `index.dat` and `keys.dat` sequentially; full tables are written out as runs on
/// the way, so memory stays bounded even when no run exists yet.
fn rebuild_postings(
    index: &File,
    keys: &File,
    dir: &Path,
    n: u64,
    (leaves, leaves_from): (&Arc<Postings>, u64),
    (search, search_from): (&Arc<Postings>, u64),
) -> Result<(), StoreError> {
    let start = leaves_from.min(search_from);
    if start >= n {
        return Ok(());
    }
    let index_path = dir.join("index.dat");
    let keys_path = dir.join("keys.dat");
    let mut buf = [0u8; REC as usize];
    read_exact_at(index, &mut buf, start * REC, &index_path)?;
    let first =
        Record::decode(&buf).ok_or_else(|| StoreError::Corrupt(format!("index record {start}")))?;
    let mut records = BufReader::with_capacity(
        1 << 20,
        index.try_clone().map_err(io("opening", &index_path))?,
    );
    records
        .seek(SeekFrom::Start(start * REC))
        .map_err(io("reading", &index_path))?;
    let mut key_reader = BufReader::with_capacity(
        1 << 20,
        keys.try_clone().map_err(io("opening", &keys_path))?,
    );
    key_reader
        .seek(SeekFrom::Start(first.keys_offset))
        .map_err(io("reading", &keys_path))?;
    let mut keybuf = Vec::new();
    for i in start..n {
        records
            .read_exact(&mut buf)
            .map_err(io("reading", &index_path))?;
        let r =
            Record::decode(&buf).ok_or_else(|| StoreError::Corrupt(format!("index record {i}")))?;
        keybuf.resize(8 * r.nkeys as usize, 0);
        key_reader
            .read_exact(&mut keybuf)
            .map_err(io("reading", &keys_path))?;
        if i >= leaves_from {
            leaves.insert([(prefix(&r.leaf), i)], i + 1, Flush::Inline)?;
        }
        if i >= search_from {
            let ks = keybuf.chunks_exact(8).map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                (u64::from_le_bytes(a), i)
            });
            search.insert(ks, i + 1, Flush::Inline)?;
        }
    }
    Ok(())
}

/// Levels `UPPER_LEVEL` and up, read from their files.
fn load_upper(levels: &[Arc<File>], dir: &Path) -> Result<Vec<Vec<Hash>>, StoreError> {
    let mut upper = Vec::new();
    for (l, f) in levels.iter().enumerate().skip(super::UPPER_LEVEL) {
        let path = level_path(dir, l);
        let len = f
            .metadata()
            .map_err(io("reading metadata of", &path))?
            .len();
        let mut bytes = vec![0u8; (len / 32 * 32) as usize];
        read_exact_at(f, &mut bytes, 0, &path)?;
        upper.push(
            bytes
                .chunks_exact(32)
                .filter_map(|c| Hash::try_from(c).ok())
                .collect(),
        );
    }
    Ok(upper)
}
