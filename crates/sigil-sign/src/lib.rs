//! Signing flows: key and keyless, attach to the registry.

pub mod rekor;
