//! Manifests and indexes as the registry server receives them (`PUT /v2/…/manifests/…`),
//! through the router in process with its filesystem storage, every media type the server
//! knows, and the referrers listing that reads stored subjects back.
#![no_main]
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use sigil_registry::{router, AppState, FsStorage, StorageLimits};

const TYPES: [&str; 6] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/json",
    "",
];

fn app() -> &'static axum::Router {
    static APP: OnceLock<axum::Router> = OnceLock::new();
    APP.get_or_init(|| {
        let storage = FsStorage::open(
            sigil_fuzz::scratch_dir().join("registry"),
            StorageLimits::default(),
        )
        .expect("storage");
        router(AppState::new(Arc::new(storage)))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let media_type = TYPES[usize::from(selector) % TYPES.len()];
    let headers: &[(&str, &str)] = if media_type.is_empty() {
        &[]
    } else {
        &[("content-type", media_type)]
    };
    let (status, _) =
        sigil_fuzz::call(app(), "PUT", "/v2/fuzz/manifests/t", headers, body.to_vec());
    assert!(status != 500, "a manifest answered 500");
    if status == 201 {
        let (s, _) = sigil_fuzz::call(app(), "GET", "/v2/fuzz/manifests/t", &[], Vec::new());
        assert_eq!(s, 200, "a stored manifest is served");
        let _ = sigil_fuzz::call(app(), "DELETE", "/v2/fuzz/manifests/t", &[], Vec::new());
    }
});
