//! Where the OIDC identity token comes from, in cosign's order: `--identity-token`, the
//! `SIGSTORE_ID_TOKEN` variable, then GitHub Actions' ambient provider
//! (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, audience `sigstore`,
//! three tries as cosign's `pkg/providers/github`). `sigil oidc github-env` sets the latter so a
//! local shell behaves as a workflow.

use std::time::Duration;

use crate::Error;

/// Finds an identity token, or says which sources were tried.
pub async fn identity_token(
    http: &reqwest::Client,
    explicit: Option<&str>,
) -> Result<String, Error> {
    if let Some(t) = explicit.filter(|t| !t.is_empty()) {
        return Ok(t.trim().to_owned());
    }
    if let Ok(t) = std::env::var("SIGSTORE_ID_TOKEN") {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_owned());
        }
    }
    if let (Ok(url), Ok(bearer)) = (
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        return github_actions_token(http, &url, &bearer).await;
    }
    Err(Error::Token(
        "no identity token: pass --identity-token, set SIGSTORE_ID_TOKEN, or run inside GitHub Actions \
         (id-token: write) or a shell set up by `sigil oidc github-env`"
            .into(),
    ))
}

/// GitHub Actions' runner protocol: `GET $URL&audience=sigstore` with the request token.
pub async fn github_actions_token(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
) -> Result<String, Error> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}audience=sigstore");
    let mut last = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
        }
        match http.get(&full).bearer_auth(bearer).send().await {
            Ok(resp) if resp.status().is_success() => {
                let v: serde_json::Value = resp.json().await.map_err(|e| {
                    Error::Token(format!(
                        "malformed answer from the Actions token endpoint: {e}"
                    ))
                })?;
                return v["value"].as_str().map(str::to_owned).ok_or_else(|| {
                    Error::Token("the Actions token endpoint answered no `value`".into())
                });
            }
            Ok(resp) => last = format!("answered {}", resp.status()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(Error::Token(format!(
        "requesting a GitHub Actions identity token: {last}"
    )))
}
