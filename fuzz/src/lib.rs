//! Shared set-up of the fuzz targets: fixtures from the crates' own testdata and a small
//! tokio runtime for the targets that drive a server's router in process.

use std::sync::OnceLock;

/// Sigstore's public-good trusted root (the crates' conformance fixture).
pub const PRODUCTION_ROOT: &[u8] =
    include_bytes!("../../crates/sigil-verify/testdata/trust/production/trusted_root.json");

/// One current-thread runtime per fuzzing process.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// A directory that lives as long as the fuzzing process.
pub fn scratch_dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temporary directory"))
        .path()
}

/// Sends one request to `router` in process and returns the status and body.
pub fn call(
    router: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    use tower::ServiceExt as _;
    let mut req = axum::http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let Ok(req) = req.body(axum::body::Body::from(body)) else {
        return (0, Vec::new());
    };
    runtime().block_on(async {
        let resp = router
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|e| match e {});
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        (status, body)
    })
}

/// An in-memory image for the SBOM scanner.
pub mod sbom {
    use std::io::Read;

    use sigil_sbom::{
        scan_image, Error, ImageSource, LayerDescriptor, Limits, Sbom, ScanOptions, SourceInfo,
    };

    struct MemoryImage {
        info: SourceInfo,
        descriptors: Vec<LayerDescriptor>,
        layers: Vec<Vec<u8>>,
    }

    impl ImageSource for MemoryImage {
        fn info(&self) -> &SourceInfo {
            &self.info
        }
        fn layers(&self) -> &[LayerDescriptor] {
            &self.descriptors
        }
        fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, Error> {
            let bytes = self
                .layers
                .get(index)
                .map(Vec::as_slice)
                .unwrap_or_default();
            Ok(Box::new(bytes))
        }
    }

    /// Limits small enough that a fuzzing run hits them (the defaults allow 16 GiB layers).
    pub fn small_limits() -> Limits {
        Limits {
            max_layer_bytes: 64 << 20,
            max_entries: 100_000,
            max_buffered_file: 16 << 20,
            max_text_file: 4 << 20,
            ratio_grace_bytes: 1 << 20,
            ..Limits::default()
        }
    }

    /// Scans raw layer blobs (compression is sniffed by the scanner).
    pub fn scan_layers(layers: Vec<Vec<u8>>, limits: Limits) -> Result<Sbom, Error> {
        let diff_ids: Vec<String> = (0..layers.len())
            .map(|i| format!("sha256:{:064x}", i))
            .collect();
        let image = MemoryImage {
            info: SourceInfo {
                input: "fuzz".into(),
                name: "fuzz".into(),
                layers: diff_ids.clone(),
                ..SourceInfo::default()
            },
            descriptors: diff_ids
                .iter()
                .map(|d| LayerDescriptor {
                    digest: None,
                    diff_id: d.clone(),
                    media_type: "application/vnd.oci.image.layer.v1.tar".into(),
                })
                .collect(),
            layers,
        };
        let opts = ScanOptions {
            limits,
            file_digests: true,
            ..ScanOptions::default()
        };
        scan_image(&image, &opts)
    }

    /// A plain tar of regular files.
    pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o755);
            h.set_entry_type(tar::EntryType::Regular);
            let _ = b.append_data(&mut h, path, *data);
        }
        b.into_inner().unwrap_or_default()
    }
}
