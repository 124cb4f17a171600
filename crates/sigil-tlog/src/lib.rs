//! sigil-tlog: a transparency log serving Rekor's v1 API and C2SP tlog-tiles reads over an
//! RFC 6962 Merkle tree, with a durable embedded store.
//!
//! - [`store`]: the [`LogStorage`] trait and [`FileStore`], the embedded backend (group
//!   commit, crash recovery). It stores opaque leaves, so the CT log reuses it.
pub mod store;

// The public interface is:
pub use store::{search_key, FileStore, LeafInfo, LogStorage, NewLeaf, Nodes, StoreError};
