//! Attestation interoperability with the real peers (`scripts/install-peers.sh`):
//! - sigstore-python 4.5 verifies the DSSE bundle `sigil attest --new-bundle-format` makes
//!   (`verify identity` against the stack's trust config), and sigil verifies the DSSE bundle
//!   `sigstore attest` makes against the same stack, as a referrer (`verify-attestation`) and
//!   as a file (`verify-blob`);
//! - oras-py lists sigil's bundle referrers through the referrers API of sigil's registry;
//! - `@sigstore/oci` (npm) attaches a bundle to an image on distribution 2.8, which has no
//!   referrers API, through the `sha256-<hex>` fallback index; sigil finds and verifies it,
//!   and sigil's own referrers on that registry go through the same fallback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sigil_core::{media_types, Digest, ImageRef};
use sigil_oci::referrers::{push_bundle_referrer, ANNOTATION_PREDICATE_TYPE};
use sigil_testkit::image::{client, push_image};
use sigil_testkit::stack::Stack;
use sigil_testkit::{peers_venv, start_distribution, venv_bin};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const IDENTITY: &str =
    "https://github.com/owner/cosign-lab/.github/workflows/sign.yml@refs/tags/v1.0.0";
/// sigstore-python attests SLSA provenance only.
const PROVENANCE: &str = r#"{"buildDefinition":{"buildType":"https://example.com/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/builder"}}}"#;
const SPDX: &str = r#"{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"lab","packages":[]}"#;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_sigil"))
}

fn workflow(stack: &Stack) -> Vec<(String, String)> {
    stack.workflow_env(
        bin(),
        "owner/cosign-lab",
        ".github/workflows/sign.yml",
        "refs/tags/v1.0.0",
    )
}

fn run(cmd: &mut Command, env: &[(String, String)]) -> Output {
    for var in [
        "GITHUB_ACTIONS",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "SIGSTORE_ID_TOKEN",
        "COSIGN_REPOSITORY",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output, what: &str) -> Output {
    assert!(o.status.success(), "{what}: {}", text(&o));
    o
}

fn sigil(d: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    run(Command::new(bin()).current_dir(d).args(args), env)
}

fn sigstore(d: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    run(
        Command::new(venv_bin("sigstore")).current_dir(d).args(args),
        env,
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Pushes an image and writes its manifest bytes to `file` (their SHA-256 is the digest the
/// statements name, so Sigstore clients can take the manifest as the artifact).
fn image_with_manifest(reference: &str, content: &[u8], file: &Path) -> Digest {
    rt().block_on(async {
        let c = client();
        let digest = push_image(&c, reference, content).await;
        let image: ImageRef = reference.parse().unwrap();
        let m = c
            .get_manifest(&image.with_digest(digest.clone()))
            .await
            .unwrap();
        std::fs::write(file, &m.bytes).unwrap();
        digest
    })
}

fn verify_attestation(
    d: &Path,
    env: &[(String, String)],
    image: &str,
    identity: &str,
    kind: &str,
) -> Output {
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
            image,
        ],
    )
}

/// `sigstore attest` of `artifact` as the workflow, with the stack's CA and log.
fn python_attest(d: &Path, stack: &Stack, wf: &[(String, String)], artifact: &str, out: &str) {
    ok(
        sigstore(
            d,
            wf,
            &[
                "--trust-config",
                &stack.get("SIGIL_TRUST_CONFIG"),
                "attest",
                "--predicate",
                "provenance.json",
                "--predicate-type",
                "https://slsa.dev/provenance/v1",
                "--bundle",
                out,
                "--overwrite",
                artifact,
            ],
        ),
        "sigstore attest",
    );
}

#[test]
fn sigstore_python_and_sigil_verify_each_others_dsse_bundles() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let stack = Stack::up(bin(), &d.join("state"));
    let env = &stack.env;
    let wf = workflow(&stack);
    std::fs::write(d.join("sbom.json"), SPDX).unwrap();
    std::fs::write(d.join("provenance.json"), PROVENANCE).unwrap();
    let registry = stack.get("SIGIL_REGISTRY");
    let repo = format!("{registry}/owner/cosign-lab");
    let digest = image_with_manifest(&format!("{repo}:v1.0.0"), b"lab", &d.join("image.manifest"));
    let pinned = format!("{repo}@{digest}");

    // sigil → sigstore-python.
    ok(
        sigil(
            d,
            &wf,
            &[
                "attest",
                "--new-bundle-format",
                "--bundle",
                "sigil.sigstore.json",
                "--predicate",
                "sbom.json",
                "--type",
                "spdxjson",
                "-y",
                &pinned,
            ],
        ),
        "sigil attest",
    );
    let py_verify = |bundle: &str, identity: &str| {
        sigstore(
            d,
            &[],
            &[
                "--trust-config",
                &stack.get("SIGIL_TRUST_CONFIG"),
                "verify",
                "identity",
                "--offline",
                "--bundle",
                bundle,
                "--cert-identity",
                identity,
                "--cert-oidc-issuer",
                ISSUER,
                "image.manifest",
            ],
        )
    };
    let o = ok(
        py_verify("sigil.sigstore.json", IDENTITY),
        "sigstore verify identity",
    );
    assert!(text(&o).contains("OK: image.manifest"), "{}", text(&o));
    assert!(!py_verify(
        "sigil.sigstore.json",
        "https://github.com/attacker/x/.github/workflows/a.yml@refs/heads/main"
    )
    .status
    .success());

    // sigstore-python → sigil, as a file and as a referrer.
    python_attest(d, &stack, &wf, "image.manifest", "py.sigstore.json");
    ok(
        sigil(
            d,
            env,
            &[
                "verify-blob",
                "--bundle",
                "py.sigstore.json",
                "--certificate-identity",
                IDENTITY,
                "--certificate-oidc-issuer",
                ISSUER,
                "image.manifest",
            ],
        ),
        "sigil verify-blob of sigstore-python's DSSE bundle",
    );
    let image: ImageRef = repo.parse().unwrap();
    rt().block_on(async {
        let c = client();
        let subject = c.resolve(&image.with_digest(digest.clone())).await.unwrap();
        let bundle = std::fs::read(d.join("py.sigstore.json")).unwrap();
        push_bundle_referrer(
            &c,
            &image,
            &subject,
            bundle.into(),
            BTreeMap::from([(
                ANNOTATION_PREDICATE_TYPE.to_owned(),
                "https://slsa.dev/provenance/v1".to_owned(),
            )]),
        )
        .await
        .unwrap();
    });
    for kind in ["slsaprovenance1", "spdxjson"] {
        let o = ok(
            verify_attestation(d, env, &pinned, IDENTITY, kind),
            "sigil verify-attestation",
        );
        let lines = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .count();
        assert_eq!(lines, 1, "the {kind} bundle verifies: {}", text(&o));
    }
    let o = verify_attestation(
        d,
        env,
        &pinned,
        "https://github.com/attacker/x/.github/workflows/a.yml@refs/heads/main",
        "slsaprovenance1",
    );
    assert_eq!(o.status.code(), Some(12), "{}", text(&o));

    // oras-py lists both bundles through sigil's referrers API.
    let script = "import json,sys,oras.client\n\
c=oras.client.OrasClient(hostname=sys.argv[1],insecure=True)\n\
r=c.do_request(f'http://{sys.argv[1]}/v2/{sys.argv[2]}/referrers/{sys.argv[3]}','GET',headers={'Accept':'application/vnd.oci.image.index.v1+json'})\n\
assert r.status_code==200,r.status_code\n\
print(json.dumps([[m.get('artifactType'),m.get('annotations',{}).get('dev.sigstore.bundle.predicateType')] for m in r.json()['manifests']]))\n";
    let o = ok(
        run(
            Command::new(venv_bin("python"))
                .arg("-c")
                .arg(script)
                .args([registry.as_str(), "owner/cosign-lab", &digest.to_string()]),
            &[],
        ),
        "oras-py referrers listing",
    );
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let mut types: Vec<&str> = listed
        .iter()
        .map(|entry| {
            assert_eq!(entry[0], media_types::SIGSTORE_BUNDLE_V03);
            entry[1].as_str().unwrap()
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "https://slsa.dev/provenance/v1",
            "https://spdx.dev/Document"
        ]
    );
}

/// `@sigstore/oci` from the peers' npm prefix, or a panic saying how to install it.
fn sigstore_oci_modules() -> PathBuf {
    let modules = peers_venv().join("npm/node_modules");
    assert!(
        modules.join("@sigstore/oci/package.json").exists(),
        "peer @sigstore/oci is missing from {}: run scripts/install-peers.sh (npm install --prefix .venv-peers/npm @sigstore/oci@0.7)",
        modules.display()
    );
    modules
}

#[test]
fn sigstore_oci_bundle_through_the_fallback_tag_on_distribution() {
    let modules = sigstore_oci_modules();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let stack = Stack::up(bin(), &d.join("state"));
    let env = &stack.env;
    let wf = workflow(&stack);
    let dist = start_distribution();
    std::fs::write(d.join("sbom.json"), SPDX).unwrap();
    std::fs::write(d.join("provenance.json"), PROVENANCE).unwrap();
    let repo = format!("{}/lab/app", dist.addr);
    let digest = image_with_manifest(&format!("{repo}:v1"), b"app", &d.join("app.manifest"));
    let pinned = format!("{repo}@{digest}");

    python_attest(d, &stack, &wf, "app.manifest", "py.sigstore.json");
    let js = "const fs=require('fs');const {attachArtifactToImage}=require('@sigstore/oci');\n\
const [imageName,imageDigest,path]=process.argv.slice(2);const artifact=fs.readFileSync(path);\n\
attachArtifactToImage({imageName,imageDigest,artifact,mediaType:JSON.parse(artifact).mediaType})\n\
.then(d=>console.log(JSON.stringify(d))).catch(e=>{console.error('attach failed:',e.message,e.cause?String(e.cause):'');process.exit(1);});\n";
    std::fs::write(d.join("attach.js"), js).unwrap();
    ok(
        run(
            Command::new("node")
                .current_dir(d)
                .env("NODE_PATH", &modules)
                .args(["attach.js", &repo, &digest.to_string(), "py.sigstore.json"]),
            &[],
        ),
        "@sigstore/oci attachArtifactToImage",
    );
    // distribution has no referrers API: the bundle is listed in the fallback index only.
    let fallback = rt().block_on(async {
        let image: ImageRef = repo.parse().unwrap();
        client().referrers_fallback(&image, &digest).await.unwrap()
    });
    assert_eq!(fallback.manifests.len(), 1, "{fallback:?}");
    let o = ok(
        verify_attestation(d, env, &pinned, IDENTITY, "slsaprovenance1"),
        "sigil verify-attestation of the @sigstore/oci referrer",
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);

    // sigil's own referrer on the same registry adds itself to the fallback index.
    ok(
        sigil(
            d,
            &wf,
            &[
                "attest",
                "--new-bundle-format",
                "--predicate",
                "sbom.json",
                "--type",
                "spdxjson",
                "-y",
                &pinned,
            ],
        ),
        "sigil attest --new-bundle-format on distribution",
    );
    let fallback = rt().block_on(async {
        let image: ImageRef = repo.parse().unwrap();
        client().referrers_fallback(&image, &digest).await.unwrap()
    });
    assert_eq!(fallback.manifests.len(), 2, "{fallback:?}");
    for kind in ["slsaprovenance1", "spdxjson"] {
        let o = ok(
            verify_attestation(d, env, &pinned, IDENTITY, kind),
            "sigil verify-attestation, two referrers",
        );
        assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
    }
    let o = ok(sigil(d, env, &["tree", &pinned]), "sigil tree");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .matches("vnd.dev.sigstore.bundle.v0.3+json")
            .count(),
        2,
        "{}",
        text(&o)
    );
}
