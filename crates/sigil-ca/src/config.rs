//! `ca.yaml`: the OIDC issuers a CA trusts, in Fulcio's configuration format
//! (fulcio `config/identity/config.yaml`: `oidc-issuers` keyed by issuer URL, each with
//! `issuer-url`, `client-id`, `type`, and per type `subject-domain` or `spiffe-trust-domain`).
//! Fulcio's JSON spelling (`OIDCIssuers`, `IssuerURL`, `ClientID`, …) is accepted too.
//!
//! sigil adds `discovery-url`: where to fetch the issuer's OpenID configuration when it is not
//! at `{issuer-url}/.well-known/openid-configuration`, so that a local `sigil oidc serve` can
//! stand in for `https://token.actions.githubusercontent.com` with its own keys.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Error;

/// The kinds of identity an issuer proves (Fulcio's `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum IssuerKind {
    /// `email` + `email_verified` claims → email SAN.
    Email,
    /// GitHub Actions → URI SAN `https://github.com/{job_workflow_ref}` + workflow extensions.
    GithubWorkflow,
    /// `sub` is a URI under `subject-domain` → URI SAN.
    Uri,
    /// `sub` is a SPIFFE ID under `spiffe-trust-domain` → URI SAN.
    Spiffe,
    /// `sub` is a user name → OtherName SAN `sub!subject-domain`.
    Username,
}

/// One trusted issuer.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct IssuerConfig {
    #[serde(alias = "IssuerURL")]
    pub issuer_url: String,
    #[serde(alias = "ClientID", default = "default_client_id")]
    pub client_id: String,
    #[serde(alias = "Type", rename = "type")]
    pub kind: IssuerKind,
    #[serde(alias = "SubjectDomain", default)]
    pub subject_domain: Option<String>,
    #[serde(alias = "SPIFFETrustDomain", default)]
    pub spiffe_trust_domain: Option<String>,
    #[serde(alias = "DiscoveryURL", default)]
    pub discovery_url: Option<String>,
}

fn default_client_id() -> String {
    "sigstore".to_owned()
}

/// The whole `ca.yaml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CaConfig {
    #[serde(alias = "OIDCIssuers", default)]
    pub oidc_issuers: BTreeMap<String, IssuerConfig>,
    /// Submit precertificates to this RFC 6962 log instead of the embedded one.
    #[serde(default)]
    pub ct_log_url: Option<String>,
}

impl CaConfig {
    /// Parses YAML (which also covers Fulcio's JSON form) and checks each issuer.
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        let config: CaConfig =
            serde_yaml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        for (key, issuer) in &config.oidc_issuers {
            if key != &issuer.issuer_url {
                return Err(Error::Config(format!(
                    "issuer key `{key}` differs from its issuer-url `{}`",
                    issuer.issuer_url
                )));
            }
            match issuer.kind {
                IssuerKind::Uri | IssuerKind::Username if issuer.subject_domain.is_none() => {
                    return Err(Error::Config(format!(
                        "issuer `{key}` of this type needs subject-domain"
                    )))
                }
                IssuerKind::Spiffe if issuer.spiffe_trust_domain.is_none() => {
                    return Err(Error::Config(format!(
                        "issuer `{key}` needs spiffe-trust-domain"
                    )))
                }
                _ => {}
            }
        }
        Ok(config)
    }
}
