//! The log service behind the HTTP API: the log key, the sequencer and signed tree heads.
//!
//! One sequencer thread owns appends. Requests validated by the API are queued to it; it
//! drains the queue into a batch (group commit), drops duplicates, appends the batch durably,
//! signs one checkpoint for the new tree size and only then answers every request of the
//! batch. The API then builds each response (SET, inclusion proof) on its own task, so the
//! per-entry signing runs in parallel with the next batch's fsync.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::rand::SecureRandom as _;
use serde::{Deserialize, Serialize};
use sigil_core::checkpoint::{Checkpoint, NoteSigner};
use sigil_core::keys::{PrivateKey, PublicKey};
use sigil_core::merkle::{self, Hash};
use sigil_core::rekor::{self, InclusionProof, LogEntry, Verification};
use tokio::sync::{mpsc, oneshot};

use crate::store::{
    FileStore, HeadNodes, LeafInfo, LogStorage, NewLeaf, Nodes, StoreError, MAX_BATCH,
};
use crate::Error;

/// The log key's algorithm, chosen when the log is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogKeyAlgorithm {
    /// ECDSA P-256, what public Rekor v1 uses.
    #[default]
    EcdsaP256,
    Ed25519,
}

/// Settings of a log.
///
/// # Defaults
/// - origin `sigil-tlog` (the checkpoint origin line is `<origin> - <treeID>`, as Rekor v1
///   writes it, and the signature line names `<origin>`);
/// - entries up to 128 KiB (public Rekor's attestation cap), for the request and the body;
/// - an ECDSA P-256 log key.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `None`: keep the origin stored in the data directory (or the default for a new log).
    pub origin: Option<String>,
    pub max_entry_size: usize,
    pub key_algorithm: LogKeyAlgorithm,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            origin: None,
            max_entry_size: rekor::DEFAULT_MAX_ENTRY_SIZE,
            key_algorithm: LogKeyAlgorithm::EcdsaP256,
        }
    }
}

const DEFAULT_ORIGIN: &str = "sigil-tlog";

/// The shortest time between the starts of two batches (group commits) while appends
/// arrive concurrently. Each batch costs a checkpoint signature, three `fdatasync`s and the
/// wake-ups of the threads that run them, whatever its size; committing the moment anything
/// was queued made batches of one or two entries under load (~5,000 batches/s at 7,500
/// appends/s, `bench/soak/tlog.sh`), so that fixed cost was paid per append. See
/// [`batch_wait`] for when the sequencer waits.
const BATCH_INTERVAL: Duration = Duration::from_millis(2);

/// A signed tree head.
#[derive(Debug, Clone)]
pub struct SignedHead {
    pub size: u64,
    pub root: Hash,
    /// The signed checkpoint note.
    pub note: String,
    /// The tree's right edge at `size` (see [`HeadNodes`]).
    pub(crate) edge: Vec<(u64, Hash)>,
}

impl SignedHead {
    /// The store as seen at this head, with the right edge cached.
    pub(crate) fn nodes<'a>(&'a self, store: &'a dyn LogStorage) -> HeadNodes<'a> {
        HeadNodes {
            store,
            size: self.size,
            edge: &self.edge,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    #[serde(rename = "treeID")]
    tree_id: u64,
    origin: String,
}

/// Why an append was not done.
#[derive(Debug)]
pub(crate) enum AppendError {
    Duplicate(u64),
    Failed(String),
}

/// An acknowledged append, with what the response needs (so it reads nothing back).
#[derive(Debug)]
pub(crate) struct Appended {
    pub head: Arc<SignedHead>,
    pub info: LeafInfo,
    /// The leaf data (the canonical body).
    pub data: Vec<u8>,
}

struct Submission {
    leaf: NewLeaf,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Submission({} bytes)", self.leaf.data.len())
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub store: Arc<dyn LogStorage>,
    pub key: PrivateKey,
    pub public: PublicKey,
    pub log_id: Hash,
    pub tree_id: u64,
    pub origin: String,
    pub max_entry_size: usize,
    head: RwLock<Arc<SignedHead>>,
}

/// A transparency log: its store, key and sequencer. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Log {
    pub(crate) shared: Arc<Shared>,
    tx: mpsc::Sender<Submission>,
    data_dir: PathBuf,
}

impl Log {
    /// Opens the log in `data_dir`, creating its key and tree ID on first start.
    pub fn open(data_dir: &Path, config: LogConfig) -> Result<Log, Error> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::Io {
            what: format!("creating data directory `{}`", data_dir.display()),
            source: e,
        })?;
        let key = load_or_create_key(data_dir, config.key_algorithm)?;
        let meta = load_or_create_meta(data_dir, config.origin.as_deref())?;
        let store = FileStore::open(&data_dir.join("tree"))?;
        Log::with_store(
            data_dir,
            Arc::new(store),
            key,
            meta.tree_id,
            meta.origin,
            config,
        )
    }

    fn with_store(
        data_dir: &Path,
        store: Arc<dyn LogStorage>,
        key: PrivateKey,
        tree_id: u64,
        origin: String,
        config: LogConfig,
    ) -> Result<Log, Error> {
        let public = key.public_key().clone();
        let log_id = rekor::log_id(&public);
        let placeholder = Arc::new(SignedHead {
            size: 0,
            root: merkle::empty_root(),
            note: String::new(),
            edge: Vec::new(),
        });
        let shared = Arc::new(Shared {
            store,
            key,
            public,
            log_id,
            tree_id,
            origin,
            max_entry_size: config.max_entry_size,
            head: RwLock::new(placeholder),
        });
        let head = shared.sign_head()?;
        shared.set_head(head);
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let seq = shared.clone();
        std::thread::Builder::new()
            .name("tlog-sequencer".into())
            .spawn(move || sequencer(seq, rx))
            .map_err(|e| Error::Io {
                what: "starting the sequencer thread".into(),
                source: e,
            })?;
        Ok(Log {
            shared,
            tx,
            data_dir: data_dir.to_owned(),
        })
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.shared.public
    }

    /// SHA-256 of the log key's PKIX DER.
    pub fn log_id(&self) -> Hash {
        self.shared.log_id
    }

    pub fn tree_id(&self) -> u64 {
        self.shared.tree_id
    }

    /// The key name on checkpoint signatures (and the first part of the origin line).
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The storage, for tools and the CT log's reuse.
    pub fn store(&self) -> &Arc<dyn LogStorage> {
        &self.shared.store
    }

    /// The latest signed tree head.
    pub fn head(&self) -> Arc<SignedHead> {
        self.shared.head()
    }

    /// Queues a validated leaf and waits until it is durable and covered by a signed head.
    pub(crate) async fn submit(&self, leaf: NewLeaf) -> Result<Appended, AppendError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Submission { leaf, reply })
            .await
            .map_err(|_| AppendError::Failed("the sequencer has stopped".into()))?;
        rx.await
            .map_err(|_| AppendError::Failed("the sequencer dropped the request".into()))?
    }
}

impl Shared {
    pub(crate) fn head(&self) -> Arc<SignedHead> {
        match self.head.read() {
            Ok(h) => h.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_head(&self, head: SignedHead) {
        let head = Arc::new(head);
        match self.head.write() {
            Ok(mut h) => *h = head,
            Err(p) => *p.into_inner() = head,
        }
    }

    fn sign_head(&self) -> Result<SignedHead, Error> {
        let size = self.store.size();
        let edge = merkle::right_edge(&Nodes(self.store.as_ref()), size)?;
        let root = edge.first().map_or_else(merkle::empty_root, |(_, h)| *h);
        let cp = Checkpoint::new(format!("{} - {}", self.origin, self.tree_id), size, root);
        let note = cp
            .sign(&NoteSigner::rekor(self.origin.clone(), &self.key))
            .map_err(|e| Error::Key(e.to_string()))?;
        Ok(SignedHead {
            size,
            root,
            note,
            edge,
        })
    }

    /// The API shape of entry `index`, with a SET and an inclusion proof against `head`.
    pub(crate) fn entry(&self, index: u64, head: &SignedHead) -> Result<(String, LogEntry), Error> {
        let info = self.store.leaf_info(index)?;
        let body = self.store.leaf_data(index)?;
        self.entry_from(&info, &body, head)
    }

    /// [`Shared::entry`] for a leaf whose data and info are at hand (a fresh append).
    pub(crate) fn entry_from(
        &self,
        info: &LeafInfo,
        body: &[u8],
        head: &SignedHead,
    ) -> Result<(String, LogEntry), Error> {
        let index = info.index;
        let mut entry = LogEntry {
            attestation: None,
            body: B64.encode(body),
            integrated_time: info.integrated_time,
            log_id: hex::encode(self.log_id),
            log_index: i64::try_from(index).map_err(|_| Error::Key("index overflow".into()))?,
            verification: None,
        };
        let set = rekor::sign_set(&entry, &self.key).map_err(|e| Error::Key(e.to_string()))?;
        let hashes = merkle::inclusion_proof(&head.nodes(self.store.as_ref()), index, head.size)?;
        entry.verification = Some(Verification {
            inclusion_proof: Some(InclusionProof {
                checkpoint: head.note.clone(),
                hashes: hashes.iter().map(hex::encode).collect(),
                log_index: entry.log_index,
                root_hash: hex::encode(head.root),
                tree_size: i64::try_from(head.size)
                    .map_err(|_| Error::Key("size overflow".into()))?,
            }),
            signed_entry_timestamp: Some(B64.encode(set)),
        });
        Ok((rekor::entry_uuid(self.tree_id, &info.leaf_hash), entry))
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// How long the sequencer waits, with a request in hand, before taking the next batch:
/// until [`BATCH_INTERVAL`] after the previous batch started if that batch held more than
/// one request (others are arriving meanwhile and will share the commit); otherwise not at
/// all, so a lone client's appends, one after another, never wait.
fn batch_wait(previous: Option<(Instant, usize)>, now: Instant) -> Duration {
    match previous {
        Some((started, len)) if len > 1 => {
            (started + BATCH_INTERVAL).saturating_duration_since(now)
        }
        _ => Duration::ZERO,
    }
}

fn sequencer(shared: Arc<Shared>, mut rx: mpsc::Receiver<Submission>) {
    let mut previous: Option<(Instant, usize)> = None;
    while let Some(first) = rx.blocking_recv() {
        let wait = batch_wait(previous, Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        let started = Instant::now();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(s) => batch.push(s),
                Err(_) => break,
            }
        }
        previous = Some((started, batch.len()));
        // Duplicates: against the log, and within the batch.
        let mut accepted: Vec<Submission> = Vec::with_capacity(batch.len());
        let mut hashes: Vec<Hash> = Vec::with_capacity(batch.len());
        let mut in_batch: HashMap<Hash, usize> = HashMap::new();
        let mut dups: Vec<(Submission, Option<usize>)> = Vec::new();
        for s in batch {
            let h = merkle::leaf_hash(&s.leaf.data);
            match shared.store.find_leaf(&h) {
                Ok(Some(i)) => {
                    let _ = s.reply.send(Err(AppendError::Duplicate(i)));
                }
                Err(e) => {
                    let _ = s.reply.send(Err(AppendError::Failed(e.to_string())));
                }
                Ok(None) => {
                    if let Some(pos) = in_batch.get(&h) {
                        dups.push((s, Some(*pos)));
                    } else {
                        in_batch.insert(h, accepted.len());
                        accepted.push(s);
                        hashes.push(h);
                    }
                }
            }
        }
        if accepted.is_empty() {
            continue;
        }
        // The leaves move to the store and back into the answers: no copy of the bodies.
        let (leaves, replies): (Vec<NewLeaf>, Vec<_>) =
            accepted.into_iter().map(|s| (s.leaf, s.reply)).unzip();
        let time = now();
        let result = shared
            .store
            .append(&leaves, time)
            .map_err(|e: StoreError| e.to_string())
            .and_then(|first| {
                let head = shared.sign_head().map_err(|e| e.to_string())?;
                Ok((first, head))
            });
        match result {
            Ok((first, head)) => {
                shared.set_head(head);
                let head = shared.head();
                for (s, pos) in dups {
                    let i = first + pos.unwrap_or(0) as u64;
                    let _ = s.reply.send(Err(AppendError::Duplicate(i)));
                }
                for (k, ((leaf, reply), leaf_hash)) in
                    leaves.into_iter().zip(replies).zip(hashes).enumerate()
                {
                    let _ = reply.send(Ok(Appended {
                        head: head.clone(),
                        info: LeafInfo {
                            index: first + k as u64,
                            integrated_time: time,
                            leaf_hash,
                        },
                        data: leaf.data,
                    }));
                }
            }
            Err(e) => {
                tracing::error!("appending a batch failed: {e}");
                for r in replies
                    .into_iter()
                    .chain(dups.into_iter().map(|(s, _)| s.reply))
                {
                    let _ = r.send(Err(AppendError::Failed(e.clone())));
                }
            }
        }
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    let io = |e| Error::Io {
        what: format!("writing `{}`", path.display()),
        source: e,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

fn load_or_create_key(dir: &Path, alg: LogKeyAlgorithm) -> Result<PrivateKey, Error> {
    let path = dir.join("log-key.pk8");
    match std::fs::read(&path) {
        Ok(der) => PrivateKey::from_pkcs8_der(&der)
            .map_err(|e| Error::Key(format!("log key `{}` is unreadable: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let rng = ring::rand::SystemRandom::new();
            let der = match alg {
                LogKeyAlgorithm::EcdsaP256 => ring::signature::EcdsaKeyPair::generate_pkcs8(
                    &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &rng,
                )
                .map(|d| d.as_ref().to_vec()),
                LogKeyAlgorithm::Ed25519 => ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
                    .map(|d| d.as_ref().to_vec()),
            }
            .map_err(|_| Error::Key("generating the log key failed".into()))?;
            write_private(&path, &der)?;
            PrivateKey::from_pkcs8_der(&der).map_err(|e| Error::Key(e.to_string()))
        }
        Err(e) => Err(Error::Io {
            what: format!("reading `{}`", path.display()),
            source: e,
        }),
    }
}

fn load_or_create_meta(dir: &Path, origin: Option<&str>) -> Result<Meta, Error> {
    let path = dir.join("log.json");
    if let Some(o) = origin {
        if o.is_empty() || o.contains(char::is_whitespace) || o.contains('+') {
            return Err(Error::Config(format!(
                "origin `{o}` must be non-empty without spaces or `+` (it names the checkpoint key)"
            )));
        }
    }
    match std::fs::read(&path) {
        Ok(bytes) => {
            let meta: Meta = serde_json::from_slice(&bytes)
                .map_err(|e| Error::Config(format!("`{}` is not valid: {e}", path.display())))?;
            if let Some(o) = origin {
                if o != meta.origin {
                    return Err(Error::Config(format!(
                        "this log was created with origin `{}`; a log's origin cannot change (got `{o}`)",
                        meta.origin
                    )));
                }
            }
            Ok(meta)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = [0u8; 8];
            ring::rand::SystemRandom::new()
                .fill(&mut b)
                .map_err(|_| Error::Key("random generator failed".into()))?;
            // Rekor tree IDs are positive int64s.
            let tree_id = (u64::from_le_bytes(b) >> 1).max(1);
            let meta = Meta {
                tree_id,
                origin: origin.unwrap_or(DEFAULT_ORIGIN).to_owned(),
            };
            let json =
                serde_json::to_vec_pretty(&meta).map_err(|e| Error::Config(e.to_string()))?;
            write_private(&path, &json)?;
            Ok(meta)
        }
        Err(e) => Err(Error::Io {
            what: format!("reading `{}`", path.display()),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_client_never_waits_for_a_batch() {
        let now = Instant::now();
        assert_eq!(batch_wait(None, now), Duration::ZERO);
        assert_eq!(batch_wait(Some((now, 1)), now), Duration::ZERO);
    }

    #[test]
    fn concurrent_appends_share_a_batch_started_at_most_every_interval() {
        let started = Instant::now();
        assert_eq!(batch_wait(Some((started, 2)), started), BATCH_INTERVAL);
        let later = started + BATCH_INTERVAL / 4;
        assert_eq!(
            batch_wait(Some((started, 64)), later),
            BATCH_INTERVAL * 3 / 4
        );
        // A batch that took longer than the interval (a slow disk) is followed at once.
        assert_eq!(
            batch_wait(Some((started, 64)), started + BATCH_INTERVAL * 2),
            Duration::ZERO
        );
    }
}
