use std::path::{Path, PathBuf};

use super::*;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Every policy file of the Kyverno corpus (testdata/kyverno, see SOURCE.md).
fn corpus() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![testdata().join("kyverno")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                if text.contains("verifyImages") && text.contains("kyverno.io/v") {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_verify_images_policy_of_the_corpus_parses() {
    let files = corpus();
    assert!(files.len() >= 20, "corpus too small: {files:?}");
    let mut policies = 0;
    let mut refused = Vec::new();
    for f in &files {
        // Keys sigil cannot resolve (KMS, Secrets, `{{ }}` variables) load with a warning
        // saying what is missing; the images such a rule matches are refused.
        let set = load_policies(f).unwrap_or_else(|e| panic!("{}: {e:?}", f.display()));
        if set.warnings.iter().any(|w| {
            w.contains("needs a KMS client")
                || w.contains("needs a Kubernetes API client")
                || w.contains("needs Kyverno's policy context")
        }) {
            let rel = f.strip_prefix(testdata().join("kyverno")).unwrap();
            refused.push(rel.display().to_string());
        }
        for p in &set.policies {
            if p.has_verify_images() {
                policies += 1;
                for r in &p.spec.rules {
                    for iv in &r.verify_images {
                        assert!(!iv.references().is_empty(), "{}", f.display());
                    }
                }
            }
        }
    }
    assert!(policies >= 20, "{policies}");
    refused.sort();
    assert_eq!(
        refused,
        [
            "kyverno-conformance/failure-policy-test-noconfigmap-diffimage-success/policy.yaml",
            "kyverno-policies/verify-image-gcpkms.yaml",
            "kyverno-policies/verify-image-with-multi-keys.yaml",
        ]
    );
}

#[test]
fn crd_defaults_are_applied() {
    let set =
        load_policies(&testdata().join("kyverno/kyverno-conformance/keyed-basic/policy.yaml"))
            .unwrap();
    let p = &set.policies[0];
    let iv = &p.spec.rules[0].verify_images[0];
    assert!(iv.mutate_digest() && iv.verify_digest() && iv.required() && iv.use_cache());
    assert_eq!(iv.type_, SignatureType::Cosign);
    assert_eq!(p.action(iv), FailureAction::Enforce);
    assert_eq!(p.failure_policy(), FailurePolicy::Fail);
    let keys = iv.attestors[0].entries[0].keys.as_ref().unwrap();
    assert!(keys.rekor.as_ref().unwrap().ignore_tlog);

    let lab = load_policies(&testdata().join("require-signed-images.yml")).unwrap();
    let p = &lab.policies[0];
    let iv = &p.spec.rules[0].verify_images[0];
    assert_eq!(p.action(iv), FailureAction::Enforce);
    assert!(iv.mutate_digest() && iv.required());
    let k = iv.attestors[0].entries[0].keyless.as_ref().unwrap();
    assert_eq!(
        k.issuer.as_deref(),
        Some("https://token.actions.githubusercontent.com")
    );

    let audit =
        load_policies(&testdata().join("kyverno/kyverno-policies/verify-image-slsa.yaml")).unwrap();
    let p = &audit.policies[0];
    assert_eq!(p.spec_action(), FailureAction::Audit);
}

#[test]
fn several_pems_are_split_under_one_count() {
    // The model, read without the load checks (its keys are `{{ }}` variables, which load
    // with a warning: see the corpus test).
    let path = testdata().join("kyverno/kyverno-policies/verify-image-with-multi-keys.yaml");
    let v: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let policy: Policy = serde_json::from_value(v).unwrap();
    let iv = &policy.spec.rules[0].verify_images[0];
    let sets = iv.effective_attestors();
    assert_eq!(sets[0].required_count(), 2);
    assert!(sets[0].entries.len() >= 2);
}

fn parse_err(yaml: &str) -> String {
    parse_policies(yaml, "test").unwrap_err().to_string()
}

const HEAD: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    verifyImages:\n";

#[test]
fn kyverno_policy_checks() {
    let e = parse_err(&format!(
        "{HEAD}    - attestors: [{{entries: [{{keys: {{publicKeys: x}}}}]}}]\n"
    ));
    assert!(e.contains("An image reference is required"), "{e}");
    let e = parse_err(&format!(
        "{HEAD}    - imageReferences: ['*']\n      attestors: [{{entries: []}}]\n"
    ));
    assert!(e.contains("entries must not be empty"), "{e}");
    let e = parse_err(&format!(
        "{HEAD}    - imageReferences: ['*']\n      attestors: [{{count: 2, entries: [{{keys: {{publicKeys: x}}}}]}}]\n"
    ));
    assert!(e.contains("count 2"), "{e}");
    let e = parse_err(&format!(
        "{HEAD}    - imageReferences: ['*']\n      attestors: [{{entries: [{{keyless: {{subject: s}}}}]}}]\n"
    ));
    assert!(e.contains("either rekor or roots"), "{e}");
    let e = parse_err(&format!(
        "{HEAD}    - imageReferences: ['*']\n      attestors: [{{entries: [{{keyless: {{subjectRegExp: '(', rekor: {{url: u}}}}}}]}}]\n"
    ));
    assert!(e.contains("bad regexp"), "{e}");
    let e = parse_err(&format!(
        "{HEAD}    - imageReferences: ['*']\n      attestors: [{{entries: [{{}}]}}]\n"
    ));
    assert!(e.contains("exactly one of"), "{e}");
    let e = parse_err(&format!(
        "{HEAD}    - imageReferences: ['{{{{request.x}}}}']\n"
    ));
    assert!(e.contains("variables are not allowed"), "{e}");
    let e = parse_err("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec: {rules: [{name: r, verifyImages: [{imageReferences: 7}]}]}\n");
    assert!(e.contains("policy `p`"), "{e}");
    let e = parse_err(": : :\n");
    assert!(e.contains("not valid YAML"), "{e}");
}

#[test]
fn other_documents_are_skipped_with_a_warning() {
    let set = load_policies(
        &testdata().join("kyverno/kyverno-conformance/skip-image-reference/policy.yaml"),
    )
    .unwrap();
    assert_eq!(set.policies.len(), 1);
    assert_eq!(set.warnings.len(), 2, "{:?}", set.warnings);
}
