//! A disk-backed multimap `u64 → leaf index` whose memory does not grow with the log: the
//! duplicate check (leaf-hash prefix → index) and the search index (search key → indices).
//!
//! New postings go to a bounded in-memory table. When it holds [`MEM_LIMIT`] postings it is
//! frozen and a background thread writes it as an immutable sorted *run* file; runs of
//! similar size are then merged into one (a binary-counter scheme, so a log of n postings
//! has at most log₂(n / [`MEM_LIMIT`]) + 1 runs and each posting is rewritten O(log n)
//! times, sequentially). A lookup searches the tables, then each run with one positioned
//! read of one block: every run keeps the first key of each [`BLOCK`]-posting block in
//! memory (8 bytes per 256 postings, stored in the run file itself), which is the only
//! memory that grows with the log (~0.03 bytes per posting).
//!
//! Why not an embedded KV store: the keys are already uniform 64-bit hashes, the values are
//! append-ordered and nothing is ever deleted, so sorted runs with block fences are all that
//! is needed (~300 lines); redb/sled-style B-trees write randomly for random keys, and an LSM
//! crate (fjall) brings a journal, compaction and a dozen dependencies that duplicate what
//! `index.dat` already gives us.
//!
//! # Durability
//! Runs are derived data. A run file `NAME-FROM-TO.run` holds the postings of leaves
//! `FROM..TO`; it is written to a `.tmp` file, fsynced and renamed, so a run that exists is
//! complete (its footer is CRC'd as well). On open the runs forming a chain `0..covered` are
//! kept (inputs of an interrupted merge are deleted, as is anything past the log's size) and
//! the postings of leaves `covered..size` are rebuilt from `index.dat`/`keys.dat` by the
//! store.
//!
//! # Run file layout
//! `count` postings of 16 bytes (key, index; little endian; sorted by key then index), then
//! one fence key per block, then a 48-byte footer: magic `SGLRUN01`, from, to, count,
//! fence count, CRC-32 of those 40 bytes, 4 bytes of zero.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use super::{io, StoreError};

/// Postings held in memory before the table is written out as a run (~3 MiB per index,
/// twice that while a frozen table is being written).
#[cfg(not(test))]
pub(super) const MEM_LIMIT: usize = 64 * 1024;
/// Small in unit tests, so they write, merge and recover runs.
#[cfg(test)]
pub(super) const MEM_LIMIT: usize = 50;
/// Postings per block (one positioned read of 4 KiB per run and lookup).
const BLOCK: u64 = 256;
const PAIR: u64 = 16;
const MAGIC: &[u8; 8] = b"SGLRUN01";
const FOOTER: u64 = 48;

/// Keys are already uniformly distributed hashes: hash them as themselves.
#[derive(Default)]
pub(super) struct IdHasher(u64);
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
enum List {
    One(u64),
    Many(Vec<u64>),
}

/// An in-memory table of the postings of leaves `from..to`.
#[derive(Debug, Default)]
struct Table {
    from: u64,
    to: u64,
    pairs: usize,
    map: IdMap<List>,
}

impl Table {
    fn new(from: u64) -> Table {
        Table {
            from,
            to: from,
            ..Table::default()
        }
    }

    fn insert(&mut self, key: u64, index: u64) {
        match self.map.get_mut(&key) {
            None => {
                self.map.insert(key, List::One(index));
            }
            Some(p) => match p {
                List::One(first) => {
                    if *first == index {
                        return;
                    }
                    *p = List::Many(vec![*first, index]);
                }
                List::Many(v) => {
                    if v.last() == Some(&index) {
                        return;
                    }
                    v.push(index);
                }
            },
        }
        self.pairs += 1;
    }

    fn get(&self, key: u64, out: &mut Vec<u64>) {
        match self.map.get(&key) {
            None => {}
            Some(List::One(i)) => out.push(*i),
            Some(List::Many(v)) => out.extend_from_slice(v),
        }
    }

    fn sorted(&self) -> Vec<(u64, u64)> {
        let mut v = Vec::with_capacity(self.pairs);
        for (k, l) in &self.map {
            match l {
                List::One(i) => v.push((*k, *i)),
                List::Many(is) => v.extend(is.iter().map(|i| (*k, *i))),
            }
        }
        v.sort_unstable();
        v
    }
}

/// An immutable sorted run on disk.
#[derive(Debug)]
struct Run {
    path: PathBuf,
    file: File,
    from: u64,
    to: u64,
    count: u64,
    fences: Vec<u64>,
}

impl Run {
    fn get(&self, key: u64, out: &mut Vec<u64>) -> Result<(), StoreError> {
        // Blocks 0..hi start at or below `key`; `key` may also end the block before the
        // first one starting at it, so the candidates are lo..hi.
        let hi = self.fences.partition_point(|f| *f <= key) as u64;
        if hi == 0 {
            return Ok(());
        }
        let lo = (self.fences.partition_point(|f| *f < key) as u64).saturating_sub(1);
        let start = lo * BLOCK;
        let end = (hi * BLOCK).min(self.count);
        let mut buf = vec![0u8; ((end - start) * PAIR) as usize];
        self.file
            .read_exact_at(&mut buf, start * PAIR)
            .map_err(io("reading", &self.path))?;
        for c in buf.chunks_exact(PAIR as usize) {
            let (k, i) = split(c);
            if k == key {
                out.push(i);
            } else if k > key {
                break;
            }
        }
        Ok(())
    }
}

fn split(c: &[u8]) -> (u64, u64) {
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&c[0..8]);
    b.copy_from_slice(&c[8..16]);
    (u64::from_le_bytes(a), u64::from_le_bytes(b))
}

#[derive(Debug, Default)]
struct State {
    active: Table,
    /// A table being written out as a run (still searched until the run replaces it).
    frozen: Option<Arc<Table>>,
    /// Oldest first; contiguous leaf ranges from 0.
    runs: Vec<Arc<Run>>,
    /// A background flush or merge is running.
    busy: bool,
    /// The last background failure (reported by the next insert).
    failed: Option<String>,
}

/// See the module docs.
#[derive(Debug)]
pub(super) struct Postings {
    dir: PathBuf,
    name: &'static str,
    state: Mutex<State>,
    idle: Condvar,
}

fn lock<'a>(m: &'a Mutex<State>) -> Result<std::sync::MutexGuard<'a, State>, StoreError> {
    m.lock().map_err(|_| super::poisoned())
}

impl Postings {
    /// Opens the runs of `name` in `dir` and keeps those forming a chain from leaf 0 that
    /// ends at or before `size`. Returns the index and the first leaf whose postings must be
    /// re-inserted (from `index.dat`/`keys.dat`).
    pub(super) fn open(
        dir: &Path,
        name: &'static str,
        size: u64,
    ) -> Result<(Postings, u64), StoreError> {
        let mut found: Vec<(u64, u64, PathBuf)> = Vec::new();
        let prefix = format!("{name}-");
        for e in std::fs::read_dir(dir).map_err(io("listing", dir))? {
            let e = e.map_err(io("listing", dir))?;
            let file_name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = file_name.strip_prefix(&prefix) else {
                continue;
            };
            if rest.ends_with(".tmp") {
                remove(&e.path())?;
                continue;
            }
            let Some(range) = rest.strip_suffix(".run") else {
                continue;
            };
            let parsed = range
                .split_once('-')
                .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
            if let Some((from, to)) = parsed {
                found.push((from, to, e.path()));
            }
        }
        // The longest chain 0..covered; everything else is an interrupted merge's input,
        // or past a torn tail.
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut runs = Vec::new();
        let mut covered = 0u64;
        for (from, to, path) in found {
            if from == covered && to > from && to <= size {
                match load_run(&path, from, to)? {
                    Some(r) => {
                        runs.push(Arc::new(r));
                        covered = to;
                        continue;
                    }
                    None => tracing::warn!("ignoring damaged index run `{}`", path.display()),
                }
            }
            remove(&path)?;
        }
        let p = Postings {
            dir: dir.to_owned(),
            name,
            state: Mutex::new(State {
                active: Table::new(covered),
                runs,
                ..State::default()
            }),
            idle: Condvar::new(),
        };
        Ok((p, covered))
    }

    /// Adds the postings of leaves up to `to` (exclusive), in leaf order. When the
    /// in-memory table is full it is handed to a background writer, or with
    /// [`Flush::Inline`] written before this returns (recovery).
    pub(super) fn insert(
        self: &Arc<Self>,
        pairs: impl IntoIterator<Item = (u64, u64)>,
        to: u64,
        flush: Flush,
    ) -> Result<(), StoreError> {
        let mut st = lock(&self.state)?;
        if let Some(e) = st.failed.take() {
            return Err(StoreError::Corrupt(format!(
                "writing the index failed: {e}"
            )));
        }
        for (k, i) in pairs {
            st.active.insert(k, i);
        }
        st.active.to = st.active.to.max(to);
        if st.active.pairs < MEM_LIMIT {
            return Ok(());
        }
        // Wait for the previous flush or merge (rare: a table takes seconds to fill).
        while st.busy {
            st = self.idle.wait(st).map_err(|_| super::poisoned())?;
        }
        let table = Arc::new(std::mem::replace(&mut st.active, Table::new(to)));
        st.frozen = Some(table.clone());
        st.busy = true;
        drop(st);
        match flush {
            Flush::Inline => self.write_out(&table),
            Flush::Background => {
                let me = self.clone();
                std::thread::Builder::new()
                    .name("tlog-index".into())
                    .spawn(move || {
                        if let Err(e) = me.write_out(&table) {
                            tracing::error!("writing the log index failed: {e}");
                        }
                    })
                    .map(|_| ())
                    .map_err(|e| StoreError::Io {
                        op: "starting the index writer for",
                        path: self.dir.clone(),
                        source: e,
                    })
            }
        }
    }

    /// Writes `table` as a run, then merges runs of similar size; marks the index idle
    /// again whatever happens (a failure is kept for the next insert to report).
    fn write_out(&self, table: &Table) -> Result<(), StoreError> {
        let result = self.write_out_inner(table);
        if let Ok(mut st) = self.state.lock() {
            st.busy = false;
            if let Err(e) = &result {
                st.failed = Some(e.to_string());
            }
        }
        self.idle.notify_all();
        result
    }

    fn write_out_inner(&self, table: &Table) -> Result<(), StoreError> {
        let pairs = table.sorted();
        let run = self.write_run(table.from, table.to, pairs.into_iter().map(Ok))?;
        {
            let mut st = lock(&self.state)?;
            st.runs.push(Arc::new(run));
            st.frozen = None;
        }
        loop {
            let pair = {
                let st = lock(&self.state)?;
                let n = st.runs.len();
                if n >= 2 && st.runs[n - 2].count <= 2 * st.runs[n - 1].count {
                    Some((st.runs[n - 2].clone(), st.runs[n - 1].clone()))
                } else {
                    None
                }
            };
            let Some((a, b)) = pair else { break };
            let merged = self.write_run(a.from, b.to, MergeIter::new(&a, &b)?)?;
            {
                let mut st = lock(&self.state)?;
                let n = st.runs.len();
                st.runs.truncate(n - 2);
                st.runs.push(Arc::new(merged));
            }
            // Lookups still holding `a` or `b` read them through their open descriptors.
            remove(&a.path)?;
            remove(&b.path)?;
        }
        Ok(())
    }

    fn write_run(
        &self,
        from: u64,
        to: u64,
        pairs: impl Iterator<Item = Result<(u64, u64), StoreError>>,
    ) -> Result<Run, StoreError> {
        let path = self.dir.join(format!("{}-{from}-{to}.run", self.name));
        let tmp = self.dir.join(format!("{}-{from}-{to}.run.tmp", self.name));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io("creating", &tmp))?;
        let mut w = BufWriter::with_capacity(1 << 20, &file);
        let mut fences = Vec::new();
        let mut count = 0u64;
        for p in pairs {
            let (k, i) = p?;
            if count % BLOCK == 0 {
                fences.push(k);
            }
            w.write_all(&k.to_le_bytes())
                .and_then(|_| w.write_all(&i.to_le_bytes()))
                .map_err(io("writing", &tmp))?;
            count += 1;
        }
        for f in &fences {
            w.write_all(&f.to_le_bytes()).map_err(io("writing", &tmp))?;
        }
        w.write_all(&footer(from, to, count, fences.len() as u64))
            .and_then(|_| w.flush())
            .map_err(io("writing", &tmp))?;
        drop(w);
        file.sync_data().map_err(io("syncing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("renaming", &path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing", &self.dir))?;
        Ok(Run {
            path,
            file,
            from,
            to,
            count,
            fences,
        })
    }

    /// Leaf indices stored under `key`, ascending.
    pub(super) fn get(&self, key: u64) -> Result<Vec<u64>, StoreError> {
        let (runs, mut out) = {
            let st = lock(&self.state)?;
            let mut out = Vec::new();
            // The tables hold the newest leaves: look there under the lock, runs outside it.
            if let Some(f) = &st.frozen {
                f.get(key, &mut out);
            }
            st.active.get(key, &mut out);
            (st.runs.clone(), out)
        };
        if runs.is_empty() {
            return Ok(out);
        }
        let mut older = Vec::new();
        for r in &runs {
            r.get(key, &mut older)?;
        }
        older.append(&mut out);
        Ok(older)
    }

    /// The leaf ranges of the runs (tests).
    #[cfg(test)]
    pub(super) fn run_ranges(&self) -> Vec<(u64, u64)> {
        self.state
            .lock()
            .map(|s| s.runs.iter().map(|r| (r.from, r.to)).collect())
            .unwrap_or_default()
    }

    /// Waits for a background flush or merge to finish.
    pub(super) fn wait_idle(&self) -> Result<(), StoreError> {
        let mut st = lock(&self.state)?;
        while st.busy {
            st = self.idle.wait(st).map_err(|_| super::poisoned())?;
        }
        Ok(())
    }
}

/// How [`Postings::insert`] writes a full table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flush {
    Background,
    Inline,
}

fn remove(p: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Io {
            op: "removing",
            path: p.to_owned(),
            source: e,
        }),
    }
}

fn footer(from: u64, to: u64, count: u64, nfences: u64) -> [u8; FOOTER as usize] {
    let mut b = [0u8; FOOTER as usize];
    b[0..8].copy_from_slice(MAGIC);
    b[8..16].copy_from_slice(&from.to_le_bytes());
    b[16..24].copy_from_slice(&to.to_le_bytes());
    b[24..32].copy_from_slice(&count.to_le_bytes());
    b[32..40].copy_from_slice(&nfences.to_le_bytes());
    let crc = crc32fast::hash(&b[0..40]);
    b[40..44].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Opens a run, checking its footer against its name and length; `None` if it is damaged.
fn load_run(path: &Path, from: u64, to: u64) -> Result<Option<Run>, StoreError> {
    let file = File::open(path).map_err(io("opening", path))?;
    let len = file
        .metadata()
        .map_err(io("reading metadata of", path))?
        .len();
    if len < FOOTER {
        return Ok(None);
    }
    let mut f = [0u8; FOOTER as usize];
    file.read_exact_at(&mut f, len - FOOTER)
        .map_err(io("reading", path))?;
    let (_, count) = split(&f[16..32]);
    let (nfences, _) = split(&f[32..48]);
    if f != footer(from, to, count, nfences)
        || nfences != count.div_ceil(BLOCK)
        || count
            .checked_mul(PAIR)
            .and_then(|c| c.checked_add(8 * nfences + FOOTER))
            != Some(len)
    {
        return Ok(None);
    }
    let mut raw = vec![0u8; (8 * nfences) as usize];
    file.read_exact_at(&mut raw, count * PAIR)
        .map_err(io("reading", path))?;
    let fences = raw
        .chunks_exact(8)
        .map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            u64::from_le_bytes(a)
        })
        .collect();
    Ok(Some(Run {
        path: path.to_owned(),
        file,
        from,
        to,
        count,
        fences,
    }))
}

/// Two runs merged in (key, index) order, read sequentially.
struct MergeIter<'a> {
    a: PairReader<'a>,
    b: PairReader<'a>,
    next_a: Option<(u64, u64)>,
    next_b: Option<(u64, u64)>,
}

impl<'a> MergeIter<'a> {
    fn new(a: &'a Run, b: &'a Run) -> Result<MergeIter<'a>, StoreError> {
        let mut a = PairReader::new(a)?;
        let mut b = PairReader::new(b)?;
        Ok(MergeIter {
            next_a: a.next_pair()?,
            next_b: b.next_pair()?,
            a,
            b,
        })
    }
}

impl Iterator for MergeIter<'_> {
    type Item = Result<(u64, u64), StoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        let take_a = match (self.next_a, self.next_b) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(x), Some(y)) => x <= y,
        };
        let (cur, reader, slot) = if take_a {
            (self.next_a, &mut self.a, &mut self.next_a)
        } else {
            (self.next_b, &mut self.b, &mut self.next_b)
        };
        match reader.next_pair() {
            Ok(n) => *slot = n,
            Err(e) => return Some(Err(e)),
        }
        cur.map(Ok)
    }
}

struct PairReader<'a> {
    run: &'a Run,
    reader: BufReader<File>,
    left: u64,
}

impl<'a> PairReader<'a> {
    /// Reads through a descriptor of its own: the run's is shared by positioned reads.
    fn new(run: &'a Run) -> Result<PairReader<'a>, StoreError> {
        let f = run.file.try_clone().map_err(io("opening", &run.path))?;
        let mut reader = BufReader::with_capacity(1 << 20, f);
        std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(0))
            .map_err(io("reading", &run.path))?;
        Ok(PairReader {
            run,
            reader,
            left: run.count,
        })
    }

    fn next_pair(&mut self) -> Result<Option<(u64, u64)>, StoreError> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut b = [0u8; PAIR as usize];
        self.reader
            .read_exact(&mut b)
            .map_err(io("reading", &self.run.path))?;
        self.left -= 1;
        Ok(Some(split(&b)))
    }
}
