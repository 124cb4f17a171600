//! Who must have signed: certificate identity (SAN) and OIDC issuer, exact or by regular
//! expression, plus cosign's `--certificate-github-workflow-*` exact matches.
//!
//! # Regular expressions
//! cosign and sigstore-go match `--certificate-identity-regexp` with Go's `MatchString`:
//! **unanchored**, so `https://github.com/org/.*` also matches
//! `https://evil.example/https://github.com/org/x`. sigil does the same, so that policies
//! written for cosign mean the same thing, and [`Matcher::regex`] reports whether a pattern is
//! unanchored so the CLI can warn. Write `^…$` to anchor.

use sigil_core::fulcio::CertificateIdentity;

use crate::verdict::Failure;

/// A string matcher.
#[derive(Clone, Debug)]
pub enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    /// A regular expression matcher (unanchored, as cosign's). Errors name the pattern.
    pub fn regex(pattern: &str) -> Result<Matcher, String> {
        regex::Regex::new(pattern)
            .map(Matcher::Regex)
            .map_err(|e| format!("invalid regular expression `{pattern}`: {e}"))
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }

    /// Whether a regex could match a substring (not both `^` and `$` anchored).
    pub fn is_unanchored(&self) -> bool {
        match self {
            Matcher::Exact(_) => false,
            Matcher::Regex(r) => {
                let p = r.as_str();
                !(p.starts_with('^') && p.ends_with('$'))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Matcher::Exact(s) => format!("`{s}`"),
            Matcher::Regex(r) => format!("regexp `{}`", r.as_str()),
        }
    }
}

/// The expected signer.
#[derive(Clone, Debug)]
pub struct IdentityPolicy {
    pub identity: Matcher,
    pub issuer: Matcher,
    /// `--certificate-github-workflow-{trigger,sha,name,repository,ref}` exact values.
    pub github: GithubExpectations,
}

#[derive(Clone, Debug, Default)]
pub struct GithubExpectations {
    pub trigger: Option<String>,
    pub sha: Option<String>,
    pub name: Option<String>,
    pub repository: Option<String>,
    pub git_ref: Option<String>,
}

impl IdentityPolicy {
    /// Checks a verified leaf's identity. Every SAN is a candidate (cosign's legacy path
    /// compares each SAN), the issuer is extension 1.8 (falling back to 1.1).
    pub fn check(&self, id: &CertificateIdentity) -> Result<(), Failure> {
        let sans: Vec<String> = id.sans.iter().map(|s| s.value().to_owned()).collect();
        let issuer = id.issuer.clone().unwrap_or_default();
        let identity_ok = sans.iter().any(|s| self.identity.matches(s));
        let issuer_ok = self.issuer.matches(&issuer);
        if !identity_ok || !issuer_ok {
            return Err(Failure::Identity {
                expected_identity: self.identity.describe(),
                expected_issuer: self.issuer.describe(),
                subjects: sans,
                issuer,
            });
        }
        let gh = &id.github_workflow;
        for (what, want, got) in [
            ("GitHub Workflow Trigger", &self.github.trigger, &gh.trigger),
            ("GitHub Workflow SHA", &self.github.sha, &gh.sha),
            ("GitHub Workflow Name", &self.github.name, &gh.name),
            (
                "GitHub Workflow Repository",
                &self.github.repository,
                &gh.repository,
            ),
            ("GitHub Workflow Ref", &self.github.git_ref, &gh.git_ref),
        ] {
            if let Some(want) = want {
                if got.as_deref() != Some(want.as_str()) {
                    return Err(Failure::Extension {
                        name: what,
                        expected: want.clone(),
                        found: got.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}
