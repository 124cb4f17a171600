//! Kyverno's policy-admission checks for `verifyImages` (K:`pkg/validation/policy`,
//! `api/kyverno/v1/image_verification_types.go` `Validate`): what Kyverno's policy webhook
//! refuses, refused at load.

use crate::attestor::{kms_refusal, public_keys_refusal, secret_refusal};
use crate::attestor_trust::{certificate_blocks, policy_key};
use crate::policy::{AttestorSet, Ctlog, Policy, Rekor, SignatureType};
use crate::Error;

impl Policy {
    /// Kyverno's policy-admission checks for `verifyImages` (K:`pkg/validation/policy`,
    /// `api/kyverno/v1/image_verification_types.go` `Validate`).
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |detail: String| Error::Policy {
            policy: self.metadata.name.clone(),
            detail,
        };
        if self.metadata.name.is_empty() {
            return Err(bad("metadata.name is required".into()));
        }
        if !self.api_version.starts_with("kyverno.io/") {
            return Err(bad(format!(
                "apiVersion `{}` is not kyverno.io/v1 or kyverno.io/v2beta1",
                self.api_version
            )));
        }
        for rule in &self.spec.rules {
            let at = |what: &str| format!("rule `{}`: {what}", rule.name);
            if rule.name.is_empty() {
                return Err(bad("a rule has no name".into()));
            }
            if !rule.verify_images.is_empty()
                && rule.match_.filters().is_empty()
                && rule.match_.subjects.is_empty()
                && rule.match_.any.is_empty()
                && rule.match_.all.is_empty()
            {
                return Err(bad(at(
                    "match is required (a rule that matches nothing checks nothing)",
                )));
            }
            for f in rule.match_.filters() {
                if f.kinds.iter().any(|k| k == "*") && !rule.verify_images.is_empty() {
                    return Err(bad(at("kind `*` is not allowed with verifyImages")));
                }
            }
            for (i, iv) in rule.verify_images.iter().enumerate() {
                let at = |what: &str| at(&format!("verifyImages[{i}]: {what}"));
                if iv.references().is_empty() {
                    return Err(bad(at("An image reference is required")));
                }
                for r in iv.references().iter().chain(
                    iv.skip_image_references
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .iter(),
                ) {
                    if r.contains("{{") {
                        return Err(bad(at(&format!(
                            "variables are not allowed in image references (`{r}`)"
                        ))));
                    }
                }
                let sets = iv.effective_attestors();
                for (s, set) in sets.iter().enumerate() {
                    validate_set(set, iv.type_, &format!(".attestors[{s}]"))
                        .map_err(|d| bad(at(&d)))?;
                }
                for (a, att) in iv.attestations.iter().enumerate() {
                    if att.type_.is_none() && att.predicate_type.is_none() {
                        return Err(bad(at(&format!(".attestations[{a}]: type is required"))));
                    }
                    for (s, set) in att.attestors.iter().enumerate() {
                        validate_set(set, iv.type_, &format!(".attestations[{a}].attestors[{s}]"))
                            .map_err(|d| bad(at(&d)))?;
                    }
                    crate::conditions::check_syntax(&att.conditions)
                        .map_err(|e| bad(at(&format!(".attestations[{a}].conditions: {e}"))))?;
                }
            }
        }
        Ok(())
    }
}

impl Policy {
    /// Each attestor entry whose keys sigil cannot resolve (`keys.kms`, `keys.secret`,
    /// `k8s://` or `{{ }}` public keys), with where it is and what is missing. Such a policy
    /// loads, as in Kyverno; the images its rule matches are refused with this message.
    pub fn unresolvable_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for rule in &self.spec.rules {
            for (i, iv) in rule.verify_images.iter().enumerate() {
                let mut sets: Vec<(String, &AttestorSet)> = Vec::new();
                let effective = iv.effective_attestors();
                for (s, set) in effective.iter().enumerate() {
                    sets.push((format!(".attestors[{s}]"), set));
                }
                for (a, att) in iv.attestations.iter().enumerate() {
                    for (s, set) in att.attestors.iter().enumerate() {
                        sets.push((format!(".attestations[{a}].attestors[{s}]"), set));
                    }
                }
                for (at, set) in sets {
                    for (e, entry) in set.entries.iter().enumerate() {
                        let Some(k) = &entry.keys else { continue };
                        let why = if let Some(kms) = &k.kms {
                            Some(kms_refusal(kms))
                        } else if let Some(s) = &k.secret {
                            Some(secret_refusal(&s.namespace, &s.name))
                        } else {
                            k.public_keys.as_deref().and_then(public_keys_refusal)
                        };
                        if let Some(why) = why {
                            out.push(format!(
                                "rule `{}`: verifyImages[{i}]: {at}.entries[{e}]: {why}",
                                rule.name
                            ));
                        }
                    }
                }
            }
        }
        out
    }
}

fn validate_set(set: &AttestorSet, ty: SignatureType, at: &str) -> Result<(), String> {
    if set.entries.is_empty() {
        return Err(format!("{at}: entries must not be empty"));
    }
    if let Some(n) = set.count {
        if n as usize > set.entries.len() {
            return Err(format!(
                "{at}: count {n} is larger than the number of entries ({})",
                set.entries.len()
            ));
        }
    }
    for (e, entry) in set.entries.iter().enumerate() {
        let at = format!("{at}.entries[{e}]");
        let kinds = [
            entry.keys.is_some(),
            entry.certificates.is_some(),
            entry.keyless.is_some(),
            entry.attestor.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if kinds != 1 {
            return Err(format!(
                "{at}: exactly one of keys, certificates, keyless or attestor is required"
            ));
        }
        if ty == SignatureType::Notary && (entry.keys.is_some() || entry.keyless.is_some()) {
            return Err(format!("{at}: Notary signatures take only certificates"));
        }
        if let Some(k) = &entry.keys {
            if k.public_keys.is_none() && k.kms.is_none() && k.secret.is_none() {
                return Err(format!(
                    "{at}.keys: one of publicKeys, kms or secret is required"
                ));
            }
            // KMS keys, Secrets and `{{ }}` keys: Kyverno resolves them at verification time;
            // sigil cannot, so the policy loads (as in Kyverno) with a warning
            // ([`Policy::unresolvable_keys`]) and the attestor refuses every image it is
            // asked to verify, saying what is missing: never an allow.
            check_logs(k.rekor.as_ref(), k.ctlog.as_ref(), &format!("{at}.keys"))?;
        }
        if let Some(c) = &entry.certificates {
            check_logs(
                c.rekor.as_ref(),
                c.ctlog.as_ref(),
                &format!("{at}.certificates"),
            )?;
        }
        if let Some(k) = &entry.keyless {
            if k.rekor.is_none() && k.roots.is_none() {
                return Err(format!("{at}.keyless: either rekor or roots is required"));
            }
            if let Some(r) = &k.rekor {
                if r.url.as_deref().unwrap_or("").is_empty() {
                    return Err(format!("{at}.keyless.rekor: url is required"));
                }
            }
            check_logs(k.rekor.as_ref(), k.ctlog.as_ref(), &format!("{at}.keyless"))?;
            for re in [&k.subject_reg_exp, &k.issuer_reg_exp]
                .into_iter()
                .flatten()
            {
                regex::Regex::new(re)
                    .map_err(|e| format!("{at}.keyless: bad regexp `{re}`: {e}"))?;
            }
        }
        if let Some(nested) = &entry.attestor {
            validate_set(nested, ty, &format!("{at}.attestor"))?;
        }
    }
    Ok(())
}

/// `rekor.pubkey`, `ctlog.pubkey` and `ctlog.tsaCertChain` must parse: a typo is a load
/// error rather than a refused pod.
fn check_logs(rekor: Option<&Rekor>, ctlog: Option<&Ctlog>, at: &str) -> Result<(), String> {
    if let Some(pem) = rekor.and_then(|r| r.pubkey.as_deref()) {
        policy_key(pem, &format!("{at}.rekor.pubkey")).map_err(|e| e.to_string())?;
    }
    if let Some(pem) = ctlog.and_then(|c| c.pubkey.as_deref()) {
        policy_key(pem, &format!("{at}.ctlog.pubkey")).map_err(|e| e.to_string())?;
    }
    if let Some(pem) = ctlog.and_then(|c| c.tsa_cert_chain.as_deref()) {
        certificate_blocks(pem, &format!("{at}.ctlog.tsaCertChain")).map_err(|e| e.to_string())?;
    }
    Ok(())
}
