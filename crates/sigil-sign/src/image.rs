//! Signing an image as `cosign sign` does (cosign `cmd/cosign/cli/sign/sign.go`): the
//! simple-signing payload for the image digest, a signature over the payload bytes (with a key
//! file, or keyless: an ephemeral key certified by Fulcio for an OIDC identity), a hashedrekord
//! entry in the transparency log, and a layer appended to the `sha256-<hex>.sig` image carrying
//! `dev.cosignproject.cosign/signature` and, as applicable, the certificate, chain and Rekor
//! bundle annotations.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use sigil_core::keys::PrivateKey;
use sigil_core::{media_types, Digest, ImageRef, SimpleSigningPayload};
use sigil_oci::cosign::{attach_layer, Attached, Attachment, NewLayer};
use sigil_oci::Client;
use tokio::task::JoinHandle;

use sha2::{Digest as _, Sha256};

use crate::fulcio::{request_certificate, CertificateChain};
use crate::rekor::{hashedrekord_entry, RekorClient};
use crate::Error;

/// Whether the signature is recorded in the transparency log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlogUpload {
    /// `--tlog-upload=false`.
    Disabled,
    /// Upload to the Rekor v1 API at this URL (cosign's default).
    Enabled { rekor_url: String },
}

/// What signs.
#[derive(Debug)]
pub enum Signer {
    /// A key file's key.
    Key(Box<PrivateKey>),
    /// An ephemeral key certified by the Fulcio at `fulcio_url` for the identity in `token`.
    Keyless { fulcio_url: String, token: String },
}

/// How to sign.
#[derive(Clone, Debug)]
pub struct SignOptions {
    /// `-a key=value` annotations, signed under `optional`.
    pub annotations: BTreeMap<String, String>,
    pub tlog: TlogUpload,
    /// Where the `.sig` image goes (the image's repository unless `COSIGN_REPOSITORY`).
    pub signature_repository: Option<ImageRef>,
}

/// A signature made by a [`Signer`]: the bytes, the PEM the log records as the verifier (the
/// public key, or the leaf certificate), the verifying key, and the chain when keyless.
pub(crate) struct Signature {
    pub(crate) bytes: Vec<u8>,
    pub(crate) verifier_pem: String,
    pub(crate) public_key: sigil_core::keys::PublicKey,
    pub(crate) chain: Option<CertificateChain>,
}

impl Signer {
    /// Signs `message`: with the key, or with a fresh key certified by the CA for the token's
    /// identity (one certificate per signature, as cosign does).
    pub(crate) async fn sign(
        &self,
        http: &reqwest::Client,
        message: &[u8],
    ) -> Result<Signature, Error> {
        match self {
            Signer::Key(key) => Ok(Signature {
                bytes: key.sign(message).map_err(Error::Sign)?,
                verifier_pem: key.public_key().to_pem(),
                public_key: key.public_key().clone(),
                chain: None,
            }),
            Signer::Keyless { fulcio_url, token } => {
                let ephemeral = PrivateKey::generate_p256().map_err(Error::Sign)?;
                let chain = request_certificate(http, fulcio_url, token, &ephemeral).await?;
                Ok(Signature {
                    bytes: ephemeral.sign(message).map_err(Error::Sign)?,
                    verifier_pem: chain.leaf_pem().to_owned(),
                    public_key: ephemeral.public_key().clone(),
                    chain: Some(chain),
                })
            }
        }
    }
}

/// A [`Signer`] ready to sign without the network: the key file's key, or an ephemeral key
/// whose certificate the CA is issuing. `attest` prepares it before it reads the predicate,
/// signs as soon as the statement is built, and waits for the certificate only where it is
/// needed (the log entry and the stored annotations): the CA round trip runs while the
/// statement is built, signed, hashed and pushed.
pub struct PreparedSigner {
    key: Arc<PrivateKey>,
    certificate: Option<PendingCertificate>,
}

/// The certificate of an ephemeral key, requested when the signer was prepared.
struct PendingCertificate {
    request: std::sync::Mutex<Option<JoinHandle<Result<CertificateChain, Error>>>>,
    chain: tokio::sync::OnceCell<CertificateChain>,
}

impl PendingCertificate {
    async fn get(&self) -> Result<&CertificateChain, Error> {
        self.chain
            .get_or_try_init(|| async {
                let request = self.request.lock().ok().and_then(|mut r| r.take());
                match request {
                    Some(request) => request
                        .await
                        .map_err(|e| Error::Ca(format!("the certificate request stopped: {e}")))?,
                    None => Err(Error::Ca("the certificate request failed".into())),
                }
            })
            .await
    }
}

impl Drop for PendingCertificate {
    fn drop(&mut self) {
        if let Some(request) = self.request.get_mut().ok().and_then(Option::take) {
            request.abort();
        }
    }
}

impl Signer {
    /// Makes the signer ready: a key signer as it is; keyless, a fresh key (one certificate
    /// per signature, as cosign does) and its certificate request sent to the CA. Needs a
    /// Tokio runtime (the request runs as a task); its errors surface where the certificate
    /// is first needed ([`PreparedSigner::certificate`]).
    pub async fn prepare(self) -> Result<PreparedSigner, Error> {
        match self {
            Signer::Key(key) => Ok(PreparedSigner {
                key: Arc::from(key),
                certificate: None,
            }),
            Signer::Keyless { fulcio_url, token } => {
                let key = Arc::new(PrivateKey::generate_p256().map_err(Error::Sign)?);
                let http = crate::attest::http_client()?;
                let for_request = Arc::clone(&key);
                let request = tokio::spawn(async move {
                    request_certificate(&http, &fulcio_url, &token, &for_request).await
                });
                Ok(PreparedSigner {
                    key,
                    certificate: Some(PendingCertificate {
                        request: std::sync::Mutex::new(Some(request)),
                        chain: tokio::sync::OnceCell::new(),
                    }),
                })
            }
        }
    }
}

impl std::fmt::Debug for PreparedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("PreparedSigner")
            .field("keyless", &self.certificate.is_some())
            .finish_non_exhaustive()
    }
}

impl PreparedSigner {
    /// The signing key, for signing off the async workers.
    pub(crate) fn key(&self) -> Arc<PrivateKey> {
        Arc::clone(&self.key)
    }

    /// The certificate chain when keyless (waiting for the CA if it has not answered yet).
    pub async fn certificate(&self) -> Result<Option<&CertificateChain>, Error> {
        match &self.certificate {
            Some(pending) => pending.get().await.map(Some),
            None => Ok(None),
        }
    }

    /// What vouches for a signature made with [`PreparedSigner::key`] (its bytes are left
    /// empty: they are already in the envelope).
    pub(crate) async fn signature(&self) -> Result<Signature, Error> {
        let chain = self.certificate().await?.cloned();
        Ok(Signature {
            bytes: Vec::new(),
            verifier_pem: match &chain {
                Some(chain) => chain.leaf_pem().to_owned(),
                None => self.key.public_key().to_pem(),
            },
            public_key: self.key.public_key().clone(),
            chain,
        })
    }
}

/// What was signed and where the signature went.
#[derive(Clone, Debug)]
pub struct SignedImage {
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
    pub attached: Attached,
    /// The log index of the entry, when uploaded.
    pub log_index: Option<i64>,
    /// The certificate's PEM, when keyless.
    pub certificate_pem: Option<String>,
}

/// Signs `image` at `digest` and attaches the signature.
pub async fn sign_image(
    client: &Client,
    image: &ImageRef,
    digest: &Digest,
    signer: &Signer,
    options: &SignOptions,
) -> Result<SignedImage, Error> {
    let http = crate::attest::http_client()?;
    let payload = SimpleSigningPayload::new(image, digest, &options.annotations).to_bytes();
    let mut annotations = BTreeMap::new();
    let Signature {
        bytes: signature,
        verifier_pem,
        chain,
        ..
    } = signer.sign(&http, &payload).await?;
    if let Some(chain) = &chain {
        annotations.insert(
            media_types::ANNOTATION_CERTIFICATE.to_owned(),
            chain.leaf_pem().to_owned(),
        );
        annotations.insert(media_types::ANNOTATION_CHAIN.to_owned(), chain.chain_pem());
    }
    annotations.insert(
        media_types::ANNOTATION_SIGNATURE.to_owned(),
        B64.encode(&signature),
    );
    let mut log_index = None;
    if let TlogUpload::Enabled { rekor_url } = &options.tlog {
        let rekor = RekorClient::with_http(rekor_url, http.clone()).map_err(Error::Tlog)?;
        let sha: [u8; 32] = Sha256::digest(&payload).into();
        let uploaded = rekor
            .upload(&hashedrekord_entry(&sha, &signature, &verifier_pem))
            .await
            .map_err(Error::Tlog)?;
        let e = &uploaded.entry;
        let set = e
            .verification
            .as_ref()
            .and_then(|v| v.signed_entry_timestamp.clone())
            .ok_or_else(|| {
                Error::TlogUnavailable(format!(
                    "the log at {rekor_url} returned no signed entry timestamp"
                ))
            })?;
        // cosign's RekorBundle, field order as Go writes it.
        let bundle = serde_json::json!({
            "SignedEntryTimestamp": set,
            "Payload": {
                "body": e.body,
                "integratedTime": e.integrated_time,
                "logIndex": e.log_index,
                "logID": e.log_id,
            }
        });
        annotations.insert(
            media_types::ANNOTATION_BUNDLE.to_owned(),
            bundle.to_string(),
        );
        log_index = Some(e.log_index);
    }
    let repo = options.signature_repository.as_ref().unwrap_or(image);
    let attached = attach_layer(
        client,
        repo,
        digest,
        Attachment::Signature,
        NewLayer {
            media_type: media_types::COSIGN_SIMPLE_SIGNING.to_owned(),
            payload: Bytes::from(payload.clone()),
            annotations,
        },
    )
    .await
    .map_err(|source| Error::Attach {
        image: image.to_string(),
        source,
    })?;
    Ok(SignedImage {
        payload,
        signature,
        attached,
        log_index,
        certificate_pem: chain.map(|c| c.leaf_pem().to_owned()),
    })
}
