//! From verified token claims to the identity a certificate states, per issuer type
//! (fulcio `pkg/identity/{email,github,uri,spiffe,username}/principal.go`).

use serde_json::{Map, Value};
use sigil_core::fulcio::{Extension, SubjectAltName};

use crate::authority::Principal;
use crate::config::{IssuerConfig, IssuerKind};
use crate::Error;

fn claim<'a>(claims: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, Error> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(Error::MissingClaim(name)),
    }
}

/// Like [`claim`], accepting numbers too (GitHub sends ids as strings, others as numbers).
fn claim_text(claims: &Map<String, Value>, name: &'static str) -> Result<String, Error> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(Error::MissingClaim(name)),
    }
}

/// The principal a token proves for `issuer`.
pub fn principal(issuer: &IssuerConfig, claims: &Map<String, Value>) -> Result<Principal, Error> {
    let iss = issuer.issuer_url.clone();
    let sub = claim(claims, "sub")?;
    let issuer_exts = |extra: Vec<(Extension, String)>| {
        let mut v = vec![
            (Extension::Issuer, iss.clone()),
            (Extension::IssuerV2, iss.clone()),
        ];
        v.extend(extra);
        v.sort_by_key(|(e, _)| *e);
        v
    };
    let not_allowed = |reason: &'static str| Error::SubjectNotAllowed {
        subject: sub.to_owned(),
        issuer: issuer.issuer_url.clone(),
        reason,
    };
    match issuer.kind {
        IssuerKind::Email => {
            let email = claim(claims, "email")?;
            // Fulcio refuses unverified addresses; GitHub-style string "true" is not accepted.
            if claims.get("email_verified") != Some(&Value::Bool(true)) {
                return Err(Error::MissingClaim("email_verified"));
            }
            Ok(Principal {
                san: SubjectAltName::Email(email.to_owned()),
                challenge: email.to_owned(),
                extensions: issuer_exts(vec![]),
            })
        }
        IssuerKind::GithubWorkflow => {
            let gh = "https://github.com/";
            let c = |n| claim_text(claims, n);
            let repository = c("repository")?;
            let job_workflow_ref = c("job_workflow_ref")?;
            let mut extra = vec![
                (Extension::GithubWorkflowTrigger, c("event_name")?),
                (Extension::GithubWorkflowSha, c("sha")?),
                (Extension::GithubWorkflowName, c("workflow")?),
                (Extension::GithubWorkflowRepository, repository.clone()),
                (Extension::GithubWorkflowRef, c("ref")?),
                (Extension::BuildSignerUri, format!("{gh}{job_workflow_ref}")),
                (Extension::BuildSignerDigest, c("job_workflow_sha")?),
                (Extension::RunnerEnvironment, c("runner_environment")?),
                (Extension::SourceRepositoryUri, format!("{gh}{repository}")),
                (Extension::SourceRepositoryDigest, c("sha")?),
                (Extension::SourceRepositoryRef, c("ref")?),
                (Extension::SourceRepositoryIdentifier, c("repository_id")?),
                (
                    Extension::SourceRepositoryOwnerUri,
                    format!("{gh}{}", c("repository_owner")?),
                ),
                (
                    Extension::SourceRepositoryOwnerIdentifier,
                    c("repository_owner_id")?,
                ),
                (
                    Extension::BuildConfigUri,
                    format!("{gh}{}", c("workflow_ref")?),
                ),
                (Extension::BuildConfigDigest, c("workflow_sha")?),
                (Extension::BuildTrigger, c("event_name")?),
                (
                    Extension::RunInvocationUri,
                    format!(
                        "{gh}{repository}/actions/runs/{}/attempts/{}",
                        c("run_id")?,
                        c("run_attempt")?
                    ),
                ),
                (
                    Extension::SourceRepositoryVisibilityAtSigning,
                    c("repository_visibility")?,
                ),
                (Extension::TokenSubject, sub.to_owned()),
            ];
            // `environment` is the only optional claim (jobs without a deployment environment).
            if let Ok(env) = c("environment") {
                extra.push((Extension::DeploymentEnvironment, env));
            }
            Ok(Principal {
                san: SubjectAltName::Uri(format!("{gh}{job_workflow_ref}")),
                challenge: sub.to_owned(),
                extensions: issuer_exts(extra),
            })
        }
        IssuerKind::Uri => {
            let domain = issuer.subject_domain.as_deref().unwrap_or_default();
            let (want, got) = (url::Url::parse(domain), url::Url::parse(sub));
            match (want, got) {
                (Ok(w), Ok(g))
                    if w.scheme() == g.scheme()
                        && w.host_str() == g.host_str()
                        && g.host_str().is_some() => {}
                _ => {
                    return Err(not_allowed(
                        "subject must be a URI on the issuer's subject-domain",
                    ))
                }
            }
            Ok(Principal {
                san: SubjectAltName::Uri(sub.to_owned()),
                challenge: sub.to_owned(),
                extensions: issuer_exts(vec![]),
            })
        }
        IssuerKind::Spiffe => {
            let td = issuer.spiffe_trust_domain.as_deref().unwrap_or_default();
            let ok = sub
                .strip_prefix("spiffe://")
                .and_then(|rest| rest.strip_prefix(td))
                .is_some_and(|path| path.starts_with('/') && path.len() > 1);
            if !ok {
                return Err(not_allowed(
                    "subject must be a SPIFFE ID in the issuer's trust domain",
                ));
            }
            Ok(Principal {
                san: SubjectAltName::Uri(sub.to_owned()),
                challenge: sub.to_owned(),
                extensions: issuer_exts(vec![]),
            })
        }
        IssuerKind::Username => {
            if sub.contains('!') {
                return Err(not_allowed("user names must not contain `!`"));
            }
            let domain = issuer.subject_domain.as_deref().unwrap_or_default();
            Ok(Principal {
                san: SubjectAltName::OtherName(format!("{sub}!{domain}")),
                challenge: sub.to_owned(),
                extensions: issuer_exts(vec![]),
            })
        }
    }
}
