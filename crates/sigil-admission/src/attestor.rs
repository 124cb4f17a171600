//! The attestor → pipeline-policy mapping: one Kyverno attestor entry (`keys`,
//! `certificates`, `keyless`) becomes the `sigil_verify::ImagePolicy` that `sigil verify`
//! would apply for the equivalent flags. What the pipeline cannot check is refused with a
//! message, never skipped.

use std::sync::Arc;

use sigil_core::keys::PublicKey;
use sigil_core::trust_root::TrustedRoot;
use sigil_verify::{
    GithubExpectations, IdentityPolicy, ImagePolicy, Matcher, SctPolicy, TlogPolicy, Trust,
};

use crate::policy::{Attestor, Keyless};
use crate::verifier::VerifyError;
use crate::wildcard;

/// The attestor → pipeline-policy mapping.
/// - `keys.publicKeys` → `Trust::Key`; `rekor.ignoreTlog` → the log policy (Kyverno: an
///   omitted `rekor` block means the log is required); entry `annotations` → required
///   payload annotations.
/// - `keyless` → `Trust::Keyless` against the trusted root: `subject` (Kyverno wildcard,
///   against every SAN) OR `subjectRegExp` (unanchored, as Kyverno's Go `MatchString`);
///   `issuer` or `issuerRegExp`; `additionalExtensions` GitHub values (exact);
///   `ctlog.ignoreSCT` → the SCT policy.
///
/// Everything the pipeline cannot check is refused with a message, never skipped.
pub(crate) fn image_policy(
    entry: &Attestor,
    root: Option<Arc<TrustedRoot>>,
) -> Result<ImagePolicy, VerifyError> {
    let unsupported = |m: &str| Err(VerifyError::Unsupported(m.to_owned()));
    if let Some(keys) = &entry.keys {
        if keys.kms.is_some() {
            return unsupported(
                "KMS keys are not supported by sigil; give the public key in publicKeys",
            );
        }
        if keys.secret.is_some() {
            return unsupported(
                "keys from Kubernetes Secrets are not supported by sigil; give the public key in publicKeys",
            );
        }
        let pem = keys.public_keys.as_deref().unwrap_or("");
        if pem.contains("://") || pem.contains("{{") {
            return Err(VerifyError::Unsupported(format!(
                "key reference `{pem}` is not supported by sigil; give the PEM in publicKeys"
            )));
        }
        if keys
            .rekor
            .as_ref()
            .is_some_and(|r| r.pubkey.is_some() && !r.ignore_tlog)
        {
            return unsupported(
                "rekor.pubkey is not supported; put the log in the trust config (--trust-config)",
            );
        }
        let key = PublicKey::from_pem(pem.as_bytes())
            .map_err(|e| VerifyError::Failed(format!("invalid public key: {e}")))?;
        let ignore = keys.rekor.as_ref().is_some_and(|r| r.ignore_tlog);
        return Ok(ImagePolicy {
            trust: Trust::Key(key),
            tlog: if ignore {
                TlogPolicy::Ignore
            } else {
                TlogPolicy::Required
            },
            trusted_root: root,
            annotations: entry.annotations.clone(),
        });
    }
    if let Some(k) = &entry.keyless {
        return keyless_policy(k, entry, root);
    }
    if entry.certificates.is_some() {
        return unsupported(
            "certificate attestors are not available yet in sigil's verification pipeline; the image is refused",
        );
    }
    unsupported("attestor without keys, keyless or certificates")
}

fn keyless_policy(
    k: &Keyless,
    entry: &Attestor,
    root: Option<Arc<TrustedRoot>>,
) -> Result<ImagePolicy, VerifyError> {
    let unsupported = |m: String| Err(VerifyError::Unsupported(m));
    if k.roots.is_some() {
        return unsupported(
            "keyless.roots (a CA given in the policy) is not supported yet; put the CA in the trust config given by --trust-config".into(),
        );
    }
    if k.rekor.as_ref().is_some_and(|r| r.pubkey.is_some())
        || k.ctlog.as_ref().is_some_and(|c| c.pubkey.is_some())
    {
        return unsupported(
            "rekor.pubkey / ctlog.pubkey are not supported; put the log keys in the trust config given by --trust-config".into(),
        );
    }
    let Some(root) = root else {
        return unsupported(
            "keyless verification needs a trusted root: start the admission controller with --trust-config (or SIGIL_TRUST_CONFIG)".into(),
        );
    };
    let bad_re = |e: String| VerifyError::Failed(e);
    let identity = match (&k.subject, &k.subject_reg_exp) {
        (None, None) => Matcher::regex("").map_err(bad_re)?,
        (Some(s), None) if !wildcard::has_wildcard(s) => Matcher::Exact(s.clone()),
        (Some(s), None) => Matcher::regex(&wildcard_regex(s)).map_err(bad_re)?,
        (None, Some(r)) => Matcher::regex(r).map_err(bad_re)?,
        // Kyverno ORs the two.
        (Some(s), Some(r)) => {
            Matcher::regex(&format!("(?:{})|(?:{r})", wildcard_regex(s))).map_err(bad_re)?
        }
    };
    let issuer = match (&k.issuer, &k.issuer_reg_exp) {
        (None, None) => Matcher::regex("").map_err(bad_re)?,
        (Some(s), None) if !wildcard::has_wildcard(s) => Matcher::Exact(s.clone()),
        (Some(s), None) => Matcher::regex(&wildcard_regex(s)).map_err(bad_re)?,
        (None, Some(r)) => Matcher::regex(r).map_err(bad_re)?,
        (Some(_), Some(_)) => {
            return unsupported(
                "issuer together with issuerRegExp is not supported; use one of them".into(),
            )
        }
    };
    let mut github = GithubExpectations::default();
    for (name, value) in k.additional_extensions.iter().flatten() {
        if wildcard::has_wildcard(value) {
            return unsupported(format!(
                "additionalExtensions.{name}: wildcard values are not supported; give the exact value"
            ));
        }
        let slot = match name.as_str() {
            "githubWorkflowTrigger" => &mut github.trigger,
            "githubWorkflowSha" => &mut github.sha,
            "githubWorkflowName" => &mut github.name,
            "githubWorkflowRepository" => &mut github.repository,
            "githubWorkflowRef" => &mut github.git_ref,
            other => return unsupported(format!("additionalExtensions.{other} is not supported")),
        };
        *slot = Some(value.clone());
    }
    let ignore_tlog = k.rekor.as_ref().is_some_and(|r| r.ignore_tlog);
    let ignore_sct = k.ctlog.as_ref().is_some_and(|c| c.ignore_sct);
    Ok(ImagePolicy {
        trust: Trust::Keyless {
            identity: IdentityPolicy {
                identity,
                issuer,
                github,
            },
            sct: if ignore_sct {
                SctPolicy::Ignore
            } else {
                SctPolicy::Required
            },
        },
        tlog: if ignore_tlog {
            TlogPolicy::Ignore
        } else {
            TlogPolicy::Required
        },
        trusted_root: Some(root),
        annotations: entry.annotations.clone(),
    })
}

/// A Kyverno wildcard as an anchored regular expression (`*` → `.*`, `?` → `.`).
fn wildcard_regex(pattern: &str) -> String {
    let mut re = String::from("^(?s:");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")$");
    re
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Ctlog, Rekor};
    use std::collections::BTreeMap;

    fn root() -> Option<Arc<TrustedRoot>> {
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata/trust/production-trusted_root.json"),
        )
        .unwrap();
        Some(Arc::new(
            sigil_core::trust_root::trusted_root_from_any(&bytes).unwrap(),
        ))
    }

    fn keyless(k: Keyless) -> Attestor {
        Attestor {
            keyless: Some(k),
            ..Attestor::default()
        }
    }

    fn identity(p: &ImagePolicy) -> (&IdentityPolicy, SctPolicy) {
        match &p.trust {
            Trust::Keyless { identity, sct } => (identity, *sct),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keyless_attestors_map_to_keyless_trust() {
        let lab = keyless(Keyless {
            subject: Some("https://github.com/u/r/.github/workflows/sign.yml@refs/tags/*".into()),
            issuer: Some("https://token.actions.githubusercontent.com".into()),
            rekor: Some(Rekor {
                url: Some("https://rekor.sigstore.dev".into()),
                ..Rekor::default()
            }),
            ..Keyless::default()
        });
        let p = image_policy(&lab, root()).unwrap();
        assert_eq!(p.tlog, TlogPolicy::Required);
        assert!(p.trusted_root.is_some());
        let (id, sct) = identity(&p);
        assert_eq!(sct, SctPolicy::Required);
        assert!(id
            .identity
            .matches("https://github.com/u/r/.github/workflows/sign.yml@refs/tags/v1.0.0"));
        assert!(!id
            .identity
            .matches("https://github.com/u/r/.github/workflows/sign.yml@refs/heads/main"));
        assert!(!id.identity.matches(
            "https://evil.example/https://github.com/u/r/.github/workflows/sign.yml@refs/tags/v1"
        ));
        assert!(id
            .issuer
            .matches("https://token.actions.githubusercontent.com"));
        assert!(!id
            .issuer
            .matches("https://token.actions.githubusercontent.com.evil"));

        // subject OR subjectRegExp (unanchored, as Kyverno); ignoreSCT / ignoreTlog.
        let either = keyless(Keyless {
            subject: Some("a@example.com".into()),
            subject_reg_exp: Some("@corp\\.example$".into()),
            issuer_reg_exp: Some("accounts".into()),
            rekor: Some(Rekor {
                url: Some("u".into()),
                ignore_tlog: true,
                ..Rekor::default()
            }),
            ctlog: Some(Ctlog {
                ignore_sct: true,
                ..Ctlog::default()
            }),
            ..Keyless::default()
        });
        let p = image_policy(&either, root()).unwrap();
        assert_eq!(p.tlog, TlogPolicy::Ignore);
        let (id, sct) = identity(&p);
        assert_eq!(sct, SctPolicy::Ignore);
        assert!(id.identity.matches("a@example.com"));
        assert!(id.identity.matches("b@corp.example"));
        assert!(!id.identity.matches("xa@example.com"));
        assert!(id.issuer.matches("https://accounts.google.com"));

        // GitHub extensions, exact.
        let mut ext = BTreeMap::new();
        ext.insert("githubWorkflowTrigger".to_owned(), "push".to_owned());
        let gh = keyless(Keyless {
            additional_extensions: Some(ext),
            rekor: Some(Rekor {
                url: Some("u".into()),
                ..Rekor::default()
            }),
            ..Keyless::default()
        });
        let p = image_policy(&gh, root()).unwrap();
        assert_eq!(identity(&p).0.github.trigger.as_deref(), Some("push"));
    }

    #[test]
    fn what_cannot_be_checked_is_refused() {
        let base = Keyless {
            rekor: Some(Rekor {
                url: Some("u".into()),
                ..Rekor::default()
            }),
            ..Keyless::default()
        };
        let unsupported = |a: Attestor, r: Option<Arc<TrustedRoot>>| {
            matches!(image_policy(&a, r), Err(VerifyError::Unsupported(_)))
        };
        assert!(unsupported(keyless(base.clone()), None), "no trusted root");
        assert!(unsupported(
            keyless(Keyless {
                roots: Some("PEM".into()),
                ..base.clone()
            }),
            root()
        ));
        assert!(unsupported(
            keyless(Keyless {
                issuer: Some("a".into()),
                issuer_reg_exp: Some("b".into()),
                ..base.clone()
            }),
            root()
        ));
        let mut ext = BTreeMap::new();
        ext.insert("githubWorkflowRef".to_owned(), "refs/tags/*".to_owned());
        assert!(unsupported(
            keyless(Keyless {
                additional_extensions: Some(ext),
                ..base.clone()
            }),
            root()
        ));
        assert!(unsupported(
            Attestor {
                certificates: Some(crate::policy::Certificates::default()),
                ..Attestor::default()
            },
            root()
        ));
        assert!(unsupported(
            Attestor {
                keys: Some(crate::policy::StaticKeys {
                    kms: Some("gcpkms://x".into()),
                    ..Default::default()
                }),
                ..Attestor::default()
            },
            root()
        ));
    }
}
