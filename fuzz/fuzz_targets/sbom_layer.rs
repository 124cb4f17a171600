//! Layer blobs as the SBOM scanner streams them: gzip, zstd or plain tar (sniffed), entries
//! with hostile paths and links, squashed into the in-memory tree, then every cataloger.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_fuzz::sbom::{scan_layers, small_limits};

fuzz_target!(|data: &[u8]| {
    let _ = scan_layers(vec![data.to_vec()], small_limits());
});
