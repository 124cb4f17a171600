//! Lab Exercise 5 verbatim on `sigil up`'s embedded stack, keyless: sbom → attest --type
//! spdxjson → verify-attestation by identity, in both storage generations, and
//! `sign --new-bundle-format` read back by `verify`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use sigil_testkit::image::{client, push_image};
use sigil_testkit::stack::Stack;

#[path = "support/attest.rs"]
mod attest;
#[path = "support/cli.rs"]
mod cli;
use attest::{rt, statements, up, IDENTITY, ISSUER};
use cli::{fails, ok, sigil, text};

/// The lab workflow's environment.
fn workflow_env(stack: &Stack) -> Vec<(String, String)> {
    stack.workflow_env(
        Path::new(env!("CARGO_BIN_EXE_sigil")),
        "owner/cosign-lab",
        ".github/workflows/sign.yml",
        "refs/tags/v1.0.0",
    )
}

#[test]
fn exercise_five_keyless_on_the_embedded_stack() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let stack = up(&d.join("state"));
    let env = &stack.env;
    let repo = format!("{}/owner/cosign-lab", stack.get("SIGIL_REGISTRY"));
    let (image, bundled, v3) = rt().block_on(async {
        let c = client();
        (
            push_image(&c, &format!("{repo}:v1.0.0"), b"the lab image").await,
            push_image(&c, &format!("{repo}:v1.1.0"), b"attested as a bundle").await,
            push_image(&c, &format!("{repo}:v2.0.0"), b"signed as cosign v3").await,
        )
    });
    let workflow = workflow_env(&stack);

    // Step 1: `syft IMAGE -o spdx-json > sbom.spdx.json`.
    let o = ok(sigil(
        d,
        env,
        &["sbom", &format!("{repo}:v1.0.0"), "-o", "spdx-json", "-q"],
    ));
    std::fs::write(d.join("sbom.spdx.json"), &o.stdout).unwrap();
    // Step 2 verbatim, as the workflow.
    let o = ok(sigil(
        d,
        &workflow,
        &[
            "attest",
            "--predicate",
            "sbom.spdx.json",
            "--type",
            "spdxjson",
            "--yes",
            &format!("{repo}:v1.0.0"),
        ],
    ));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("sha256-{}.att", image.hex())),
        "{}",
        text(&o)
    );
    // Step 3 verbatim.
    let verify = |identity: &str, tag: &str, kind: &str| {
        sigil(
            d,
            env,
            &[
                "verify-attestation",
                "--type",
                kind,
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
                ISSUER,
                &format!("{repo}:{tag}"),
            ],
        )
    };
    let o = ok(verify(IDENTITY, "v1.0.0", "spdxjson"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("The code-signing certificate was verified using trusted certificate authority certificates"),
        "{err}"
    );
    let st = statements(&o);
    assert_eq!(st[0]["predicateType"], "https://spdx.dev/Document");
    assert_eq!(st[0]["subject"][0]["digest"]["sha256"], image.hex());
    assert_eq!(st[0]["predicate"]["spdxVersion"], "SPDX-2.3");
    // Another workflow's identity, and another type.
    fails(
        verify(
            "https://github.com/attacker/cosign-lab/.github/workflows/sign.yml@refs/tags/v1.0.0",
            "v1.0.0",
            "spdxjson",
        ),
        12,
        "none of the expected identities matched",
    );
    fails(
        verify(IDENTITY, "v1.0.0", "cyclonedx"),
        12,
        "predicate type mismatch",
    );
    // The keyless `.att` layer carries no log entry when the log is refused: never accepted.
    fails(
        sigil(
            d,
            env,
            &[
                "verify-attestation",
                "--insecure-ignore-tlog",
                "--certificate-identity",
                IDENTITY,
                "--certificate-oidc-issuer",
                ISSUER,
                &format!("{repo}:v1.0.0"),
            ],
        ),
        12,
        "short-lived certificate",
    );

    // Keyless bundle referrer; the SBOM generated and piped in one step
    // (`sigil sbom IMAGE -o spdx-json | sigil attest --predicate - …`).
    let sbom = ok(sigil(
        d,
        env,
        &[
            "sbom",
            &format!("{repo}@{bundled}"),
            "-o",
            "spdx-json",
            "-q",
        ],
    ));
    let mut attest = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .current_dir(d)
        .env_remove("COSIGN_REPOSITORY")
        .envs(workflow.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .args([
            "attest",
            "--new-bundle-format",
            "--bundle",
            "lab.sigstore.json",
            "--predicate",
            "-",
            "--type",
            "spdxjson",
            "--yes",
            &format!("{repo}@{bundled}"),
        ])
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = attest.stdin.take().unwrap();
        stdin.write_all(&sbom.stdout).unwrap();
    }
    ok(attest.wait_with_output().unwrap());
    let o = ok(verify(IDENTITY, "v1.1.0", "spdxjson"));
    assert_eq!(
        statements(&o)[0]["subject"][0]["digest"]["sha256"],
        bundled.hex()
    );
    fails(
        verify(
            "https://github.com/attacker/x/.github/workflows/a.yml@refs/heads/main",
            "v1.1.0",
            "spdxjson",
        ),
        12,
        "none of the expected identities matched",
    );
    // The written bundle verifies on its own (sigil verify-blob with the digest).
    ok(sigil(
        d,
        env,
        &[
            "verify-blob",
            "--bundle",
            "lab.sigstore.json",
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
            &bundled.to_string(),
        ],
    ));

    // cosign v3 keyless signature, read back by `verify` (Exercise 3's command).
    ok(sigil(
        d,
        &workflow,
        &[
            "sign",
            "--new-bundle-format",
            "--yes",
            &format!("{repo}:v2.0.0"),
        ],
    ));
    let o = ok(sigil(
        d,
        env,
        &[
            "verify",
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
            &format!("{repo}:v2.0.0"),
        ],
    ));
    let payloads: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        payloads[0]["critical"]["image"]["docker-manifest-digest"],
        v3.to_string()
    );
}
