//! OCI image manifests and indexes as the registry client reads them (Docker v2 schema 2 and
//! OCI v1 media types), and the cosign signature layers listed in them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_oci::{ImageIndex, ImageManifest};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = serde_json::from_slice::<ImageManifest>(data) {
        for layer in &m.layers {
            let _ = layer.digest.to_string();
        }
        let again = sigil_oci::manifest::to_json(&m);
        serde_json::from_slice::<ImageManifest>(&again).expect("own manifest re-parses");
    }
    if let Ok(i) = serde_json::from_slice::<ImageIndex>(data) {
        let again = sigil_oci::manifest::to_json(&i);
        serde_json::from_slice::<ImageIndex>(&again).expect("own index re-parses");
    }
});
