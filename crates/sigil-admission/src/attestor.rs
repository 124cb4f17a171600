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

use crate::attestor_trust::{attestor_root, certificate_blocks, Overrides};
use crate::policy::{Attestor, Certificates, Keyless};
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
        // Such a policy loads with a warning (`Policy::unresolvable_keys`), as in Kyverno;
        // every image its rule matches is refused here, saying what is missing.
        if let Some(kms) = &keys.kms {
            return Err(VerifyError::Unsupported(kms_refusal(kms)));
        }
        if let Some(secret) = &keys.secret {
            return Err(VerifyError::Unsupported(secret_refusal(
                &secret.namespace,
                &secret.name,
            )));
        }
        let pem = keys.public_keys.as_deref().unwrap_or("");
        if let Some(why) = public_keys_refusal(pem) {
            return Err(VerifyError::Unsupported(why));
        }
        let root = attestor_root(
            root,
            &Overrides {
                rekor: keys.rekor.as_ref(),
                ctlog: keys.ctlog.as_ref(),
                kind: "keys",
                ..Overrides::default()
            },
        )?;
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
    if let Some(c) = &entry.certificates {
        return certificates_policy(c, entry, root);
    }
    unsupported("attestor without keys, keyless or certificates")
}

/// `keys.kms`: cosign resolves `awskms://`, `gcpkms://`, `azurekms://` and `hashivault://`
/// references through the cloud's client; sigil has none of them.
pub(crate) fn kms_refusal(uri: &str) -> String {
    format!(
        "keys.kms (`{uri}`) needs a KMS client, which sigil does not have; put the public key PEM in keys.publicKeys"
    )
}

/// `keys.secret`: Kyverno reads `cosign.pub` from the Secret through the Kubernetes API;
/// sigil has no Kubernetes client.
pub(crate) fn secret_refusal(namespace: &str, name: &str) -> String {
    format!(
        "keys.secret (`{namespace}/{name}`) needs a Kubernetes API client to read the Secret, which sigil does not have; put the Secret's cosign.pub PEM in keys.publicKeys"
    )
}

/// What `keys.publicKeys` may hold besides PEM in Kyverno, and sigil cannot resolve:
/// `k8s://ns/name` Secrets, KMS URIs, and `{{ }}` variables (context entries, ConfigMaps).
pub(crate) fn public_keys_refusal(value: &str) -> Option<String> {
    let v = value.trim();
    if let Some(secret) = v.strip_prefix("k8s://") {
        let (ns, name) = secret.split_once('/').unwrap_or(("", secret));
        return Some(format!(
            "keys.publicKeys `{v}` names a Kubernetes Secret ({ns}/{name}), which needs a Kubernetes API client sigil does not have; put the Secret's cosign.pub PEM in keys.publicKeys"
        ));
    }
    if v.contains("://") {
        return Some(format!(
            "keys.publicKeys `{v}` is a KMS reference, which needs a KMS client sigil does not have; put the public key PEM in keys.publicKeys"
        ));
    }
    if v.contains("{{") {
        return Some(
            "keys.publicKeys holds a `{{ }}` variable, which needs Kyverno's policy context (context entries, ConfigMaps) that sigil does not evaluate; put the public key PEM in keys.publicKeys".into(),
        );
    }
    None
}

/// `certificates`: cosign's `verify --certificate C --certificate-chain CHAIN`. The
/// signature's certificate must chain to `certChain` (else to the trusted root's CAs) at the
/// log's time, as a keyless certificate does, with any identity; when `cert` is given, the
/// signature must carry exactly that certificate ([`pinned_certificate`]). A certificate
/// signature without a log entry is refused (nothing shows when it was made).
fn certificates_policy(
    c: &Certificates,
    entry: &Attestor,
    root: Option<Arc<TrustedRoot>>,
) -> Result<ImagePolicy, VerifyError> {
    if c.cert.is_none() && c.cert_chain.is_none() {
        return Err(VerifyError::Failed(
            "certificates: one of cert or certChain is required".into(),
        ));
    }
    if c.cert_chain.is_none() && root.is_none() {
        return Err(VerifyError::Unsupported(
            "certificates without certChain need a trusted root: start the admission controller with --trust-config (or SIGIL_TRUST_CONFIG)".into(),
        ));
    }
    let root = attestor_root(
        root,
        &Overrides {
            authorities: c
                .cert_chain
                .as_deref()
                .map(|p| (p, "certificates.certChain")),
            rekor: c.rekor.as_ref(),
            ctlog: c.ctlog.as_ref(),
            kind: "certificates",
        },
    )?;
    let any = Matcher::regex("").map_err(VerifyError::Failed)?;
    Ok(ImagePolicy {
        trust: Trust::Keyless {
            identity: IdentityPolicy {
                identity: any.clone(),
                issuer: any,
                github: GithubExpectations::default(),
            },
            sct: if c.ctlog.as_ref().is_some_and(|c| c.ignore_sct) {
                SctPolicy::Ignore
            } else {
                SctPolicy::Required
            },
        },
        tlog: if c.rekor.as_ref().is_some_and(|r| r.ignore_tlog) {
            TlogPolicy::Ignore
        } else {
            TlogPolicy::Required
        },
        trusted_root: root,
        annotations: entry.annotations.clone(),
    })
}

/// The DER of a `certificates.cert` the signatures must carry, if the entry names one.
pub(crate) fn pinned_certificate(entry: &Attestor) -> Result<Option<Vec<u8>>, VerifyError> {
    let Some(pem_text) = entry.certificates.as_ref().and_then(|c| c.cert.as_deref()) else {
        return Ok(None);
    };
    let blocks = certificate_blocks(pem_text, "certificates.cert")?;
    match blocks.as_slice() {
        [one] => Ok(Some(one.clone())),
        _ => Err(VerifyError::Failed(format!(
            "certificates.cert must hold exactly one certificate, found {}",
            blocks.len()
        ))),
    }
}

/// Whether a signature's certificate annotation is the certificate `want` (DER).
pub(crate) fn carries_certificate(certificate_pem: Option<&str>, want: &[u8]) -> bool {
    certificate_pem
        .and_then(|p| pem::parse(p).ok())
        .is_some_and(|b| b.contents() == want)
}

fn keyless_policy(
    k: &Keyless,
    entry: &Attestor,
    root: Option<Arc<TrustedRoot>>,
) -> Result<ImagePolicy, VerifyError> {
    let unsupported = |m: String| Err(VerifyError::Unsupported(m));
    if k.roots.is_none() && root.is_none() {
        return unsupported(
            "keyless verification needs a trusted root: start the admission controller with --trust-config (or SIGIL_TRUST_CONFIG)".into(),
        );
    }
    let root = attestor_root(
        root,
        &Overrides {
            authorities: k.roots.as_deref().map(|p| (p, "keyless.roots")),
            rekor: k.rekor.as_ref(),
            ctlog: k.ctlog.as_ref(),
            kind: "keyless",
        },
    )?;
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
        trusted_root: root,
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
        // Certificates with neither cert nor chain, roots that are not PEM: refused.
        assert!(matches!(
            image_policy(
                &Attestor {
                    certificates: Some(crate::policy::Certificates::default()),
                    ..Attestor::default()
                },
                root()
            ),
            Err(VerifyError::Failed(_))
        ));
        assert!(matches!(
            image_policy(
                &keyless(Keyless {
                    roots: Some("PEM".into()),
                    ..base.clone()
                }),
                root()
            ),
            Err(VerifyError::Failed(_))
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

    fn ca_pem(name: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn policy_roots_replace_the_certificate_authorities() {
        let pems = format!("{}{}", ca_pem("root a"), ca_pem("root b"));
        // keyless.roots: the logs stay those of the trust config, the CAs are the policy's.
        let p = image_policy(
            &keyless(Keyless {
                roots: Some(pems.clone()),
                rekor: Some(Rekor {
                    url: Some("u".into()),
                    ..Rekor::default()
                }),
                ..Keyless::default()
            }),
            root(),
        )
        .unwrap();
        let r = p.trusted_root.unwrap();
        let base = root().unwrap();
        assert_eq!(r.certificate_authorities.len(), 2);
        assert_eq!(r.tlogs.len(), base.tlogs.len());
        assert!(r
            .certificate_authorities
            .iter()
            .all(|ca| ca.uri == "policy keyless.roots"));
        // Without a trust config, roots alone work (logs then cannot be checked).
        let p = image_policy(
            &keyless(Keyless {
                roots: Some(pems.clone()),
                ..Keyless::default()
            }),
            None,
        )
        .unwrap();
        assert!(p.trusted_root.unwrap().tlogs.is_empty());
        // certificates: the chain becomes the CAs, any identity, SCT and log as configured.
        let leaf = ca_pem("leaf");
        let entry = Attestor {
            certificates: Some(crate::policy::Certificates {
                cert: Some(leaf.clone()),
                cert_chain: Some(pems),
                rekor: None,
                ctlog: Some(Ctlog {
                    ignore_sct: true,
                    ..Ctlog::default()
                }),
            }),
            ..Attestor::default()
        };
        let p = image_policy(&entry, None).unwrap();
        assert_eq!(p.tlog, TlogPolicy::Required);
        let (id, sct) = identity(&p);
        assert_eq!(sct, SctPolicy::Ignore);
        assert!(id.identity.matches("anyone@example.com"));
        assert_eq!(p.trusted_root.unwrap().certificate_authorities.len(), 2);
        let pinned = pinned_certificate(&entry).unwrap().unwrap();
        assert!(carries_certificate(Some(&leaf), &pinned));
        assert!(!carries_certificate(Some(&ca_pem("other")), &pinned));
        assert!(!carries_certificate(None, &pinned));
    }
}
