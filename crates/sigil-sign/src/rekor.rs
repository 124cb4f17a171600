//! An async client for Rekor's v1 API (public Rekor or `sigil tlog serve`), and the checks a
//! signer or verifier makes on what the log returns: the SET, the inclusion proof and the
//! checkpoint signature against a trusted log key ([`TrustedLog::verify_entry`]).
//!
//! The checks themselves are `sigil_core::rekor` (pure, shared with `sigil-verify`); this
//! module adds the HTTP calls. A 409 on upload is not an error: Rekor answers it for an entry
//! that is already logged, and the client fetches the existing entry from `Location`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sigil_core::checkpoint::{Checkpoint, NoteVerifier};
use sigil_core::keys::PublicKey;
use sigil_core::merkle;
use sigil_core::rekor::{
    self, ApiError, ConsistencyProof, LogEntries, LogEntry, LogInfo, RekorError,
};

/// A log request failed or its answer did not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RekorClientError {
    #[error("invalid log URL `{0}`")]
    Url(String),
    #[error("request to the transparency log at `{url}` failed")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the transparency log answered {status} for `{url}`: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("unexpected answer from the transparency log at `{url}`: {detail}")]
    Malformed { url: String, detail: String },
    #[error("log entry does not verify")]
    Verify(#[source] RekorError),
    #[error("log key from `{url}` is invalid")]
    Key {
        url: String,
        #[source]
        source: sigil_core::Error,
    },
}

/// A log entry as uploaded.
#[derive(Debug, Clone)]
pub struct UploadedEntry {
    pub uuid: String,
    pub entry: LogEntry,
    /// `true` when the log already held this entry (HTTP 409).
    pub already_logged: bool,
}

/// A client of one log.
#[derive(Debug, Clone)]
pub struct RekorClient {
    base: String,
    http: reqwest::Client,
}

impl RekorClient {
    /// A client for the log at `base_url` (`https://rekor.sigstore.dev`, `http://127.0.0.1:3000`).
    pub fn new(base_url: &str) -> Result<RekorClient, RekorClientError> {
        RekorClient::with_http(base_url, reqwest::Client::new())
    }

    /// A client that sends its requests through `http` (proxies, timeouts, TLS roots).
    pub fn with_http(
        base_url: &str,
        http: reqwest::Client,
    ) -> Result<RekorClient, RekorClientError> {
        let parsed =
            url::Url::parse(base_url).map_err(|_| RekorClientError::Url(base_url.into()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(RekorClientError::Url(base_url.into()));
        }
        Ok(RekorClient {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, RekorClientError> {
        req.send().await.map_err(|source| RekorClientError::Http {
            url: url.to_owned(),
            source,
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        resp: reqwest::Response,
        url: &str,
    ) -> Result<T, RekorClientError> {
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| RekorClientError::Http {
                url: url.to_owned(),
                source,
            })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ApiError>(&bytes)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).chars().take(200).collect());
            return Err(RekorClientError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| RekorClientError::Malformed {
            url: url.to_owned(),
            detail: e.to_string(),
        })
    }

    fn single(map: LogEntries, url: &str) -> Result<(String, LogEntry), RekorClientError> {
        let mut it = map.into_iter();
        match (it.next(), it.next()) {
            (Some(e), None) => Ok(e),
            _ => Err(RekorClientError::Malformed {
                url: url.to_owned(),
                detail: "expected exactly one entry".into(),
            }),
        }
    }

    /// `POST /api/v1/log/entries` with a proposed entry (any kind the log accepts).
    pub async fn upload(&self, proposed: &Value) -> Result<UploadedEntry, RekorClientError> {
        let body = serde_json::to_vec(proposed).map_err(|e| RekorClientError::Malformed {
            url: self.base.clone(),
            detail: format!("proposed entry: {e}"),
        })?;
        self.upload_json(body).await
    }

    /// `POST /api/v1/log/entries` with a proposed entry already written as JSON.
    async fn upload_json(&self, body: Vec<u8>) -> Result<UploadedEntry, RekorClientError> {
        let url = format!("{}/api/v1/log/entries", self.base);
        let req = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let resp = self.send(req, &url).await?;
        if resp.status() == reqwest::StatusCode::CONFLICT {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| RekorClientError::Malformed {
                    url: url.clone(),
                    detail: "409 without a Location header".into(),
                })?;
            let uuid = location.rsplit('/').next().unwrap_or_default().to_owned();
            let (uuid, entry) = self.entry_by_uuid(&uuid).await?;
            return Ok(UploadedEntry {
                uuid,
                entry,
                already_logged: true,
            });
        }
        let map: LogEntries = self.json(resp, &url).await?;
        let (uuid, entry) = RekorClient::single(map, &url)?;
        Ok(UploadedEntry {
            uuid,
            entry,
            already_logged: false,
        })
    }

    /// Uploads a hashedrekord 0.0.1 entry: a signature over an artifact with SHA-256 digest
    /// `sha256`, checkable with `verifier_pem` (a PEM public key or certificate).
    pub async fn upload_hashedrekord(
        &self,
        sha256: &[u8; 32],
        signature: &[u8],
        verifier_pem: &str,
    ) -> Result<UploadedEntry, RekorClientError> {
        self.upload(&hashedrekord_entry(sha256, signature, verifier_pem))
            .await
    }

    /// Uploads a dsse 0.0.1 entry begun with [`DsseRequest::new`].
    pub async fn upload_dsse_request(
        &self,
        request: DsseRequest,
        verifier_pems: &[&str],
    ) -> Result<UploadedEntry, RekorClientError> {
        let verifiers: Vec<String> = verifier_pems.iter().map(|p| B64.encode(p)).collect();
        let DsseRequest(mut body) = request;
        body.extend_from_slice(br#","verifiers":"#);
        serde_json::to_writer(&mut body, &verifiers).map_err(|e| RekorClientError::Malformed {
            url: self.base.clone(),
            detail: format!("proposed entry: {e}"),
        })?;
        body.extend_from_slice(b"}}}");
        self.upload_json(body).await
    }

    /// `GET /api/v1/log/entries?logIndex=N`.
    pub async fn entry_by_index(&self, index: u64) -> Result<(String, LogEntry), RekorClientError> {
        let url = format!("{}/api/v1/log/entries?logIndex={index}", self.base);
        let resp = self.send(self.http.get(&url), &url).await?;
        let map: LogEntries = self.json(resp, &url).await?;
        RekorClient::single(map, &url)
    }

    /// `GET /api/v1/log/entries/{uuid}`.
    pub async fn entry_by_uuid(&self, uuid: &str) -> Result<(String, LogEntry), RekorClientError> {
        if !uuid.bytes().all(|b| b.is_ascii_hexdigit()) || uuid.is_empty() {
            return Err(RekorClientError::Malformed {
                url: self.base.clone(),
                detail: format!("`{uuid}` is not an entry UUID"),
            });
        }
        let url = format!("{}/api/v1/log/entries/{uuid}", self.base);
        let resp = self.send(self.http.get(&url), &url).await?;
        let map: LogEntries = self.json(resp, &url).await?;
        RekorClient::single(map, &url)
    }

    /// `POST /api/v1/index/retrieve` by artifact hash (`sha256:<hex>`): entry UUIDs.
    pub async fn search_hash(&self, hash: &str) -> Result<Vec<String>, RekorClientError> {
        let url = format!("{}/api/v1/index/retrieve", self.base);
        let resp = self
            .send(self.http.post(&url).json(&json!({"hash": hash})), &url)
            .await?;
        self.json(resp, &url).await
    }

    /// `GET /api/v1/log`.
    pub async fn log_info(&self) -> Result<LogInfo, RekorClientError> {
        let url = format!("{}/api/v1/log", self.base);
        let resp = self.send(self.http.get(&url), &url).await?;
        self.json(resp, &url).await
    }

    /// `GET /api/v1/log/proof?firstSize=&lastSize=`.
    pub async fn consistency_proof(
        &self,
        first_size: u64,
        last_size: u64,
    ) -> Result<ConsistencyProof, RekorClientError> {
        let url = format!(
            "{}/api/v1/log/proof?firstSize={first_size}&lastSize={last_size}",
            self.base
        );
        let resp = self.send(self.http.get(&url), &url).await?;
        self.json(resp, &url).await
    }

    /// `GET /api/v1/log/publicKey`. Only for bootstrapping a private log: a verifier must get
    /// the key it trusts out of band (trusted root), not from the log it checks.
    pub async fn public_key(&self) -> Result<PublicKey, RekorClientError> {
        let url = format!("{}/api/v1/log/publicKey", self.base);
        let resp = self.send(self.http.get(&url), &url).await?;
        let status = resp.status();
        let text = resp.text().await.map_err(|source| RekorClientError::Http {
            url: url.clone(),
            source,
        })?;
        if !status.is_success() {
            return Err(RekorClientError::Status {
                url,
                status: status.as_u16(),
                message: text.chars().take(200).collect(),
            });
        }
        PublicKey::from_pem(text.as_bytes()).map_err(|source| RekorClientError::Key { url, source })
    }
}

/// A proposed dsse 0.0.1 entry written up to its verifiers: the envelope of a large
/// attestation is many MiB, escaped into the request once, while the signer's certificate
/// may still be on its way ([`RekorClient::upload_dsse_request`] adds the verifiers).
#[derive(Debug)]
pub struct DsseRequest(Vec<u8>);

impl DsseRequest {
    /// The request for the envelope `envelope_json` (its JSON text).
    pub fn new(envelope_json: &str) -> DsseRequest {
        // One buffer of about the final size: a `json!` tree would copy the envelope into a
        // `Value` and again while serialising into a buffer grown by doubling.
        let mut body = Vec::with_capacity(envelope_json.len() + envelope_json.len() / 8 + 4096);
        body.extend_from_slice(
            br#"{"apiVersion":"0.0.1","kind":"dsse","spec":{"proposedContent":{"envelope":"#,
        );
        body.push(b'"');
        push_json_string_contents(envelope_json, &mut body);
        body.push(b'"');
        DsseRequest(body)
    }
}

/// Appends `text` escaped as the inside of a JSON string (the bytes serde_json writes for
/// it). Written by hand for speed: an envelope is many MiB of base64 in which nothing needs
/// escaping, so it is checked 16 bytes at a time (a loop the compiler vectorises) and copied in
/// runs, where serde_json looks each byte up in a table (~0.5 GB/s here).
fn push_json_string_contents(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let plain = |b: u8| b >= 0x20 && b != b'"' && b != b'\\';
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 16) {
            if chunk.iter().fold(true, |all, &b| all & plain(b)) {
                i += 16;
                continue;
            }
        }
        let Some(&b) = bytes.get(i) else { break };
        if !plain(b) {
            out.extend_from_slice(bytes.get(run..i).unwrap_or_default());
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                _ => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]),
            }
            run = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(bytes.get(run..).unwrap_or_default());
}

/// The proposed hashedrekord 0.0.1 entry for a signature over an artifact's SHA-256 digest.
pub fn hashedrekord_entry(sha256: &[u8; 32], signature: &[u8], verifier_pem: &str) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha256)}},
            "signature": {
                "content": B64.encode(signature),
                "publicKey": {"content": B64.encode(verifier_pem)},
            },
        },
    })
}

/// A log a verifier trusts: its key and the name its checkpoints are signed under.
#[derive(Debug, Clone)]
pub struct TrustedLog {
    pub key: PublicKey,
    /// Checkpoint key name: `rekor.sigstore.dev` for public Rekor v1, the `--origin` of
    /// `sigil tlog serve` (default `sigil-tlog`).
    pub name: String,
}

impl TrustedLog {
    pub fn new(key: PublicKey, name: impl Into<String>) -> TrustedLog {
        TrustedLog {
            key,
            name: name.into(),
        }
    }

    /// Verifies an entry from this log: the SET, and the inclusion proof up to a checkpoint
    /// signed by this log. Returns the checkpoint.
    pub fn verify_entry(&self, entry: &LogEntry) -> Result<Checkpoint, RekorClientError> {
        rekor::verify_set(entry, &self.key).map_err(RekorClientError::Verify)?;
        rekor::verify_inclusion(
            entry,
            &NoteVerifier::rekor(self.name.clone(), self.key.clone()),
        )
        .map_err(RekorClientError::Verify)
    }

    /// Verifies that the log's tree at `new` extends the tree at `old` (both checkpoints
    /// already verified), with a proof from [`RekorClient::consistency_proof`].
    pub fn verify_consistency(
        &self,
        old: &Checkpoint,
        new: &Checkpoint,
        proof: &ConsistencyProof,
    ) -> Result<(), RekorClientError> {
        let hashes = proof
            .hashes
            .iter()
            .map(|h| rekor::decode_hash(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(RekorClientError::Verify)?;
        merkle::verify_consistency(old.size, new.size, &hashes, &old.root_hash, &new.root_hash)
            .map_err(|e| RekorClientError::Verify(RekorError::Proof(e)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    #[test]
    fn json_string_escaping_matches_serde_json() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é€😀 \"quoted\" back\\slash");
        let long = format!("{}{all}{}", "A".repeat(37), "b/+=".repeat(1000));
        for text in [
            "",
            "plain",
            "\"",
            "0123456789abcdef\"",
            all.as_str(),
            long.as_str(),
        ] {
            let mut ours = Vec::new();
            super::push_json_string_contents(text, &mut ours);
            let theirs = serde_json::to_vec(text).unwrap();
            assert_eq!(ours, theirs[1..theirs.len() - 1], "{text:?}");
        }
    }

    use super::*;
    use sigil_core::keys::PrivateKey;

    #[tokio::test]
    async fn upload_verify_and_fetch_against_sigil_tlog() {
        let dir = tempfile::tempdir().unwrap();
        let server = sigil_tlog::TlogServer::start(
            "127.0.0.1:0".parse().unwrap(),
            dir.path(),
            sigil_tlog::LogConfig::default(),
        )
        .await
        .unwrap();
        let client = RekorClient::new(&server.url()).unwrap();
        let trusted = TrustedLog::new(server.log().public_key().clone(), "sigil-tlog");

        let key = PrivateKey::generate_p256().unwrap();
        let artifact = b"hello";
        let digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, artifact)
            .as_ref()
            .try_into()
            .unwrap();
        let sig = key.sign(artifact).unwrap();
        let pem = key.public_key().to_pem();
        let up = client
            .upload_hashedrekord(&digest, &sig, &pem)
            .await
            .unwrap();
        assert!(!up.already_logged);
        let cp1 = trusted.verify_entry(&up.entry).unwrap();
        let again = client
            .upload_hashedrekord(&digest, &sig, &pem)
            .await
            .unwrap();
        assert!(again.already_logged);
        assert_eq!(again.uuid, up.uuid);

        let sig2 = key.sign(b"second").unwrap();
        let d2: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, b"second")
            .as_ref()
            .try_into()
            .unwrap();
        let up2 = client.upload_hashedrekord(&d2, &sig2, &pem).await.unwrap();
        let cp2 = trusted.verify_entry(&up2.entry).unwrap();
        let proof = client.consistency_proof(cp1.size, cp2.size).await.unwrap();
        trusted.verify_consistency(&cp1, &cp2, &proof).unwrap();

        let (uuid, e) = client.entry_by_index(0).await.unwrap();
        assert_eq!(uuid, up.uuid);
        trusted.verify_entry(&e).unwrap();
        let found = client
            .search_hash(&format!("sha256:{}", hex::encode(digest)))
            .await
            .unwrap();
        assert_eq!(found, vec![up.uuid.clone()]);
        assert_eq!(client.public_key().await.unwrap(), trusted.key);

        // Another log's key, a wrong name, or a tampered entry fail.
        let other = TrustedLog::new(
            PrivateKey::generate_p256().unwrap().public_key().clone(),
            "sigil-tlog",
        );
        assert!(other.verify_entry(&e).is_err());
        let wrong_name = TrustedLog::new(trusted.key.clone(), "rekor.sigstore.dev");
        assert!(wrong_name.verify_entry(&e).is_err());
        let mut tampered = e.clone();
        tampered.integrated_time += 1;
        assert!(trusted.verify_entry(&tampered).is_err());

        // Errors from the log carry its message.
        let err = client
            .upload(&json!({"apiVersion": "0.0.1", "kind": "nope", "spec": {}}))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RekorClientError::Status { status: 400, .. }),
            "{err}"
        );
        assert!(matches!(
            client.entry_by_index(99).await,
            Err(RekorClientError::Status { status: 404, .. })
        ));
        assert!(RekorClient::new("not a url").is_err());
    }
}
