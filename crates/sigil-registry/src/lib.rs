//! sigil-registry: see the issue for this crate; filled in by its owner.
