//! `sigil attest` / `verify-attestation` end to end on `sigil up`'s embedded stack with a key:
//! both storage generations (`.att` layers and bundle referrers), and the bad-input cases of
//! issue 8, each failing with a message naming the check. Keyless (lab Exercise 5):
//! `attest_keyless.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use bytes::Bytes;
use sigil_core::{media_types, Digest, ImageRef};
use sigil_oci::cosign::{attach_layer, fetch_layers, Attachment, NewLayer};
use sigil_testkit::image::{client, push_image};

#[path = "support/attest.rs"]
mod attest;
#[path = "support/cli.rs"]
mod cli;
use attest::{rt, statements, up, SPDX};
use cli::{fails, ok, sigil, text};

/// Copies `from`'s first `.att` layer to `to`'s `.att` image after `edit` changes the
/// envelope JSON, keeping the annotations (certificate, Rekor bundle).
fn forge(repo: &ImageRef, from: &Digest, to: &Digest, edit: impl Fn(&mut serde_json::Value)) {
    rt().block_on(async {
        let c = client();
        let layers = fetch_layers(&c, repo, from, Attachment::Attestation)
            .await
            .unwrap()
            .unwrap();
        let layer = &layers[0];
        let mut env: serde_json::Value = serde_json::from_slice(&layer.payload).unwrap();
        edit(&mut env);
        attach_layer(
            &c,
            repo,
            to,
            Attachment::Attestation,
            NewLayer {
                media_type: media_types::DSSE_ENVELOPE.to_owned(),
                payload: Bytes::from(serde_json::to_vec(&env).unwrap()),
                annotations: layer.descriptor.annotations.clone(),
            },
        )
        .await
        .unwrap();
    });
}

#[test]
fn key_attestations_both_generations_and_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let stack = up(&d.join("state"));
    let env = &stack.env;
    let repo = format!("{}/owner/attest", stack.get("SIGIL_REGISTRY"));
    let repo_ref: ImageRef = repo.parse().unwrap();
    let digests: Vec<Digest> = rt().block_on(async {
        let c = client();
        let mut out = Vec::new();
        for (tag, content) in [
            ("v1", "attested"),
            ("other", "another image"),
            ("nolog", "attested without the log"),
            ("bundle", "attested as a bundle"),
            ("forged", "forged attestations"),
            ("v3", "signed as cosign v3"),
        ] {
            out.push(push_image(&c, &format!("{repo}:{tag}"), content.as_bytes()).await);
        }
        out
    });
    let at = |i: usize| format!("{repo}@{}", digests[i]);
    ok(sigil(d, env, &["generate-key-pair"]));
    std::fs::write(d.join("sbom.json"), SPDX).unwrap();
    std::fs::write(d.join("not-json.txt"), "SPDXVersion: SPDX-2.3\n").unwrap();

    // The .att layer, logged as a dsse entry.
    let o = ok(sigil(
        d,
        env,
        &[
            "attest",
            "--key",
            "cosign.key",
            "--predicate",
            "sbom.json",
            "--type",
            "spdxjson",
            "-y",
            &at(0),
        ],
    ));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("tlog entry created with index:"), "{err}");
    assert!(
        err.contains(&format!("sha256-{}.att", digests[0].hex())),
        "{err}"
    );
    let o = ok(sigil(
        d,
        env,
        &[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "spdxjson",
            &format!("{repo}:v1"),
        ],
    ));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Existence of the claims in the transparency log was verified offline"),
        "{err}"
    );
    let st = statements(&o);
    assert_eq!(st.len(), 1);
    assert_eq!(st[0]["_type"], "https://in-toto.io/Statement/v0.1");
    assert_eq!(st[0]["predicateType"], "https://spdx.dev/Document");
    assert_eq!(st[0]["subject"][0]["name"], repo);
    assert_eq!(st[0]["subject"][0]["digest"]["sha256"], digests[0].hex());
    assert_eq!(st[0]["predicate"]["spdxVersion"], "SPDX-2.3");
    // The layer is as cosign writes it.
    let layers = rt().block_on(async {
        fetch_layers(&client(), &repo_ref, &digests[0], Attachment::Attestation)
            .await
            .unwrap()
            .unwrap()
    });
    assert_eq!(layers[0].descriptor.media_type, media_types::DSSE_ENVELOPE);
    assert_eq!(
        layers[0].annotation("predicateType"),
        Some("https://spdx.dev/Document")
    );
    assert_eq!(layers[0].signature_b64(), Some(""));
    let rekor: serde_json::Value = serde_json::from_str(layers[0].bundle().unwrap()).unwrap();
    let body: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(rekor["Payload"]["body"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["kind"], "dsse");
    assert_eq!(body["apiVersion"], "0.0.1");

    // A predicate type other than the one asked.
    fails(
        sigil(
            d,
            env,
            &[
                "verify-attestation",
                "--key",
                "cosign.pub",
                "--type",
                "slsaprovenance",
                &at(0),
            ],
        ),
        12,
        "predicate type mismatch: expected `https://slsa.dev/provenance/v0.2`",
    );
    // Another key.
    std::fs::create_dir(d.join("k2")).unwrap();
    ok(sigil(&d.join("k2"), env, &["generate-key-pair"]));
    fails(
        sigil(
            d,
            env,
            &["verify-attestation", "--key", "k2/cosign.pub", &at(0)],
        ),
        12,
        "invalid signature",
    );
    // Nothing attached.
    fails(
        sigil(
            d,
            env,
            &["verify-attestation", "--key", "cosign.pub", &at(1)],
        ),
        10,
        "no attestations found",
    );

    // Without a log entry: refused unless the log is ignored.
    ok(sigil(
        d,
        env,
        &[
            "attest",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "--predicate",
            "sbom.json",
            "--type",
            "spdxjson",
            "-y",
            &at(2),
        ],
    ));
    fails(
        sigil(
            d,
            env,
            &["verify-attestation", "--key", "cosign.pub", &at(2)],
        ),
        12,
        "no transparency log entry",
    );
    ok(sigil(
        d,
        env,
        &[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &at(2),
        ],
    ));

    // Bundle referrer (cosign v3 storage); --bundle writes it too.
    ok(sigil(
        d,
        env,
        &[
            "attest",
            "--key",
            "cosign.key",
            "--new-bundle-format",
            "--bundle",
            "att.sigstore.json",
            "--predicate",
            "sbom.json",
            "--type",
            "spdxjson",
            "-y",
            &at(3),
        ],
    ));
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("att.sigstore.json")).unwrap()).unwrap();
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"],
        "dsse"
    );
    let o = ok(sigil(
        d,
        env,
        &[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "spdxjson",
            &at(3),
        ],
    ));
    assert_eq!(
        statements(&o)[0]["subject"][0]["digest"]["sha256"],
        digests[3].hex()
    );
    let index = rt().block_on(async {
        client()
            .referrers(
                &repo_ref,
                &digests[3],
                Some(media_types::SIGSTORE_BUNDLE_V03),
            )
            .await
            .unwrap()
    });
    assert_eq!(index.manifests.len(), 1, "{index:?}");
    assert_eq!(
        index.manifests[0]
            .annotations
            .get("dev.sigstore.bundle.predicateType")
            .map(String::as_str),
        Some("https://spdx.dev/Document")
    );
    fails(
        sigil(
            d,
            env,
            &[
                "verify-attestation",
                "--key",
                "cosign.pub",
                "--type",
                "cyclonedx",
                &at(3),
            ],
        ),
        12,
        "predicate type mismatch",
    );

    // Forged .att layers on image 4, from image 0's valid attestation.
    // (a) the statement's subject is another image.
    forge(&repo_ref, &digests[0], &digests[4], |_| {});
    fails(
        sigil(
            d,
            env,
            &["verify-attestation", "--key", "cosign.pub", &at(4)],
        ),
        12,
        "invalid or missing digest in claim",
    );
    let forged_at = |edit: fn(&mut serde_json::Value), needle: &str| {
        let digest = rt().block_on(async {
            push_image(
                &client(),
                &format!("{repo}:forged-{}", needle.len()),
                needle.as_bytes(),
            )
            .await
        });
        forge(&repo_ref, &digests[0], &digest, edit);
        fails(
            sigil(
                d,
                env,
                &[
                    "verify-attestation",
                    "--key",
                    "cosign.pub",
                    &format!("{repo}@{digest}"),
                ],
            ),
            12,
            needle,
        );
    };
    // (b) a payload type other than in-toto.
    forged_at(
        |e| e["payloadType"] = "text/plain".into(),
        "DSSE payload type is `text/plain`",
    );
    // (c) a tampered payload.
    forged_at(
        |e| {
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut p = b64.decode(e["payload"].as_str().unwrap()).unwrap();
            let n = p.len();
            p[n - 3] ^= 1;
            e["payload"] = b64.encode(p).into();
        },
        "invalid signature",
    );
    // (d) a tampered signature.
    forged_at(
        |e| {
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut s = b64
                .decode(e["signatures"][0]["sig"].as_str().unwrap())
                .unwrap();
            let n = s.len();
            s[n - 2] ^= 1;
            e["signatures"][0]["sig"] = b64.encode(s).into();
        },
        "invalid signature",
    );

    // Bad predicates fail before anything is signed.
    fails(
        sigil(
            d,
            env,
            &[
                "attest",
                "--key",
                "cosign.key",
                "--predicate",
                "not-json.txt",
                "--type",
                "spdxjson",
                "-y",
                &at(1),
            ],
        ),
        1,
        "predicate for type `spdxjson` is not valid JSON",
    );
    fails(
        sigil(
            d,
            env,
            &[
                "attest",
                "--key",
                "cosign.key",
                "--predicate",
                "sbom.json",
                "--type",
                "spdx json",
                "-y",
                &at(1),
            ],
        ),
        1,
        "unknown predicate type `spdx json`",
    );
    let big = std::fs::File::create(d.join("big.json")).unwrap();
    big.set_len(33 << 20).unwrap();
    fails(
        sigil(
            d,
            env,
            &[
                "attest",
                "--key",
                "cosign.key",
                "--predicate",
                "big.json",
                "--type",
                "spdxjson",
                "-y",
                &at(1),
            ],
        ),
        1,
        "larger than the 33554432-byte limit",
    );
    fails(
        sigil(
            d,
            env,
            &["verify-attestation", "--key", "cosign.pub", &at(1)],
        ),
        10,
        "no attestations found",
    );

    // cosign v3 signatures: `sign --new-bundle-format`, read back by `verify`.
    ok(sigil(
        d,
        env,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--new-bundle-format",
            "-a",
            "env=prod",
            "-y",
            &at(5),
        ],
    ));
    let o = ok(sigil(
        d,
        env,
        &["verify", "--key", "cosign.pub", "-a", "env=prod", &at(5)],
    ));
    let payloads: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        payloads[0]["critical"]["type"],
        "https://sigstore.dev/cosign/sign/v1"
    );
    assert_eq!(
        payloads[0]["critical"]["image"]["docker-manifest-digest"],
        digests[5].to_string()
    );
    assert_eq!(payloads[0]["optional"]["env"], "prod");
    fails(
        sigil(
            d,
            env,
            &["verify", "--key", "cosign.pub", "-a", "env=dev", &at(5)],
        ),
        12,
        "missing or incorrect annotation",
    );
    fails(
        sigil(d, env, &["verify", "--key", "k2/cosign.pub", &at(5)]),
        12,
        "no matching signatures",
    );
    // The v3 signature is not an attestation unless asked for by its type.
    fails(
        sigil(
            d,
            env,
            &["verify-attestation", "--key", "cosign.pub", &at(5)],
        ),
        10,
        "no attestations found",
    );
    ok(sigil(
        d,
        env,
        &[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "https://sigstore.dev/cosign/sign/v1",
            &at(5),
        ],
    ));
    // What is attached, and the stored documents.
    let o = ok(sigil(d, env, &["tree", &at(0)]));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!(
            "Attestations for an image tag: {repo}:sha256-{}.att",
            digests[0].hex()
        )) && out.contains("(https://spdx.dev/Document)"),
        "{out}"
    );
    let o = ok(sigil(d, env, &["tree", "--json", &at(3)]));
    let tree: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        tree["referrers"][0]["predicateType"],
        "https://spdx.dev/Document"
    );
    assert_eq!(tree["attestations"].as_array().unwrap().len(), 0);
    let o = ok(sigil(d, env, &["tree", "--json", &at(5)]));
    let tree: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        tree["referrers"][0]["artifactType"],
        media_types::SIGSTORE_BUNDLE_V03
    );
    assert_eq!(
        tree["referrers"][0]["predicateType"],
        "https://sigstore.dev/cosign/sign/v1"
    );
    for (i, kind, lines) in [
        (0, "attestation", 1),
        (3, "attestation", 1),
        (5, "signature", 1),
        (5, "attestation", 0),
        (1, "signature", 0),
    ] {
        let o = ok(sigil(d, env, &["download", kind, &at(i)]));
        let n = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .count();
        assert_eq!(n, lines, "download {kind} of image {i}: {}", text(&o));
    }
    let o = ok(sigil(d, env, &["download", "attestation", &at(3)]));
    assert_eq!(
        statements(&o)[0]["predicateType"],
        "https://spdx.dev/Document"
    );
    let o = ok(sigil(
        d,
        env,
        &[
            "download",
            "attestation",
            "--predicate-type",
            "slsaprovenance",
            &at(0),
        ],
    ));
    assert!(o.stdout.is_empty(), "{}", text(&o));
}
