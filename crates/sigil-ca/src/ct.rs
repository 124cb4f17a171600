//! The embedded RFC 6962 certificate-transparency log that Fulcio-style issuance submits its
//! precertificates to (`POST /ct/v1/add-pre-chain`), and its client side.
//!
//! The log checks the chain (each certificate signed by the next, the last one an accepted
//! root), requires the critical poison extension, stores the RFC 6962 §3.4 `MerkleTreeLeaf`
//! durably, and only then returns a v1 SCT signed over the §3.2 precert `digitally-signed`
//! struct (issuer key hash = SHA-256 of `chain[1]`'s SubjectPublicKeyInfo). Verifiers rebuild the
//! same struct from the final leaf (sigil-core `fulcio::verify_embedded_sct`).
//!
//! Leaves are kept in the transparency-log crate's Merkle storage (`sigil_tlog::store`), which
//! also serves the read side: `get-sth` (signed tree head, §3.5), `get-sth-consistency`,
//! `get-proof-by-hash` and `get-entries` (§4.3–4.6). `get-entries` returns each `leaf_input`;
//! its `extra_data` (the submitted chain) is not kept and is returned empty.

use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use der::{Decode, Encode};
use serde::{Deserialize, Serialize};
use sigil_core::fulcio::{self, SignedCertificateTimestamp, HASH_SHA256, SIGNATURE_ECDSA};
use x509_cert::Certificate;

use sigil_core::merkle;
use sigil_tlog::store::{FileStore, LogStorage, Nodes};

use crate::keys::SubjectKey;
use crate::signer::Signer;
use crate::store::Sequencer;
use crate::Error;

/// Most entries one `get-entries` call returns.
pub const MAX_GET_ENTRIES: u64 = 256;

/// At most this many certificates in a submitted chain.
const MAX_CHAIN: usize = 8;

/// The embedded CT log.
#[derive(Debug)]
pub struct CtLog {
    signer: Arc<dyn Signer>,
    log_id: [u8; 32],
    roots: Vec<Vec<u8>>,
    storage: Arc<dyn LogStorage>,
    sequencer: Sequencer,
}

/// RFC 6962 §4.3 `get-sth` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedTreeHead {
    pub tree_size: u64,
    pub timestamp: u64,
    /// base64 of the 32-byte root.
    pub sha256_root_hash: String,
    /// base64 of the `DigitallySigned` TreeHeadSignature.
    pub tree_head_signature: String,
}

/// `/ct/v1/add-pre-chain` request body (RFC 6962 §4.1).
#[derive(Debug, Serialize, Deserialize)]
pub struct AddChainRequest {
    pub chain: Vec<String>,
}

/// `/ct/v1/add-pre-chain` response body (RFC 6962 §4.1).
#[derive(Debug, Serialize, Deserialize)]
pub struct AddChainResponse {
    pub sct_version: u8,
    pub id: String,
    pub timestamp: u64,
    pub extensions: String,
    pub signature: String,
}

impl AddChainResponse {
    /// The SCT this response describes.
    pub fn to_sct(&self) -> Result<SignedCertificateTimestamp, Error> {
        let bad = |what: &'static str| Error::CtSubmission(what.into());
        if self.sct_version != 0 {
            return Err(bad("CT log answered with an SCT version other than v1"));
        }
        let id = B64
            .decode(&self.id)
            .map_err(|_| bad("CT log id is not base64"))?;
        let log_id: [u8; 32] = id
            .try_into()
            .map_err(|_| bad("CT log id is not 32 bytes"))?;
        let extensions = B64
            .decode(&self.extensions)
            .map_err(|_| bad("SCT extensions are not base64"))?;
        let ds = B64
            .decode(&self.signature)
            .map_err(|_| bad("SCT signature is not base64"))?;
        let (hash_algorithm, signature_algorithm, signature) =
            SignedCertificateTimestamp::parse_digitally_signed(&ds)?;
        Ok(SignedCertificateTimestamp {
            log_id,
            timestamp: self.timestamp,
            extensions,
            hash_algorithm,
            signature_algorithm,
            signature,
        })
    }

    fn from_sct(sct: &SignedCertificateTimestamp) -> Result<Self, Error> {
        Ok(AddChainResponse {
            sct_version: 0,
            id: B64.encode(sct.log_id),
            timestamp: sct.timestamp,
            extensions: B64.encode(&sct.extensions),
            signature: B64.encode(sct.digitally_signed()?),
        })
    }
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl CtLog {
    /// Opens the log stored under `dir` (a `FileStore` in `dir/tree`), signing with `signer`
    /// and accepting chains that end in one of `roots` (DER).
    pub fn open(dir: &Path, signer: Arc<dyn Signer>, roots: Vec<Vec<u8>>) -> Result<Self, Error> {
        let store =
            FileStore::open(&dir.join("tree")).map_err(|e| Error::Storage(e.to_string()))?;
        Self::with_storage(Arc::new(store), signer, roots)
    }

    /// A log over any [`LogStorage`].
    pub fn with_storage(
        storage: Arc<dyn LogStorage>,
        signer: Arc<dyn Signer>,
        roots: Vec<Vec<u8>>,
    ) -> Result<Self, Error> {
        let log_id = fulcio::key_hash(signer.public_key_spki());
        let sequencer = Sequencer::start(storage.clone())?;
        Ok(CtLog {
            signer,
            log_id,
            roots,
            storage,
            sequencer,
        })
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.storage.size()
    }

    /// RFC 6962 §3.5 signed tree head of the current tree.
    pub fn signed_tree_head(&self) -> Result<SignedTreeHead, Error> {
        let size = self.storage.size();
        let root = merkle::root(&Nodes(self.storage.as_ref()), size)
            .map_err(|e| Error::Storage(e.to_string()))?;
        let timestamp = now_millis();
        let mut signed = Vec::with_capacity(50);
        signed.push(0); // version v1
        signed.push(1); // signature_type tree_hash
        signed.extend_from_slice(&timestamp.to_be_bytes());
        signed.extend_from_slice(&size.to_be_bytes());
        signed.extend_from_slice(&root);
        let sig = self.signer.sign(&signed)?;
        let mut ds = vec![HASH_SHA256, SIGNATURE_ECDSA];
        let len = u16::try_from(sig.len()).map_err(|_| Error::Signing)?;
        ds.extend_from_slice(&len.to_be_bytes());
        ds.extend_from_slice(&sig);
        Ok(SignedTreeHead {
            tree_size: size,
            timestamp,
            sha256_root_hash: B64.encode(root),
            tree_head_signature: B64.encode(ds),
        })
    }

    /// RFC 6962 §4.4 consistency proof between two tree sizes.
    pub fn consistency(&self, first: u64, second: u64) -> Result<Vec<String>, Error> {
        let size = self.storage.size();
        if second > size {
            return Err(Error::OutOfRange("second", size));
        }
        if first > second {
            return Err(Error::OutOfRange("first", second));
        }
        let proof = merkle::consistency_proof(&Nodes(self.storage.as_ref()), first, second)
            .map_err(|e| Error::Storage(e.to_string()))?;
        Ok(proof.iter().map(|h| B64.encode(h)).collect())
    }

    /// RFC 6962 §4.5 audit path of the leaf with `leaf_hash` in the tree of `tree_size`.
    pub fn proof_by_hash(
        &self,
        leaf_hash: &[u8],
        tree_size: u64,
    ) -> Result<(u64, Vec<String>), Error> {
        let size = self.storage.size();
        if tree_size > size || tree_size == 0 {
            return Err(Error::OutOfRange("tree_size", size));
        }
        let hash: merkle::Hash = leaf_hash
            .try_into()
            .map_err(|_| Error::MalformedRequest("hash must be 32 bytes".into()))?;
        let index = self
            .storage
            .find_leaf(&hash)
            .map_err(|e| Error::Storage(e.to_string()))?
            .filter(|i| *i < tree_size)
            .ok_or(Error::LeafNotFound(tree_size))?;
        let path = merkle::inclusion_proof(&Nodes(self.storage.as_ref()), index, tree_size)
            .map_err(|e| Error::Storage(e.to_string()))?;
        Ok((index, path.iter().map(|h| B64.encode(h)).collect()))
    }

    /// RFC 6962 §4.6 leaves `start..=end` (at most [`MAX_GET_ENTRIES`]).
    pub fn leaves(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Error> {
        let size = self.storage.size();
        if start >= size {
            return Err(Error::OutOfRange("start", size));
        }
        if end < start {
            return Err(Error::OutOfRange("end", start));
        }
        let end = end.min(size - 1).min(start + MAX_GET_ENTRIES - 1);
        (start..=end)
            .map(|i| {
                self.storage
                    .leaf_data(i)
                    .map_err(|e| Error::Storage(e.to_string()))
            })
            .collect()
    }

    /// The log's id: SHA-256 of its public key.
    pub fn log_id(&self) -> [u8; 32] {
        self.log_id
    }

    /// The log's SubjectPublicKeyInfo DER (what goes into a trust root's `ctlogs`).
    pub fn public_key_spki(&self) -> &[u8] {
        self.signer.public_key_spki()
    }

    /// The accepted roots (DER).
    pub fn roots(&self) -> &[Vec<u8>] {
        &self.roots
    }

    /// Every stored `MerkleTreeLeaf`, in log order.
    pub fn entries(&self) -> Result<Vec<Vec<u8>>, Error> {
        (0..self.storage.size())
            .map(|i| {
                self.storage
                    .leaf_data(i)
                    .map_err(|e| Error::Storage(e.to_string()))
            })
            .collect()
    }

    /// RFC 6962 `add-pre-chain`: checks the chain, stores the entry, returns its SCT.
    pub async fn add_pre_chain(
        &self,
        chain: &[Vec<u8>],
    ) -> Result<SignedCertificateTimestamp, Error> {
        if chain.len() < 2 {
            return Err(Error::BadChain(
                "a precertificate chain needs the precertificate and its issuer",
            ));
        }
        if chain.len() > MAX_CHAIN {
            return Err(Error::BadChain("chain too long"));
        }
        let certs = chain
            .iter()
            .map(|der| Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::BadChain("a certificate in the chain is malformed"))?;
        let (Some(precert), Some(issuer)) = (certs.first(), certs.get(1)) else {
            return Err(Error::BadChain(
                "a precertificate chain needs the precertificate and its issuer",
            ));
        };
        let poisoned = precert
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|e| e.extn_id == fulcio::PRECERT_POISON_OID && e.critical);
        if !poisoned {
            return Err(Error::BadChain(
                "first certificate has no critical CT poison extension",
            ));
        }
        for pair in certs.windows(2) {
            if let [child, parent] = pair {
                verify_issued_by(child, parent)?;
            }
        }
        let last = chain.last().ok_or(Error::BadChain("empty chain"))?;
        let anchored = self.roots.iter().any(|r| r == last)
            || self
                .roots
                .iter()
                .any(|r| match (Certificate::from_der(r), certs.last()) {
                    (Ok(root), Some(top)) => verify_issued_by(top, &root).is_ok(),
                    _ => false,
                });
        if !anchored {
            return Err(Error::BadChain(
                "chain does not end at a root this log accepts",
            ));
        }

        let issuer_spki = issuer
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|_| Error::BadChain("issuer key cannot be encoded"))?;
        let issuer_key_hash = fulcio::key_hash(&issuer_spki);
        let tbs = fulcio::precert_tbs(precert)?;
        let timestamp = now_millis();
        let signed = fulcio::precert_signed_data(timestamp, &issuer_key_hash, &tbs, &[])?;

        // RFC 6962 §3.4 MerkleTreeLeaf: version v1, leaf_type timestamped_entry, then the
        // TimestampedEntry, which is the signed struct minus its first two bytes.
        self.sequencer.append(merkle_leaf(&signed)).await?;

        let signature = self.signer.sign(&signed)?;
        Ok(SignedCertificateTimestamp {
            log_id: self.log_id,
            timestamp,
            extensions: Vec::new(),
            hash_algorithm: HASH_SHA256,
            signature_algorithm: SIGNATURE_ECDSA,
            signature,
        })
    }

    /// The HTTP form of [`CtLog::add_pre_chain`].
    pub async fn add_pre_chain_json(
        &self,
        req: &AddChainRequest,
    ) -> Result<AddChainResponse, Error> {
        let chain = req
            .chain
            .iter()
            .map(|c| B64.decode(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::BadChain("chain entries must be base64 DER certificates"))?;
        let sct = self.add_pre_chain(&chain).await?;
        AddChainResponse::from_sct(&sct)
    }
}

/// The RFC 6962 `MerkleTreeLeaf` a log stored for the embedded SCT of `leaf` (PEM), issued by
/// `issuer` (PEM): what an auditor looks up (`get-proof-by-hash` of its leaf hash) to check
/// that a certificate's SCT was honoured. Uses the first embedded SCT.
pub fn certificate_leaf(leaf_pem: &str, issuer_pem: &str) -> Result<Vec<u8>, Error> {
    let der = |text: &str| {
        pem::parse(text)
            .map(pem::Pem::into_contents)
            .map_err(|_| Error::BadChain("certificate is not PEM"))
    };
    let leaf =
        Certificate::from_der(&der(leaf_pem)?).map_err(|_| Error::BadChain("malformed leaf"))?;
    let issuer = Certificate::from_der(&der(issuer_pem)?)
        .map_err(|_| Error::BadChain("malformed issuer"))?;
    let sct = fulcio::embedded_scts(&leaf)?
        .into_iter()
        .next()
        .ok_or(fulcio::FulcioError::NoSct)?;
    let issuer_spki = issuer
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| Error::BadChain("issuer key cannot be encoded"))?;
    let signed = fulcio::precert_signed_data(
        sct.timestamp,
        &fulcio::key_hash(&issuer_spki),
        &fulcio::precert_tbs(&leaf)?,
        &sct.extensions,
    )?;
    Ok(merkle_leaf(&signed))
}

/// RFC 6962 §3.4 `MerkleTreeLeaf` (v1, timestamped_entry) of a §3.2 signed struct: the same
/// bytes minus the leading version and signature type.
fn merkle_leaf(signed: &[u8]) -> Vec<u8> {
    let mut leaf = Vec::with_capacity(signed.len());
    leaf.extend_from_slice(&[0, 0]);
    leaf.extend_from_slice(signed.get(2..).unwrap_or_default());
    leaf
}

/// Checks that `child` carries a valid signature by `parent`'s key.
pub(crate) fn verify_issued_by(child: &Certificate, parent: &Certificate) -> Result<(), Error> {
    let parent_spki = parent
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| Error::BadChain("issuer key cannot be encoded"))?;
    let key = SubjectKey::from_spki(&parent_spki)
        .map_err(|_| Error::BadChain("unsupported issuer key"))?;
    let tbs = child
        .tbs_certificate
        .to_der()
        .map_err(|_| Error::BadChain("certificate cannot be encoded"))?;
    let sig = child
        .signature
        .as_bytes()
        .ok_or(Error::BadChain("certificate signature has unused bits"))?;
    if key.verify_with_algorithm(&child.signature_algorithm.oid, &tbs, sig) {
        Ok(())
    } else {
        Err(Error::BadChain(
            "a certificate's signature does not verify against the next certificate",
        ))
    }
}

/// Where the CA sends its precertificates.
#[derive(Debug, Clone)]
pub enum CtSubmitter {
    /// The log in this process (no HTTP round trip).
    Embedded(Arc<CtLog>),
    /// An RFC 6962 log at this base URL (`{url}/ct/v1/add-pre-chain`).
    Remote {
        url: String,
        client: reqwest::Client,
    },
}

impl CtSubmitter {
    /// Submits a precertificate chain and returns the SCT.
    pub async fn submit(&self, chain: &[Vec<u8>]) -> Result<SignedCertificateTimestamp, Error> {
        match self {
            CtSubmitter::Embedded(log) => log.add_pre_chain(chain).await,
            CtSubmitter::Remote { url, client } => {
                let req = AddChainRequest {
                    chain: chain.iter().map(|c| B64.encode(c)).collect(),
                };
                let endpoint = format!("{}/ct/v1/add-pre-chain", url.trim_end_matches('/'));
                let resp = client
                    .post(&endpoint)
                    .json(&req)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(|e| Error::CtSubmission(Box::new(e)))?;
                let body: AddChainResponse = resp
                    .json()
                    .await
                    .map_err(|e| Error::CtSubmission(Box::new(e)))?;
                body.to_sct()
            }
        }
    }
}
