//! Explicit bounds on what a scan reads, so hostile layers (gzip bombs, giant files, millions of
//! entries) end in a clear error instead of exhausting memory or time.

/// Limits applied while streaming layers.
///
/// # Defaults
/// - `max_layer_bytes`: 16 GiB of uncompressed tar per layer.
/// - `max_ratio`: 1000:1 uncompressed to compressed, checked once a layer has produced more
///   than `ratio_grace_bytes` (real layers compress 2–10:1; a gzip bomb is ~1000:1 and more).
/// - `max_entries`: 4 million tar entries per layer.
/// - `max_buffered_file`: 512 MiB; a binary or archive larger than this is skipped with a warning.
/// - `max_text_file`: 64 MiB; a package database larger than this is skipped with a warning.
/// - `max_nested_archive_depth`: 4 levels of jars inside jars.
/// - `ratio_grace_bytes`: 256 MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_layer_bytes: u64,
    pub max_ratio: u64,
    pub max_entries: u64,
    pub max_buffered_file: u64,
    pub max_text_file: u64,
    pub max_nested_archive_depth: u32,
    /// The ratio check starts after this many uncompressed bytes, so small, highly
    /// compressible layers (a few zero-filled files) are not rejected.
    pub ratio_grace_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_bytes: 16 << 30,
            max_ratio: 1000,
            max_entries: 4_000_000,
            max_buffered_file: 512 << 20,
            max_text_file: 64 << 20,
            max_nested_archive_depth: 4,
            ratio_grace_bytes: 256 << 20,
        }
    }
}
