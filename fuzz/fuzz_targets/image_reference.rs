//! Image references and digests as users and registries give them (`ImageRef`, `Digest`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::{Digest, ImageRef};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = s.parse::<ImageRef>() {
        // What parses must print and re-parse to the same reference. Exception, as in
        // distribution: the 255-character name limit counts the name as written, so a short
        // Docker Hub name near the limit is over it once `index.docker.io/` is printed.
        let printed = r.to_string();
        if r.name().len() <= 255 {
            let again: ImageRef = printed.parse().unwrap_or_else(|e| panic!("{printed}: {e}"));
            assert_eq!(again, r, "{printed}");
        }
        let _ = r.with_tag("latest");
        let _ = r.is_loopback();
    }
    if let Ok(d) = s.parse::<Digest>() {
        assert_eq!(d.to_string().parse::<Digest>().ok(), Some(d));
    }
});
