//! Signing keys of the CA and the CT log, behind the [`Signer`] trait so that KMS or PKCS#11
//! keys can be added later without touching certificate issuance.
//!
//! The file backend keeps an ECDSA P-256 key as unencrypted PKCS#8 DER, mode 0600, in the
//! data directory (Fulcio's `fileca` keeps an encrypted PEM; a password prompt would break
//! unattended `sigil up`, so the file's permissions are the protection here).

use std::fmt;
use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};

use crate::Error;

/// SubjectPublicKeyInfo prefix of an uncompressed P-256 point (id-ecPublicKey, prime256v1).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A key that signs certificates or SCTs.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The SubjectPublicKeyInfo DER of the key.
    fn public_key_spki(&self) -> &[u8];
    /// The raw public key (the SubjectPublicKeyInfo's bit string).
    fn public_key_raw(&self) -> &[u8];
    /// Signs `msg` with ECDSA P-256 / SHA-256, DER signature.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error>;
}

/// An ECDSA P-256 key kept in a file.
pub struct FileSigner {
    key: EcdsaKeyPair,
    spki: Vec<u8>,
    rng: SystemRandom,
}

impl fmt::Debug for FileSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSigner")
            .field("spki", &hex::encode(&self.spki))
            .finish_non_exhaustive()
    }
}

impl FileSigner {
    /// Loads the key at `path`, generating and storing a new one if the file does not exist.
    pub fn load_or_generate(path: &Path) -> Result<Self, Error> {
        let rng = SystemRandom::new();
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .map_err(|_| Error::Signing)?;
                crate::store::create_private(path, doc.as_ref())?
            }
            Err(e) => return Err(Error::io("reading key", path, e)),
        };
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
            .map_err(|_| Error::CorruptKey(path.display().to_string()))?;
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(key.public_key().as_ref());
        Ok(FileSigner { key, spki, rng })
    }
}

impl Signer for FileSigner {
    fn public_key_spki(&self) -> &[u8] {
        &self.spki
    }
    fn public_key_raw(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        self.key
            .sign(&self.rng, msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| Error::Signing)
    }
}

/// Adapts a [`Signer`] to rcgen's signing interface.
pub(crate) struct RcgenKey<'a>(pub(crate) &'a dyn Signer);

impl rcgen::PublicKeyData for RcgenKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0.public_key_raw()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for RcgenKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.0.sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}
