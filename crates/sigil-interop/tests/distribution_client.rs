//! sigil's registry client against Debian's docker-registry (distribution 2.8): chunked
//! uploads, cross-repository mounts, tag pagination, and the referrers tag-schema fallback
//! (distribution 2.8 has no referrers API).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use bytes::Bytes;
use sigil_core::{media_types, Digest, ImageRef};
use sigil_oci::manifest::{to_json, Descriptor, ImageIndex, ImageManifest};
use sigil_oci::{referrers_tag, Client, ClientOptions, Keychain};
use sigil_testkit::image::push_image;
use sigil_testkit::start_distribution;

fn client(chunk_size: usize) -> Client {
    Client::new(ClientOptions {
        keychain: Keychain::Anonymous,
        chunk_size,
        ..ClientOptions::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_uploads_mounts_pagination_and_referrers_fallback() {
    let reg = tokio::task::spawn_blocking(start_distribution)
        .await
        .unwrap();
    let a: ImageRef = format!("{}/lab/a", reg.addr).parse().unwrap();
    let b: ImageRef = format!("{}/lab/b", reg.addr).parse().unwrap();

    // A blob larger than the chunk size goes up in PATCH chunks and comes back intact.
    let c = client(1024);
    let blob = Bytes::from(
        (0..10_000u32)
            .flat_map(|i| i.to_le_bytes())
            .collect::<Vec<u8>>(),
    );
    let digest = Digest::sha256(&blob);
    c.push_blob(&a, &digest, blob.clone()).await.unwrap();
    assert_eq!(c.get_blob(&a, &digest).await.unwrap(), blob);
    // Pushing it again is a no-op (HEAD finds it).
    c.push_blob(&a, &digest, blob.clone()).await.unwrap();
    // A digest that does not match the content is refused before anything is sent.
    assert!(c
        .push_blob(&a, &Digest::sha256(b"x"), blob.clone())
        .await
        .is_err());

    // Cross-repository mount.
    assert!(!c.blob_exists(&b, &digest).await.unwrap());
    assert!(c.mount_blob(&b, &digest, "lab/a").await.unwrap());
    assert!(c.blob_exists(&b, &digest).await.unwrap());

    // Tag pagination.
    for i in 0..5 {
        push_image(
            &c,
            &format!("{}/lab/tags:t{i}", reg.addr),
            format!("content {i}").as_bytes(),
        )
        .await;
    }
    let tags_repo: ImageRef = format!("{}/lab/tags", reg.addr).parse().unwrap();
    let mut tags = c.list_tags_paged(&tags_repo, 2).await.unwrap();
    tags.sort();
    assert_eq!(tags, vec!["t0", "t1", "t2", "t3", "t4"]);

    // Referrers: no API on distribution 2.8, so the client reads the `sha256-<hex>` index.
    let subject_digest = push_image(&c, &format!("{}/lab/app:v1", reg.addr), b"app").await;
    let app: ImageRef = format!("{}/lab/app:v1", reg.addr).parse().unwrap();
    assert!(c
        .referrers(&app, &subject_digest, None)
        .await
        .unwrap()
        .manifests
        .is_empty());
    let subject = c.resolve(&app).await.unwrap();
    let empty = Bytes::from_static(b"{}");
    let config = Descriptor::for_bytes(media_types::OCI_EMPTY, &empty);
    c.push_blob(&app, &config.digest, empty).await.unwrap();
    let layer_bytes = Bytes::from_static(b"{\"hello\":\"referrer\"}");
    let layer = Descriptor::for_bytes("application/json", &layer_bytes);
    c.push_blob(&app, &layer.digest, layer_bytes).await.unwrap();
    let artifact = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.to_owned()),
        artifact_type: Some("application/vnd.example+json".to_owned()),
        config,
        layers: vec![layer],
        subject: Some(subject),
        annotations: BTreeMap::new(),
    };
    let bytes = Bytes::from(to_json(&artifact));
    let pushed = c
        .put_manifest(
            &app,
            &Digest::sha256(&bytes).to_string(),
            bytes.clone(),
            media_types::OCI_MANIFEST,
        )
        .await
        .unwrap();
    assert!(
        !pushed.subject_indexed,
        "distribution 2.8 does not index referrers"
    );
    let mut entry = Descriptor::for_bytes(media_types::OCI_MANIFEST, &bytes);
    entry.artifact_type = Some("application/vnd.example+json".to_owned());
    let mut index = ImageIndex::empty();
    index.manifests.push(entry);
    c.put_manifest(
        &app,
        &referrers_tag(&subject_digest),
        Bytes::from(to_json(&index)),
        media_types::OCI_INDEX,
    )
    .await
    .unwrap();
    let found = c.referrers(&app, &subject_digest, None).await.unwrap();
    assert_eq!(found.manifests.len(), 1);
    assert_eq!(found.manifests[0].digest, pushed.digest);
    assert_eq!(
        c.referrers(&app, &subject_digest, Some("application/vnd.example+json"))
            .await
            .unwrap()
            .manifests
            .len(),
        1
    );
    assert!(c
        .referrers(&app, &subject_digest, Some("application/other"))
        .await
        .unwrap()
        .manifests
        .is_empty());
}
