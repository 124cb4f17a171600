//! The storage trait the HTTP layer is written against, and the value types it passes.
//!
//! Implementations must uphold the integrity rules of the registry: content becomes visible
//! only after its digest was verified, every write is atomic (a reader sees the old state or
//! the new one, never a partial file), and an acknowledged write survives a crash of the
//! process. [`crate::FsStorage`] is the embedded backend.

use std::fmt::Debug;
use std::ops::Range;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use sigil_core::Digest;

use crate::name::{Reference, RepoName, Tag};
use crate::Error;

/// A request body as the storage layer consumes it.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Blob content to send to a client.
#[derive(Debug)]
pub enum BlobContent {
    /// Small content, already in memory.
    Bytes(Bytes),
    /// An open file positioned at the first byte to send, and how many bytes to send.
    File { file: tokio::fs::File, len: u64 },
}

/// A manifest as stored: its exact bytes, never re-serialised.
#[derive(Clone, Debug)]
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub content: Bytes,
}

/// A verified manifest to store.
#[derive(Clone, Debug)]
pub struct NewManifest {
    pub digest: Digest,
    pub media_type: String,
    pub content: Bytes,
    /// The tag to point at it, if it was pushed by tag.
    pub tag: Option<Tag>,
    /// The `subject` digest and this manifest's descriptor (JSON) for the referrers API.
    pub referrer: Option<(Digest, Bytes)>,
}

/// The storage of a registry: blobs, upload sessions, manifests, tags and referrers, each
/// scoped to a repository the way distribution scopes them (a blob pushed to one repository
/// is not readable from another until it is mounted there).
#[async_trait::async_trait]
pub trait Storage: Send + Sync + Debug + 'static {
    /// The size of a blob linked into `repo`, or `None`.
    async fn blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<Option<u64>, Error>;
    /// The content of a blob linked into `repo` (the `range` of it, if given; the range is
    /// already checked against the size), or `None`.
    async fn blob_read(
        &self,
        repo: &RepoName,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<Option<BlobContent>, Error>;
    /// Links a blob of `from` into `repo`; returns its size, or `None` if `from` lacks it.
    async fn blob_mount(
        &self,
        repo: &RepoName,
        from: &RepoName,
        digest: &Digest,
    ) -> Result<Option<u64>, Error>;
    /// Unlinks a blob from `repo`; `false` if it was not there.
    async fn blob_delete(&self, repo: &RepoName, digest: &Digest) -> Result<bool, Error>;

    /// Opens an upload session and returns its id.
    async fn upload_start(&self, repo: &RepoName) -> Result<String, Error>;
    /// The number of bytes received by a session so far.
    async fn upload_size(&self, repo: &RepoName, id: &str) -> Result<u64, Error>;
    /// Appends `body` to a session. With `offset`, the chunk must start exactly where the
    /// session ends ([`Error::RangeInvalid`] otherwise). Returns the new size.
    async fn upload_append(
        &self,
        repo: &RepoName,
        id: &str,
        offset: Option<u64>,
        body: BodyStream,
    ) -> Result<u64, Error>;
    /// Verifies the session's content against `digest` and makes it a blob of `repo`.
    /// Returns the blob's size. On a mismatch the session is discarded.
    async fn upload_finish(&self, repo: &RepoName, id: &str, digest: &Digest)
        -> Result<u64, Error>;
    /// Discards a session.
    async fn upload_cancel(&self, repo: &RepoName, id: &str) -> Result<(), Error>;
    /// Removes sessions idle for longer than `max_idle`; returns how many.
    async fn expire_uploads(&self, max_idle: Duration) -> Result<usize, Error>;

    /// A manifest of `repo` by tag or digest, or `None`.
    async fn manifest_get(
        &self,
        repo: &RepoName,
        reference: &Reference,
    ) -> Result<Option<StoredManifest>, Error>;
    /// Stores a manifest (its blobs were checked by the caller) and moves its tag.
    async fn manifest_put(&self, repo: &RepoName, manifest: NewManifest) -> Result<(), Error>;
    /// Deletes a manifest and every tag pointing at it; `false` if it was not there.
    async fn manifest_delete(&self, repo: &RepoName, digest: &Digest) -> Result<bool, Error>;
    /// Deletes a tag (not the manifest); `false` if it was not there.
    async fn tag_delete(&self, repo: &RepoName, tag: &Tag) -> Result<bool, Error>;
    /// The sorted tags of `repo`, or `None` if the repository does not exist.
    async fn tags(&self, repo: &RepoName) -> Result<Option<Vec<String>>, Error>;
    /// The sorted names of all repositories.
    async fn repositories(&self) -> Result<Vec<String>, Error>;
    /// The descriptors (JSON) of the manifests of `repo` whose `subject` is `subject`.
    async fn referrers(&self, repo: &RepoName, subject: &Digest) -> Result<Vec<Bytes>, Error>;
}
