//! sigil-registry: an OCI registry server (distribution-spec v1.1) with a filesystem backend.
//!
//! - [`router`] builds the HTTP API over any [`Storage`]; tests drive it in process.
//! - [`FsStorage`] stores content-addressed blobs, manifests by digest, tags as links and
//!   upload sessions under one directory, with atomic, digest-verified writes.
//! - [`Server`] binds a socket (optionally TLS, optionally htpasswd basic auth) and serves;
//!   `sigil registry serve` and `sigil up` use it.
//! - [`Metrics`] counts requests and latencies for `/metrics`.
//!
//! # Defaults
//! Anonymous access is allowed only on loopback addresses; anything else needs `--htpasswd`
//! and TLS, or an explicit [`Exposure::InsecurePublic`]. Manifests are limited to 4 MiB, blobs
//! to 16 GiB, open upload sessions to 1024, and sessions idle for an hour are removed.

mod api;
mod auth;
mod error;
mod fs;
mod manifest;
mod metrics;
mod name;
mod server;
mod storage;

// The public interface is:
pub use api::{router, ApiLimits, AppState};
pub use auth::Htpasswd;
pub use error::Error;
pub use fs::{FsStorage, StorageLimits};
pub use metrics::{Metrics, RouteKind};
pub use name::{Reference, RepoName, Tag};
pub use server::{serve, Config, Exposure, Server, TlsFiles};
pub use storage::{BlobContent, BodyStream, NewManifest, Storage, StoredManifest};
