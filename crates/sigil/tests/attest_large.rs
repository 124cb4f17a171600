//! A large SBOM attestation goes through `sigil up`'s log: the stack's log takes entries as
//! large as `sigil attest` takes predicates (public Rekor's 128 KiB cap would refuse the `dsse`
//! entry of any real SBOM), and `verify-attestation` checks the logged entry, not only the
//! envelope.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use sigil_testkit::image::{client, push_image};
use sigil_testkit::stack::Stack;

#[path = "support/cli.rs"]
mod cli;
use cli::{ok, sigil};

/// An SPDX 2.3 document of about `size` bytes (packages with purls, as Syft writes them).
fn spdx(size: usize) -> String {
    let mut packages = Vec::new();
    let mut len = 0;
    let mut i = 0;
    while len < size {
        let p = serde_json::json!({
            "name": format!("pkg-{i}"), "SPDXID": format!("SPDXRef-Package-{i}"),
            "versionInfo": format!("1.{i}.0"), "downloadLocation": "NOASSERTION",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                "referenceLocator": format!("pkg:deb/debian/pkg-{i}@1.{i}.0?arch=amd64")}]
        });
        len += p.to_string().len();
        packages.push(p);
        i += 1;
    }
    serde_json::json!({
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": "large", "documentNamespace": "https://example.com/large",
        "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: test"]},
        "packages": packages
    })
    .to_string()
}

#[test]
fn a_one_mib_sbom_attestation_is_logged_and_verified_with_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let stack = Stack::up(Path::new(env!("CARGO_BIN_EXE_sigil")), &d.join("state"));
    let env = &stack.env;
    let repo = format!("{}/owner/large", stack.get("SIGIL_REGISTRY"));
    let digest = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { push_image(&client(), &format!("{repo}:v1"), b"large sbom").await });
    let image = format!("{repo}@{digest}");
    std::fs::write(d.join("sbom.json"), spdx(1 << 20)).unwrap();
    ok(sigil(d, env, &["generate-key-pair"]));
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
            &image,
        ],
    ));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("tlog entry created with index:"), "{err}");
    let o = ok(sigil(
        d,
        env,
        &[
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "spdxjson",
            &image,
        ],
    ));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Existence of the claims in the transparency log was verified"),
        "{err}"
    );
}
