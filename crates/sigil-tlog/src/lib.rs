//! sigil-tlog: a transparency log serving Rekor's v1 API and C2SP tlog-tiles reads over an
//! RFC 6962 Merkle tree, with a durable embedded store.
//!
//! - [`Log`]: the log (key, tree ID, sequencer with group commit, signed tree heads).
//! - [`router`]: Rekor's v1 API (`/api/v1/log…`, `/api/v1/index/retrieve`) and the tlog-tiles
//!   reads (`/checkpoint`, `/tile/…`) as an axum `Router`, for in-process use and `sigil up`.
//! - [`TlogServer`]: the log on a socket, with a handle to stop it.
//! - [`store`]: the [`LogStorage`] trait and [`FileStore`], the embedded backend (group
//!   commit, crash recovery). It stores opaque leaves and serves RFC 6962 proofs, so the CT
//!   log reuses it.
//!
//! The pure parts (hashing, proof verification, checkpoints, entry kinds, SETs) are in
//! `sigil_core::{merkle, checkpoint, rekor}` so that verifiers share them.

mod api;
mod error;
mod log;
mod server;
pub mod store;
mod tiles;

// The public interface is:
pub use api::router;
pub use error::Error;
pub use log::{Log, LogConfig, LogKeyAlgorithm, SignedHead};
pub use server::TlogServer;
pub use store::{
    search_key, FileStore, HeadNodes, LeafInfo, LogStorage, NewLeaf, Nodes, StoreError,
};
