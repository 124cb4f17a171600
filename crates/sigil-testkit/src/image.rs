//! Small OCI images built in memory and pushed with sigil's client, so tests need no Docker
//! engine and no umoci.

use bytes::Bytes;
use sigil_core::{media_types, Digest, ImageRef};
use sigil_oci::manifest::{to_json, Descriptor, ImageManifest};
use sigil_oci::{Client, ClientOptions, Keychain};

/// An anonymous client for loopback test registries.
pub fn client() -> Client {
    Client::new(ClientOptions {
        keychain: Keychain::Anonymous,
        ..ClientOptions::default()
    })
    .unwrap()
}

/// An uncompressed tar layer holding `/hello.txt` with `content`.
pub fn tar_layer(content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_path("hello.txt").unwrap();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append(&h, content).unwrap();
    b.into_inner().unwrap()
}

/// Pushes a one-layer image whose file holds `content` to `reference` (e.g.
/// `127.0.0.1:PORT/lab/app:v1`) and returns its manifest digest. Different contents give
/// different digests.
pub async fn push_image(client: &Client, reference: &str, content: &[u8]) -> Digest {
    let image: ImageRef = reference.parse().unwrap();
    let layer = Bytes::from(tar_layer(content));
    let layer_desc = Descriptor::for_bytes(media_types::OCI_LAYER, &layer);
    client
        .push_blob(&image, &layer_desc.digest, layer)
        .await
        .unwrap();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/cat", "/hello.txt"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_desc.digest.to_string()]}
    });
    let config = Bytes::from(serde_json::to_vec(&config).unwrap());
    let config_desc = Descriptor::for_bytes(media_types::OCI_CONFIG, &config);
    client
        .push_blob(&image, &config_desc.digest, config)
        .await
        .unwrap();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: config_desc,
        layers: vec![layer_desc],
        subject: None,
        annotations: Default::default(),
    };
    let reference_part = image.reference();
    client
        .put_manifest(
            &image,
            &reference_part,
            Bytes::from(to_json(&manifest)),
            media_types::OCI_MANIFEST,
        )
        .await
        .unwrap()
        .digest
}
