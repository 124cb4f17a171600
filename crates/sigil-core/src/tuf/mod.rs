//! A TUF client's verification (The Update Framework specification 1.0, §5 "Detailed client
//! workflow"), as Sigstore clients use it to refresh their trusted root: cosign `initialize`,
//! sigstore-python `_internal/tuf.py` and sigstore-go `pkg/tuf` all run python-tuf's or
//! go-tuf's updater against `https://tuf-repo-cdn.sigstore.dev`.
//!
//! [`Update`] is sans-I/O: it says which file to fetch next ([`Update::request`]), checks what
//! the caller fetched ([`Update::receive`]) and at the end hands back the verified metadata to
//! cache and the verified target files ([`Update::finish`]). The caller does the HTTP, with the
//! per-file size limit each [`Request`] carries, and the caching.
//!
//! The workflow: from the trusted root (the cached one, else the bootstrap root), fetch
//! `N+1.root.json` until the mirror has none, each new root signed by a threshold of both the
//! previous root's and its own root keys and exactly one version newer; the final root must
//! not be expired. Then `timestamp.json` → snapshot → targets, each signed by a threshold of
//! its role's keys, not expired, at the version the referencing file names and (when it
//! gives them) with its length and hashes; timestamp and snapshot may not roll back below
//! the versions of the cached copies. Last, each wanted target is fetched and checked
//! against its length and every listed hash (sha256, sha512). Consistent snapshots
//! (`<version>.<role>.json`, `targets/<hash>.<name>`) are followed when the root says so.
//! Signatures cover securesystemslib's OLPC canonical JSON of `signed` ([`canonical`]).
//!
//! # Defaults
//! - Size limits per file are python-tuf's `UpdaterConfig` defaults: root 512 000 bytes,
//!   timestamp 16 384, snapshot 2 000 000 and targets 5 000 000 unless the referencing file
//!   gives a length; a target's limit is its listed length. At most 256 root rotations per
//!   update.
//! - Keys: `ecdsa`/`ecdsa-sha2-nistp256` (PEM SubjectPublicKeyInfo, scheme
//!   `ecdsa-sha2-nistp256`) and `ed25519` (hex). A signature by any other key type counts for
//!   nothing towards a threshold, as python-tuf treats keys it cannot use.
//! - Key ids are taken as the root lists them, not recomputed (python-tuf and go-tuf do the
//!   same since the spec allows other key id schemes).
//! - Delegations are not followed. Sigstore's repositories list `trusted_root.json` and
//!   `signing_config.v0.2.json` in the top-level targets; a target that could only be reached
//!   through a delegated role is refused with [`TufError::Delegated`].
//!
//! # Why hand-written
//! The maintained Rust TUF client, `tough`, builds aws-lc-sys (a large C and assembly build)
//! for its crypto, which costs minutes on the 2-core CI; `rust-tuf` is unmaintained. The
//! client side of the spec that Sigstore needs is small, and this module verifies with the
//! `ring`-backed keys sigil already uses.

mod canonical;
mod metadata;

use std::fmt;

use time::OffsetDateTime;

use metadata::{Root, Signed, Snapshot, Targets, Timestamp};

pub use canonical::{encode as canonical_json, NotCanonical};

/// python-tuf's `UpdaterConfig.root_max_length`.
pub const ROOT_MAX_LENGTH: u64 = 512_000;
/// python-tuf's `UpdaterConfig.timestamp_max_length`.
pub const TIMESTAMP_MAX_LENGTH: u64 = 16_384;
/// python-tuf's `UpdaterConfig.snapshot_max_length`, used when timestamp gives no length.
pub const SNAPSHOT_MAX_LENGTH: u64 = 2_000_000;
/// python-tuf's `UpdaterConfig.targets_max_length`, used when snapshot gives no length.
pub const TARGETS_MAX_LENGTH: u64 = 5_000_000;
/// python-tuf's `UpdaterConfig.max_root_rotations`.
pub const MAX_ROOT_ROTATIONS: u64 = 256;

/// A top-level TUF role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Root,
    Timestamp,
    Snapshot,
    Targets,
}

impl Role {
    const ALL: [Role; 4] = [Role::Root, Role::Timestamp, Role::Snapshot, Role::Targets];

    /// The role's name, as in `_type` and the root's `roles`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Timestamp => "timestamp",
            Role::Snapshot => "snapshot",
            Role::Targets => "targets",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an update failed. Each names the check and the file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TufError {
    #[error("malformed {role} metadata: {reason}")]
    Malformed { role: Role, reason: String },
    #[error("metadata type mismatch: expected `{expected}`, got `{got}`")]
    WrongType { expected: Role, got: String },
    #[error("unsupported TUF spec version `{got}` in {role} metadata (sigil speaks 1.x)")]
    SpecVersion { role: Role, got: String },
    #[error(
        "{role} metadata: signature threshold not met: {valid} valid signature(s) of {threshold} required"
    )]
    Threshold {
        role: Role,
        valid: usize,
        threshold: u64,
    },
    #[error(
        "root version mismatch: expected version {expected} (one more than the trusted root), got {got}"
    )]
    RootVersion { expected: u64, got: u64 },
    #[error("rollback of `{file}`: version {got} is older than the trusted version {trusted}")]
    Rollback {
        file: String,
        trusted: u64,
        got: u64,
    },
    #[error(
        "version mismatch for `{file}`: {referrer} metadata names version {expected}, got {got}"
    )]
    VersionMismatch {
        file: String,
        referrer: Role,
        expected: u64,
        got: u64,
    },
    #[error("{role} metadata expired at {expires}")]
    Expired { role: Role, expires: String },
    #[error("length mismatch for `{file}`: expected {expected} bytes, got {got}")]
    Length {
        file: String,
        expected: u64,
        got: u64,
    },
    #[error("{algorithm} hash mismatch for `{file}`")]
    Hash { file: String, algorithm: String },
    #[error("`{file}` lists no hashes")]
    NoHashes { file: String },
    #[error("unsupported hash algorithm `{algorithm}` for `{file}`")]
    UnsupportedHash { file: String, algorithm: String },
    #[error("`{file}` is larger than the {limit}-byte limit")]
    TooLarge { file: String, limit: u64 },
    #[error("`{file}` not found on the mirror")]
    NotFound { file: String },
    #[error("snapshot metadata does not list `{file}`")]
    NotInSnapshot { file: String },
    #[error("target `{name}` is not in the targets metadata")]
    TargetNotFound { name: String },
    #[error(
        "target `{name}` is not in the top-level targets metadata, and sigil does not follow \
         delegations (sigstore's repositories list their targets at the top level)"
    )]
    Delegated { name: String },
    #[error("the update has not finished: `{file}` is still to be fetched")]
    Incomplete { file: String },
}

/// Whether a wanted target must exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Required,
    /// Fetched when listed, skipped silently when not (e.g. `signing_config.v0.2.json`,
    /// which older repositories do not have).
    Optional,
}

/// Metadata cached by an earlier update, as stored (any of them may be missing or stale:
/// a file that does not verify against the current root is ignored).
#[derive(Clone, Debug, Default)]
pub struct Cached {
    pub root: Option<Vec<u8>>,
    pub timestamp: Option<Vec<u8>>,
    pub snapshot: Option<Vec<u8>>,
    pub targets: Option<Vec<u8>>,
}

/// The next file to fetch, relative to the mirror's base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// e.g. `3.root.json`, `timestamp.json`, `targets/<sha256>.trusted_root.json`.
    pub path: String,
    /// Refuse (and stop reading) a body longer than this.
    pub max_length: u64,
}

/// A target file that matched its length and hashes.
#[derive(Clone)]
pub struct VerifiedTarget {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The outcome of an update: the verified metadata (to cache for the next update's rollback
/// checks) and the verified targets.
#[derive(Clone)]
pub struct Updated {
    pub root: Vec<u8>,
    pub root_version: u64,
    pub timestamp: Vec<u8>,
    pub snapshot: Vec<u8>,
    pub targets: Vec<u8>,
    pub files: Vec<VerifiedTarget>,
}

impl fmt::Debug for VerifiedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VerifiedTarget({:?}, {} bytes)",
            self.name,
            self.bytes.len()
        )
    }
}

impl fmt::Debug for Updated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Updated")
            .field("root_version", &self.root_version)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

enum Step {
    Root { next: u64, rotations: u64 },
    Timestamp,
    Snapshot,
    Targets,
    Files { index: usize },
    Done,
}

/// One run of the client workflow; see the module docs.
pub struct Update {
    now: OffsetDateTime,
    root: Signed<Root>,
    timestamp: Option<Signed<Timestamp>>,
    snapshot: Option<Signed<Snapshot>>,
    targets: Option<Signed<Targets>>,
    cached: Cached,
    wanted: Vec<(String, Need)>,
    files: Vec<(String, metadata::TargetFile)>,
    verified: Vec<VerifiedTarget>,
    step: Step,
}

impl fmt::Debug for Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Update")
            .field("root_version", &self.root.meta.header.version)
            .field("next", &self.request().map(|r| r.path))
            .finish_non_exhaustive()
    }
}

impl Update {
    /// Starts from the cached root when it verifies and is at least as new as `bootstrap_root`
    /// (the embedded or `--root` one), else from `bootstrap_root`. Either must be signed by
    /// a threshold of its own root keys; its expiry is checked only after the root chain has
    /// been walked (spec §5.3.10), so an old bootstrap root still works.
    pub fn new(
        bootstrap_root: &[u8],
        cached: Cached,
        wanted: &[(&str, Need)],
        now: OffsetDateTime,
    ) -> Result<Update, TufError> {
        let bootstrap = trusted_root(bootstrap_root)?;
        let root = match cached.root.as_deref().map(trusted_root) {
            Some(Ok(c)) if c.meta.header.version >= bootstrap.meta.header.version => c,
            _ => bootstrap,
        };
        let next = root.meta.header.version + 1;
        Ok(Update {
            now,
            root,
            timestamp: None,
            snapshot: None,
            targets: None,
            cached,
            wanted: wanted.iter().map(|(n, k)| ((*n).to_owned(), *k)).collect(),
            files: Vec::new(),
            verified: Vec::new(),
            step: Step::Root { next, rotations: 0 },
        })
    }

    /// The file to fetch next, or `None` when the update is complete.
    pub fn request(&self) -> Option<Request> {
        let consistent = self.root.meta.consistent_snapshot;
        match &self.step {
            Step::Root { next, .. } => Some(Request {
                path: format!("{next}.root.json"),
                max_length: ROOT_MAX_LENGTH,
            }),
            Step::Timestamp => Some(Request {
                path: "timestamp.json".to_owned(),
                max_length: TIMESTAMP_MAX_LENGTH,
            }),
            Step::Snapshot => {
                let meta = &self.timestamp.as_ref()?.meta.snapshot;
                Some(Request {
                    path: metadata_path(consistent, meta.version, Role::Snapshot),
                    max_length: meta.length.unwrap_or(SNAPSHOT_MAX_LENGTH),
                })
            }
            Step::Targets => {
                let meta = self.snapshot.as_ref()?.meta.meta.get("targets.json")?;
                Some(Request {
                    path: metadata_path(consistent, meta.version, Role::Targets),
                    max_length: meta.length.unwrap_or(TARGETS_MAX_LENGTH),
                })
            }
            Step::Files { index } => {
                let (name, file) = self.files.get(*index)?;
                let path = match (consistent, file.path_hash()) {
                    (true, Some(hash)) => match name.rsplit_once('/') {
                        Some((dir, base)) => format!("targets/{dir}/{hash}.{base}"),
                        None => format!("targets/{hash}.{name}"),
                    },
                    _ => format!("targets/{name}"),
                };
                Some(Request {
                    path,
                    max_length: file.length,
                })
            }
            Step::Done => None,
        }
    }

    /// Checks the body of the file [`Update::request`] named; `None` when the mirror does not
    /// have it (HTTP 404 or 403: for `N.root.json` that ends the root chain, for any other
    /// file it fails the update).
    pub fn receive(&mut self, body: Option<Vec<u8>>) -> Result<(), TufError> {
        let Some(request) = self.request() else {
            return Ok(());
        };
        if let Some(bytes) = &body {
            if bytes.len() as u64 > request.max_length {
                return Err(TufError::TooLarge {
                    file: request.path,
                    limit: request.max_length,
                });
            }
        }
        let Some(bytes) = body else {
            if let Step::Root { .. } = self.step {
                return self.root_chain_done();
            }
            return Err(TufError::NotFound { file: request.path });
        };
        match &mut self.step {
            Step::Root { next, rotations } => {
                let new = metadata::parse_root(&bytes)?;
                self.root.meta.verify(Role::Root, &new)?;
                if new.meta.header.version != *next {
                    return Err(TufError::RootVersion {
                        expected: *next,
                        got: new.meta.header.version,
                    });
                }
                new.meta.verify(Role::Root, &new)?;
                *next += 1;
                *rotations += 1;
                let done = *rotations >= MAX_ROOT_ROTATIONS;
                self.root = new;
                if done {
                    self.root_chain_done()?;
                }
            }
            Step::Timestamp => {
                self.update_timestamp(&bytes)?;
                self.enter_snapshot()?;
            }
            Step::Snapshot => {
                self.update_snapshot(&bytes, Source::Mirror)?;
                self.enter_targets()?;
            }
            Step::Targets => {
                self.update_targets(&bytes, Source::Mirror)?;
                self.enter_files()?;
            }
            Step::Files { index } => {
                let i = *index;
                if let Some((name, file)) = self.files.get(i) {
                    file.check(name, &bytes)?;
                    self.verified.push(VerifiedTarget {
                        name: name.clone(),
                        bytes,
                    });
                }
                self.step = if i + 1 < self.files.len() {
                    Step::Files { index: i + 1 }
                } else {
                    Step::Done
                };
            }
            Step::Done => {}
        }
        Ok(())
    }

    /// The verified metadata and targets, once [`Update::request`] returns `None`.
    pub fn finish(self) -> Result<Updated, TufError> {
        if let Some(request) = self.request() {
            return Err(TufError::Incomplete { file: request.path });
        }
        let (Some(timestamp), Some(snapshot), Some(targets)) =
            (self.timestamp, self.snapshot, self.targets)
        else {
            return Err(TufError::Incomplete {
                file: "timestamp.json".to_owned(),
            });
        };
        Ok(Updated {
            root_version: self.root.meta.header.version,
            root: self.root.bytes,
            timestamp: timestamp.bytes,
            snapshot: snapshot.bytes,
            targets: targets.bytes,
            files: self.verified,
        })
    }

    /// Spec §5.3.10: the final root must not be expired. Then the cached timestamp, if it
    /// verifies against the final root, becomes the rollback reference (expired or not, as
    /// python-tuf loads it).
    fn root_chain_done(&mut self) -> Result<(), TufError> {
        self.check_fresh(Role::Root, &self.root.meta.header)?;
        if let Some(bytes) = self.cached.timestamp.take() {
            if let Ok(ts) = metadata::parse_timestamp(&bytes) {
                if self.root.meta.verify(Role::Timestamp, &ts).is_ok() {
                    self.timestamp = Some(ts);
                }
            }
        }
        self.step = Step::Timestamp;
        Ok(())
    }

    fn check_fresh(&self, role: Role, header: &metadata::Header) -> Result<(), TufError> {
        if header.expires <= self.now {
            let expires = header
                .expires
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| header.expires.to_string());
            return Err(TufError::Expired { role, expires });
        }
        Ok(())
    }

    /// Spec §5.4: signatures, no rollback of timestamp nor of the snapshot version it names,
    /// not expired.
    fn update_timestamp(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        let new = metadata::parse_timestamp(bytes)?;
        self.root.meta.verify(Role::Timestamp, &new)?;
        if let Some(old) = &self.timestamp {
            check_rollback(
                "timestamp.json",
                old.meta.header.version,
                new.meta.header.version,
            )?;
            check_rollback(
                "snapshot.json",
                old.meta.snapshot.version,
                new.meta.snapshot.version,
            )?;
        }
        self.check_fresh(Role::Timestamp, &new.meta.header)?;
        self.timestamp = Some(new);
        Ok(())
    }

    /// Uses the cached snapshot when it still matches the timestamp; otherwise keeps it (if
    /// it verifies) as the rollback reference and asks the mirror.
    fn enter_snapshot(&mut self) -> Result<(), TufError> {
        self.step = Step::Snapshot;
        if let Some(bytes) = self.cached.snapshot.take() {
            if self.update_snapshot(&bytes, Source::Cache).is_ok() {
                return self.enter_targets();
            }
        }
        Ok(())
    }

    /// Spec §5.5: length and hashes from timestamp (for a fetched file), signatures, no
    /// rollback of snapshot or of any file it listed, the version timestamp names, not expired.
    /// A cached file that verifies stays as the rollback reference even when it is stale, as
    /// in python-tuf.
    fn update_snapshot(&mut self, bytes: &[u8], source: Source) -> Result<(), TufError> {
        let Some(timestamp) = &self.timestamp else {
            return Err(TufError::Incomplete {
                file: "timestamp.json".to_owned(),
            });
        };
        let expected = timestamp.meta.snapshot.clone();
        if source == Source::Mirror {
            expected.check("snapshot.json", bytes)?;
        }
        let new = metadata::parse_snapshot(bytes)?;
        self.root.meta.verify(Role::Snapshot, &new)?;
        if let Some(old) = &self.snapshot {
            check_rollback(
                "snapshot.json",
                old.meta.header.version,
                new.meta.header.version,
            )?;
            for (file, info) in &old.meta.meta {
                let Some(now) = new.meta.meta.get(file) else {
                    return Err(TufError::NotInSnapshot { file: file.clone() });
                };
                check_rollback(file, info.version, now.version)?;
            }
        }
        let (header_version, expires) = (new.meta.header.version, new.meta.header.expires);
        self.snapshot = Some(new);
        self.check_fresh(
            Role::Snapshot,
            &metadata::Header {
                version: header_version,
                expires,
            },
        )?;
        if header_version != expected.version {
            return Err(TufError::VersionMismatch {
                file: "snapshot.json".to_owned(),
                referrer: Role::Timestamp,
                expected: expected.version,
                got: header_version,
            });
        }
        Ok(())
    }

    fn enter_targets(&mut self) -> Result<(), TufError> {
        self.step = Step::Targets;
        if let Some(bytes) = self.cached.targets.take() {
            if self.update_targets(&bytes, Source::Cache).is_ok() {
                return self.enter_files();
            }
        }
        Ok(())
    }

    /// Spec §5.6: length and hashes from snapshot (for a fetched file), signatures, the
    /// version snapshot names, not expired.
    fn update_targets(&mut self, bytes: &[u8], source: Source) -> Result<(), TufError> {
        let Some(snapshot) = &self.snapshot else {
            return Err(TufError::Incomplete {
                file: "snapshot.json".to_owned(),
            });
        };
        let Some(expected) = snapshot.meta.meta.get("targets.json").cloned() else {
            return Err(TufError::NotInSnapshot {
                file: "targets.json".to_owned(),
            });
        };
        if source == Source::Mirror {
            expected.check("targets.json", bytes)?;
        }
        let new = metadata::parse_targets(bytes)?;
        self.root.meta.verify(Role::Targets, &new)?;
        if new.meta.header.version != expected.version {
            return Err(TufError::VersionMismatch {
                file: "targets.json".to_owned(),
                referrer: Role::Snapshot,
                expected: expected.version,
                got: new.meta.header.version,
            });
        }
        self.check_fresh(Role::Targets, &new.meta.header)?;
        self.targets = Some(new);
        Ok(())
    }

    /// Spec §5.7: looks the wanted targets up in the top-level targets metadata.
    fn enter_files(&mut self) -> Result<(), TufError> {
        let Some(targets) = &self.targets else {
            return Err(TufError::Incomplete {
                file: "targets.json".to_owned(),
            });
        };
        let mut files = Vec::new();
        for (name, need) in &self.wanted {
            match targets.meta.get(name)? {
                Some(file) => files.push((name.clone(), file)),
                None if *need == Need::Optional => {}
                None if targets.meta.has_delegations => {
                    return Err(TufError::Delegated { name: name.clone() })
                }
                None => return Err(TufError::TargetNotFound { name: name.clone() }),
            }
        }
        self.step = if files.is_empty() {
            Step::Done
        } else {
            Step::Files { index: 0 }
        };
        self.files = files;
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Fetched now: checked against the referencing file's length and hashes.
    Mirror,
    /// Cached by an earlier update, which checked them.
    Cache,
}

fn trusted_root(bytes: &[u8]) -> Result<Signed<Root>, TufError> {
    let root = metadata::parse_root(bytes)?;
    root.meta.verify(Role::Root, &root)?;
    Ok(root)
}

fn check_rollback(file: &str, trusted: u64, got: u64) -> Result<(), TufError> {
    if got < trusted {
        return Err(TufError::Rollback {
            file: file.to_owned(),
            trusted,
            got,
        });
    }
    Ok(())
}

fn metadata_path(consistent: bool, version: u64, role: Role) -> String {
    if consistent {
        format!("{version}.{role}.json")
    } else {
        format!("{role}.json")
    }
}
