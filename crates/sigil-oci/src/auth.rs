//! Registry credentials and the token flow.
//!
//! Credentials come from Docker's config file (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`): `auths` entries (base64 `user:pass`, or `username`/`password`,
//! or `identitytoken`), then `credHelpers[host]`, then `credsStore`, both through the
//! `docker-credential-<name> get` protocol (host on stdin, `{"Username","Secret"}` on stdout),
//! as docker and go-containerregistry's `authn.DefaultKeychain` read them.
//!
//! A 401 carries a `WWW-Authenticate` challenge (distribution `docs/spec/auth/token.md`):
//! `Basic realm=…` means send the credentials; `Bearer realm=…,service=…,scope=…` means fetch
//! a token from the realm (with the credentials, if any, as Basic auth) and send it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::Error;

/// A username and secret. Debug output never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({}, <redacted>)", self.username)
    }
}

impl Credential {
    pub fn new(username: &str, secret: &str) -> Credential {
        Credential {
            username: username.to_owned(),
            secret: secret.to_owned(),
        }
    }

    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// The `Authorization: Basic …` value.
    pub(crate) fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            B64.encode(format!("{}:{}", self.username, self.secret))
        )
    }
}

/// Where credentials come from.
#[derive(Clone, Debug, Default)]
pub enum Keychain {
    /// Docker's config file and credential helpers.
    #[default]
    Docker,
    /// Fixed credentials per registry host (tests, `--registry-username`).
    Static(HashMap<String, Credential>),
    /// Never send credentials.
    Anonymous,
}

impl Keychain {
    /// The credential for `registry` (`host[:port]`), if any.
    pub async fn resolve(&self, registry: &str) -> Result<Option<Credential>, Error> {
        match self {
            Keychain::Anonymous => Ok(None),
            Keychain::Static(m) => Ok(m.get(registry).cloned()),
            Keychain::Docker => docker_credential(registry).await,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// Docker Hub's credentials are stored under its legacy index URL.
fn config_keys(registry: &str) -> Vec<String> {
    if registry == sigil_core::DOCKER_HUB || registry == "docker.io" {
        vec![
            "https://index.docker.io/v1/".to_owned(),
            "index.docker.io".to_owned(),
            "docker.io".to_owned(),
        ]
    } else {
        vec![registry.to_owned()]
    }
}

/// Strips `https://` and any path from a config key (`https://ghcr.io/v2/` → `ghcr.io`).
fn normalise_key(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

async fn docker_credential(registry: &str) -> Result<Option<Credential>, Error> {
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Credentials(format!(
                "reading {}: {e}",
                path.display()
            )))
        }
    };
    let config: DockerConfig = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Credentials(format!("parsing {}: {e}", path.display())))?;
    let keys = config_keys(registry);
    for key in &keys {
        if let Some(helper) = config.cred_helpers.get(key) {
            return credential_helper(helper, key).await;
        }
    }
    for (k, entry) in &config.auths {
        let matches = keys
            .iter()
            .any(|key| k == key || normalise_key(k) == normalise_key(key));
        if !matches {
            continue;
        }
        if let Some(tok) = &entry.identitytoken {
            if !tok.is_empty() {
                return Ok(Some(Credential::new("<token>", tok)));
            }
        }
        if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
            return Ok(Some(Credential::new(u, p)));
        }
        if let Some(auth) = &entry.auth {
            if auth.is_empty() {
                continue;
            }
            let decoded = B64.decode(auth.trim()).map_err(|e| {
                Error::Credentials(format!(
                    "auth for {k} in {} is not base64: {e}",
                    path.display()
                ))
            })?;
            let text = String::from_utf8(decoded)
                .map_err(|_| Error::Credentials(format!("auth for {k} is not UTF-8")))?;
            let (u, p) = text.split_once(':').ok_or_else(|| {
                Error::Credentials(format!("auth for {k} is not `user:password`"))
            })?;
            return Ok(Some(Credential::new(u, p)));
        }
    }
    if let Some(store) = &config.creds_store {
        if !store.is_empty() {
            return credential_helper(store, &keys[0]).await;
        }
    }
    Ok(None)
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

async fn credential_helper(helper: &str, server: &str) -> Result<Option<Credential>, Error> {
    if !helper
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(Error::Credentials(format!(
            "invalid credential helper name `{helper}`"
        )));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Credentials(format!("running {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .await
            .map_err(|e| Error::Credentials(format!("writing to {program}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| Error::Credentials(format!("running {program}: {e}")))?;
    if !out.status.success() {
        let answer = String::from_utf8_lossy(&out.stdout);
        // The protocol answers "credentials not found in native keychain" for unknown hosts.
        if answer.contains("credentials not found") {
            return Ok(None);
        }
        return Err(Error::Credentials(format!(
            "{program} get failed: {}",
            answer.trim()
        )));
    }
    let ans: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Credentials(format!("{program} answered malformed JSON: {e}")))?;
    Ok(Some(Credential::new(&ans.username, &ans.secret)))
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        let realm = params.get("realm")?.clone();
        return Some(Challenge::Bearer {
            realm,
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        });
    }
    None
}

fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(q) = after.strip_prefix('"') {
            // Quoted string; values here never contain escaped quotes in practice, but honour `\"`.
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &q[end.min(q.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.insert(key, value);
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// The token endpoint's answer (`token`, or OAuth2's `access_token`).
#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/r:pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into()),
                scope: Some("repository:o/r:pull".into())
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(
            parse_challenge(r#"Bearer service="x""#),
            None,
            "a bearer challenge needs a realm"
        );
    }

    #[test]
    fn scope_with_commas_inside_quotes() {
        let c = parse_challenge(r#"Bearer realm="r",scope="repository:a:pull,push""#).unwrap();
        assert!(
            matches!(c, Challenge::Bearer { scope: Some(s), .. } if s == "repository:a:pull,push")
        );
    }

    #[test]
    fn reads_docker_config_auths() {
        let dir = tempdir();
        let cfg = format!(
            r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}},"https://index.docker.io/v1/":{{"username":"u","password":"p"}}}}}}"#,
            B64.encode("me:secret")
        );
        std::fs::write(dir.join("config.json"), cfg).unwrap();
        // SAFETY of env mutation: this is the only test in this binary touching DOCKER_CONFIG.
        std::env::set_var("DOCKER_CONFIG", &dir);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let c = rt.block_on(docker_credential("ghcr.io")).unwrap().unwrap();
        assert_eq!(c.username, "me");
        assert_eq!(c.secret(), "secret");
        assert!(!format!("{c:?}").contains("secret"), "Debug must redact");
        let c = rt
            .block_on(docker_credential(sigil_core::DOCKER_HUB))
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "u");
        assert!(rt.block_on(docker_credential("quay.io")).unwrap().is_none());
        std::fs::write(dir.join("config.json"), "{").unwrap();
        assert!(
            rt.block_on(docker_credential("ghcr.io")).is_err(),
            "malformed config is an error"
        );
        std::env::remove_var("DOCKER_CONFIG");
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("sigil-oci-auth-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
