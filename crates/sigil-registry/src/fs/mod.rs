//! The embedded filesystem backend.
//!
//! Layout under the root (one process per root):
//! ```text
//! blobs/<alg>/<hex[..2]>/<hex>              content, blobs and manifests alike, by digest
//! repos/<name>/_blobs/<alg>/<hex>            empty: the blob is linked into the repository
//! repos/<name>/_manifests/<alg>/<hex>        the manifest's media type: it is in the repository
//! repos/<name>/_tags/<tag>                   the digest the tag points at
//! repos/<name>/_referrers/<alg>/<hex>/<alg>-<hex>   descriptor of a manifest whose subject is <hex>
//! uploads/<id>/data, uploads/<id>/repo       upload sessions
//! tmp/                                       temporary files, renamed into place when complete
//! ```
//! Repository path components never start with `_` (see [`RepoName`]), so the `_` directories
//! cannot collide with nested repositories. Every file becomes visible by `rename` of a
//! complete, fsynced temporary file, so a `kill -9` at any moment leaves either the old or the
//! new state. A link is written only after the content it points at is in place, so a crash
//! between the two leaves an unreferenced blob (harmless), never a dangling link.

mod uploads;

use std::collections::HashMap;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sigil_core::Digest;

use crate::name::{Reference, RepoName, Tag};
use crate::storage::{BlobContent, BodyStream, NewManifest, Storage, StoredManifest};
use crate::Error;

/// Blobs up to this size are read into memory in one go instead of streamed from the file.
const SMALL_BLOB: u64 = 256 * 1024;
/// Cached manifest lookups before the cache is dropped and refilled.
const MANIFEST_CACHE_ENTRIES: usize = 4096;

/// Limits that protect the backend from a client filling the disk or the file table.
#[derive(Clone, Copy, Debug)]
pub struct StorageLimits {
    /// The largest blob an upload may grow to.
    pub max_blob_size: u64,
    /// The most upload sessions open at once.
    pub max_uploads: usize,
}

impl Default for StorageLimits {
    /// 16 GiB blobs, 1024 open sessions.
    fn default() -> Self {
        StorageLimits {
            max_blob_size: 16 << 30,
            max_uploads: 1024,
        }
    }
}

/// The filesystem storage backend.
#[derive(Debug)]
pub struct FsStorage {
    root: PathBuf,
    limits: StorageLimits,
    open_uploads: AtomicUsize,
    sessions: uploads::Sessions,
    /// Manifests found by repository and reference. Manifests are immutable and only this
    /// process writes the root, so entries are exact until a write to the repository drops
    /// them; it starts empty, so a restart cannot serve anything the disk does not hold.
    manifests: Mutex<ManifestCache>,
}

/// Repository -> reference -> manifest, looked up without building a key.
#[derive(Debug, Default)]
struct ManifestCache {
    repos: HashMap<String, HashMap<Reference, StoredManifest>>,
    entries: usize,
    /// Bumped by every write that drops entries. A lookup that missed records it before
    /// reading the disk and inserts what it read only if it is unchanged: a tag moved while
    /// the read was in flight must not be cached pointing at its old manifest.
    generation: u64,
}

impl FsStorage {
    /// Opens (creating if needed) a storage root. Leftover temporary files of a previous
    /// process are removed; upload sessions are kept so clients can resume them.
    pub fn open(root: impl Into<PathBuf>, limits: StorageLimits) -> Result<FsStorage, Error> {
        let root = root.into();
        for dir in ["blobs", "repos", "uploads", "tmp"] {
            let p = root.join(dir);
            std::fs::create_dir_all(&p).map_err(Error::io("creating", &p))?;
        }
        let tmp = root.join("tmp");
        let entries = std::fs::read_dir(&tmp).map_err(Error::io("listing", &tmp))?;
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        let up = root.join("uploads");
        let open = std::fs::read_dir(&up)
            .map_err(Error::io("listing", &up))?
            .count();
        Ok(FsStorage {
            root,
            limits,
            open_uploads: AtomicUsize::new(open),
            sessions: uploads::Sessions::default(),
            manifests: Mutex::new(ManifestCache::default()),
        })
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        let hex = d.hex();
        self.root
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(hex.get(..2).unwrap_or("00"))
            .join(hex)
    }

    fn repo_dir(&self, repo: &RepoName) -> PathBuf {
        self.root.join("repos").join(repo.as_str())
    }

    fn blob_link(&self, repo: &RepoName, d: &Digest) -> PathBuf {
        self.repo_dir(repo)
            .join("_blobs")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    fn manifest_link(&self, repo: &RepoName, d: &Digest) -> PathBuf {
        self.repo_dir(repo)
            .join("_manifests")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    fn tag_path(&self, repo: &RepoName, tag: &Tag) -> PathBuf {
        self.repo_dir(repo).join("_tags").join(tag.as_str())
    }

    fn referrers_dir(&self, repo: &RepoName, subject: &Digest) -> PathBuf {
        self.repo_dir(repo)
            .join("_referrers")
            .join(subject.algorithm().as_str())
            .join(subject.hex())
    }

    fn forget_repo(&self, repo: &RepoName) {
        if let Ok(mut cache) = self.manifests.lock() {
            cache.generation += 1;
            if let Some(gone) = cache.repos.remove(repo.as_str()) {
                cache.entries = cache.entries.saturating_sub(gone.len());
            }
        }
    }

    async fn linked_blob_size(&self, repo: &RepoName, d: &Digest) -> Result<Option<u64>, Error> {
        // One trip to the blocking pool for both checks: pulls of many small layers pay
        // per-request latency, not bandwidth.
        let (link, p) = (self.blob_link(repo, d), self.blob_path(d));
        blocking(move || {
            if !link.try_exists().map_err(Error::io("checking", &link))? {
                return Ok(None);
            }
            match std::fs::metadata(&p) {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io("reading metadata of", p)(e)),
            }
        })
        .await
    }

    /// Writes `content` to the blob store if it is not there yet (content-addressed: an
    /// existing file already holds exactly these bytes).
    async fn store_content(&self, d: &Digest, content: Bytes) -> Result<(), Error> {
        let dest = self.blob_path(d);
        if exists(&dest).await? {
            return Ok(());
        }
        let tmp = self.root.join("tmp");
        blocking(move || write_atomic(&tmp, &dest, &content)).await
    }

    /// Creates an empty marker file (a blob link). Its existence is all it says, so it needs no
    /// temporary file: `create` is atomic. The directory is synced so the link survives a
    /// power loss once acknowledged.
    pub(crate) async fn link_empty(&self, path: PathBuf) -> Result<(), Error> {
        blocking(move || {
            let parent = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent).map_err(Error::io("creating", parent))?;
            std::fs::File::create(&path).map_err(Error::io("creating", &path))?;
            sync_dir(parent);
            Ok(())
        })
        .await
    }

    async fn link(&self, path: PathBuf, content: Vec<u8>) -> Result<(), Error> {
        let tmp = self.root.join("tmp");
        blocking(move || write_atomic(&tmp, &path, &content)).await
    }

    async fn read_manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
    ) -> Result<Option<StoredManifest>, Error> {
        let digest = match reference {
            Reference::Digest(d) => d.clone(),
            Reference::Tag(t) => {
                let p = self.tag_path(repo, t);
                let Some(text) = read_opt(&p).await? else {
                    return Ok(None);
                };
                let text = String::from_utf8_lossy(&text);
                text.trim().parse().map_err(|_| Error::Corrupt {
                    path: p.clone(),
                    reason: "tag file does not hold a digest",
                })?
            }
        };
        let Some(media_type) = read_opt(&self.manifest_link(repo, &digest)).await? else {
            return Ok(None);
        };
        let p = self.blob_path(&digest);
        let Some(content) = read_opt(&p).await? else {
            return Ok(None);
        };
        Ok(Some(StoredManifest {
            digest,
            media_type: String::from_utf8_lossy(&media_type).into_owned(),
            content: Bytes::from(content),
        }))
    }
}

#[async_trait::async_trait]
impl Storage for FsStorage {
    async fn blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<Option<u64>, Error> {
        self.linked_blob_size(repo, digest).await
    }

    async fn blob_read(
        &self,
        repo: &RepoName,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<Option<BlobContent>, Error> {
        let (link, p) = (self.blob_link(repo, digest), self.blob_path(digest));
        // Link check, open, size, seek and (for small blobs) the read in one blocking call.
        blocking(move || {
            use std::io::{Read, Seek};
            if !link.try_exists().map_err(Error::io("checking", &link))? {
                return Ok(None);
            }
            let mut file = match std::fs::File::open(&p) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Error::io("opening", p)(e)),
            };
            let size = file
                .metadata()
                .map_err(Error::io("reading metadata of", &p))?
                .len();
            let range = range.unwrap_or(0..size);
            let len = range.end.saturating_sub(range.start);
            if range.start > 0 {
                file.seek(std::io::SeekFrom::Start(range.start))
                    .map_err(Error::io("seeking in", &p))?;
            }
            if len <= SMALL_BLOB {
                let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                (&mut file)
                    .take(len)
                    .read_to_end(&mut buf)
                    .map_err(Error::io("reading", &p))?;
                return Ok(Some(BlobContent::Bytes(Bytes::from(buf))));
            }
            Ok(Some(BlobContent::File {
                file: tokio::fs::File::from_std(file),
                len,
            }))
        })
        .await
    }

    async fn blob_mount(
        &self,
        repo: &RepoName,
        from: &RepoName,
        digest: &Digest,
    ) -> Result<Option<u64>, Error> {
        let Some(size) = self.linked_blob_size(from, digest).await? else {
            return Ok(None);
        };
        self.link_empty(self.blob_link(repo, digest)).await?;
        Ok(Some(size))
    }

    async fn blob_delete(&self, repo: &RepoName, digest: &Digest) -> Result<bool, Error> {
        remove_opt(&self.blob_link(repo, digest)).await
    }

    async fn upload_start(&self, repo: &RepoName) -> Result<String, Error> {
        uploads::start(self, repo).await
    }

    async fn upload_size(&self, repo: &RepoName, id: &str) -> Result<u64, Error> {
        uploads::size(self, repo, id).await
    }

    async fn upload_append(
        &self,
        repo: &RepoName,
        id: &str,
        offset: Option<u64>,
        body: BodyStream,
    ) -> Result<u64, Error> {
        uploads::append(self, repo, id, offset, body).await
    }

    async fn upload_finish(
        &self,
        repo: &RepoName,
        id: &str,
        digest: &Digest,
    ) -> Result<u64, Error> {
        uploads::finish(self, repo, id, digest).await
    }

    async fn upload_cancel(&self, repo: &RepoName, id: &str) -> Result<(), Error> {
        uploads::cancel(self, repo, id).await
    }

    async fn expire_uploads(&self, max_idle: Duration) -> Result<usize, Error> {
        uploads::expire(self, max_idle).await
    }

    async fn manifest_get(
        &self,
        repo: &RepoName,
        reference: &Reference,
    ) -> Result<Option<StoredManifest>, Error> {
        let generation = {
            let Ok(cache) = self.manifests.lock() else {
                return self.read_manifest(repo, reference).await;
            };
            if let Some(m) = cache
                .repos
                .get(repo.as_str())
                .and_then(|r| r.get(reference))
            {
                return Ok(Some(m.clone()));
            }
            cache.generation
        };
        let found = self.read_manifest(repo, reference).await?;
        if let (Some(m), Ok(mut cache)) = (&found, self.manifests.lock()) {
            if cache.generation == generation {
                if cache.entries >= MANIFEST_CACHE_ENTRIES {
                    cache.repos.clear();
                    cache.entries = 0;
                }
                let previous = cache
                    .repos
                    .entry(repo.as_str().to_owned())
                    .or_default()
                    .insert(reference.clone(), m.clone());
                if previous.is_none() {
                    cache.entries += 1;
                }
            }
        }
        Ok(found)
    }

    async fn manifest_put(&self, repo: &RepoName, m: NewManifest) -> Result<(), Error> {
        // Content, then the referrer entry (listed only once the manifest link exists), then
        // the link that makes the manifest visible, then the tag.
        self.store_content(&m.digest, m.content.clone()).await?;
        if let Some((subject, descriptor)) = &m.referrer {
            let p = self.referrers_dir(repo, subject).join(format!(
                "{}-{}",
                m.digest.algorithm().as_str(),
                m.digest.hex()
            ));
            self.link(p, descriptor.to_vec()).await?;
        }
        self.link(
            self.manifest_link(repo, &m.digest),
            m.media_type.clone().into_bytes(),
        )
        .await?;
        if let Some(tag) = &m.tag {
            self.link(self.tag_path(repo, tag), m.digest.to_string().into_bytes())
                .await?;
        }
        self.forget_repo(repo);
        Ok(())
    }

    async fn manifest_delete(&self, repo: &RepoName, digest: &Digest) -> Result<bool, Error> {
        let Some(m) = self
            .read_manifest(repo, &Reference::Digest(digest.clone()))
            .await?
        else {
            return Ok(false);
        };
        // Tags first: a crash part-way leaves an untagged manifest, never a tag to nothing.
        let tags_dir = self.repo_dir(repo).join("_tags");
        let wanted = digest.to_string();
        for (name, path) in list_dir(&tags_dir).await? {
            if let Some(text) = read_opt(&path).await? {
                if String::from_utf8_lossy(&text).trim() == wanted {
                    remove_opt(&path).await?;
                    tracing::debug!(repo = %repo, tag = %name, "tag removed with its manifest");
                }
            }
        }
        remove_opt(&self.manifest_link(repo, digest)).await?;
        if let Some(subject) = crate::manifest::subject_of(&m.content) {
            let p = self.referrers_dir(repo, &subject).join(format!(
                "{}-{}",
                digest.algorithm().as_str(),
                digest.hex()
            ));
            remove_opt(&p).await?;
        }
        self.forget_repo(repo);
        Ok(true)
    }

    async fn tag_delete(&self, repo: &RepoName, tag: &Tag) -> Result<bool, Error> {
        let removed = remove_opt(&self.tag_path(repo, tag)).await?;
        self.forget_repo(repo);
        Ok(removed)
    }

    async fn tags(&self, repo: &RepoName) -> Result<Option<Vec<String>>, Error> {
        let dir = self.repo_dir(repo);
        if !exists(&dir).await? {
            return Ok(None);
        }
        let mut tags: Vec<String> = list_dir(&dir.join("_tags"))
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        tags.sort();
        Ok(Some(tags))
    }

    async fn repositories(&self) -> Result<Vec<String>, Error> {
        let root = self.root.join("repos");
        blocking(move || {
            let mut out = Vec::new();
            walk_repos(&root, "", &mut out)?;
            out.sort();
            Ok(out)
        })
        .await
    }

    async fn referrers(&self, repo: &RepoName, subject: &Digest) -> Result<Vec<Bytes>, Error> {
        let mut out = Vec::new();
        for (name, path) in list_dir(&self.referrers_dir(repo, subject)).await? {
            // Listed only while the manifest itself is in the repository (a delete that
            // crashed after unlinking the manifest leaves this entry behind).
            let Some((alg, hex)) = name.split_once('-') else {
                continue;
            };
            let Ok(d) = format!("{alg}:{hex}").parse::<Digest>() else {
                continue;
            };
            if !exists(&self.manifest_link(repo, &d)).await? {
                continue;
            }
            if let Some(desc) = read_opt(&path).await? {
                out.push(Bytes::from(desc));
            }
        }
        Ok(out)
    }
}

fn walk_repos(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("listing", dir)(e)),
    };
    let mut is_repo = false;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('_') {
            if name == "_manifests" || name == "_blobs" {
                is_repo = true;
            }
            continue;
        }
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let child = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            walk_repos(&e.path(), &child, out)?;
        }
    }
    if is_repo && !prefix.is_empty() {
        out.push(prefix.to_owned());
    }
    Ok(())
}

/// Runs blocking filesystem work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(Error::Io {
            action: "running a blocking task",
            path: PathBuf::new(),
            source: std::io::Error::other(e),
        }),
    }
}

/// Writes `content` to `dest` through a temporary file in `tmp_dir`: write, fsync, rename,
/// fsync the directory. Readers see the old file or the complete new one.
pub(crate) fn write_atomic(tmp_dir: &Path, dest: &Path, content: &[u8]) -> Result<(), Error> {
    let tmp = tmp_dir.join(uploads::random_id());
    let mut f = std::fs::File::create(&tmp).map_err(Error::io("creating", &tmp))?;
    f.write_all(content).map_err(Error::io("writing", &tmp))?;
    f.sync_data().map_err(Error::io("syncing", &tmp))?;
    drop(f);
    rename_into_place(&tmp, dest)
}

/// Renames a complete file into place, creating the parent directory, and syncs it.
pub(crate) fn rename_into_place(from: &Path, dest: &Path) -> Result<(), Error> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(Error::io("creating", parent))?;
    std::fs::rename(from, dest).map_err(|e| {
        let _ = std::fs::remove_file(from);
        Error::io("renaming into", dest)(e)
    })?;
    sync_dir(parent);
    Ok(())
}

/// Makes a directory's entries (a rename, a new file) durable. Best effort: a failure here
/// loses durability against power loss, not atomicity, so it is logged, not returned.
fn sync_dir(dir: &Path) {
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(error = %e, dir = %dir.display(), "syncing a directory");
    }
}

async fn exists(p: &Path) -> Result<bool, Error> {
    tokio::fs::try_exists(p)
        .await
        .map_err(Error::io("checking", p))
}

async fn read_opt(p: &Path) -> Result<Option<Vec<u8>>, Error> {
    match tokio::fs::read(p).await {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", p)(e)),
    }
}

async fn remove_opt(p: &Path) -> Result<bool, Error> {
    match tokio::fs::remove_file(p).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("removing", p)(e)),
    }
}

async fn list_dir(p: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    let mut rd = match tokio::fs::read_dir(p).await {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing", p)(e)),
    };
    let mut out = Vec::new();
    while let Some(e) = rd.next_entry().await.map_err(Error::io("listing", p))? {
        out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
    }
    Ok(out)
}

pub(crate) type Shared<T> = Arc<tokio::sync::Mutex<T>>;

pub(crate) fn count_open(s: &FsStorage) -> &AtomicUsize {
    &s.open_uploads
}

pub(crate) fn load(n: &AtomicUsize) -> usize {
    n.load(Ordering::SeqCst)
}
