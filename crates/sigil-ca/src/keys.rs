//! Public keys of certificate requests and signature checks by algorithm identifier.
//!
//! Accepted subject keys follow Fulcio's defaults (`pkg/ca/common.go`, sigstore
//! `cryptoutils.ValidatePubKey`): ECDSA P-256 and P-384, Ed25519, RSA 2048–4096 bits. P-521 is
//! refused because ring cannot verify it, so the proof of possession could not be checked.

use der::asn1::ObjectIdentifier;
use der::Decode;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use spki::SubjectPublicKeyInfoRef;

use crate::Error;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

/// The key types a certificate can be issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    EcdsaP256,
    EcdsaP384,
    Ed25519,
    /// RSA with its modulus size in bits.
    Rsa(usize),
}

/// A validated subject public key.
#[derive(Clone, Debug)]
pub struct SubjectKey {
    pub kind: KeyKind,
    /// SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
    /// The SubjectPublicKeyInfo's bit string.
    raw: Vec<u8>,
}

impl SubjectKey {
    /// Parses and checks a SubjectPublicKeyInfo DER.
    pub fn from_spki(spki_der: &[u8]) -> Result<Self, Error> {
        let spki = SubjectPublicKeyInfoRef::from_der(spki_der)
            .map_err(|e| Error::UnsupportedKey(format!("malformed SubjectPublicKeyInfo: {e}")))?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::UnsupportedKey("public key bit string has unused bits".into()))?
            .to_vec();
        let kind = if spki.algorithm.oid == EC_PUBLIC_KEY {
            match spki.algorithm.parameters_oid().ok() {
                Some(c) if c == P256 => KeyKind::EcdsaP256,
                Some(c) if c == P384 => KeyKind::EcdsaP384,
                Some(c) => {
                    return Err(Error::UnsupportedKey(format!(
                        "elliptic curve {c} (use P-256 or P-384)"
                    )))
                }
                None => {
                    return Err(Error::UnsupportedKey(
                        "elliptic curve key without a named curve".into(),
                    ))
                }
            }
        } else if spki.algorithm.oid == ED25519 {
            KeyKind::Ed25519
        } else if spki.algorithm.oid == RSA_ENCRYPTION {
            use rsa::pkcs8::DecodePublicKey as _;
            use rsa::traits::PublicKeyParts as _;
            let key = rsa::RsaPublicKey::from_public_key_der(spki_der)
                .map_err(|e| Error::UnsupportedKey(format!("RSA key: {e}")))?;
            let bits = key.n().bits();
            if !(2048..=4096).contains(&bits) {
                return Err(Error::UnsupportedKey(format!(
                    "RSA key of {bits} bits (use 2048 to 4096)"
                )));
            }
            KeyKind::Rsa(bits)
        } else {
            return Err(Error::UnsupportedKey(format!(
                "key algorithm {}",
                spki.algorithm.oid
            )));
        };
        // Reject points that are not on the curve now rather than at verification time.
        let point_len_ok = match kind {
            KeyKind::EcdsaP256 => raw.len() == 65,
            KeyKind::EcdsaP384 => raw.len() == 97,
            KeyKind::Ed25519 => raw.len() == 32,
            KeyKind::Rsa(_) => true,
        };
        if !point_len_ok {
            return Err(Error::UnsupportedKey(
                "public key has the wrong length for its type".into(),
            ));
        }
        Ok(SubjectKey {
            kind,
            spki: spki_der.to_vec(),
            raw,
        })
    }

    /// Parses a PEM `PUBLIC KEY`.
    pub fn from_pem(pem_text: &str) -> Result<Self, Error> {
        let block = pem::parse(pem_text)
            .map_err(|e| Error::UnsupportedKey(format!("public key is not PEM: {e}")))?;
        if block.tag() != "PUBLIC KEY" {
            return Err(Error::UnsupportedKey(format!(
                "PEM type `{}` (expected PUBLIC KEY)",
                block.tag()
            )));
        }
        Self::from_spki(block.contents())
    }

    /// Checks a proof of possession: a signature over `challenge` with SHA-256, as Fulcio's
    /// `challenges.CheckSignature` loads every verifier with `crypto.SHA256`.
    pub fn verify_proof(&self, challenge: &[u8], proof: &[u8]) -> bool {
        let alg: &dyn VerificationAlgorithm = match self.kind {
            KeyKind::EcdsaP256 => &signature::ECDSA_P256_SHA256_ASN1,
            KeyKind::EcdsaP384 => &signature::ECDSA_P384_SHA256_ASN1,
            KeyKind::Ed25519 => &signature::ED25519,
            KeyKind::Rsa(_) => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        UnparsedPublicKey::new(alg, &self.raw)
            .verify(challenge, proof)
            .is_ok()
    }

    /// Checks a signature made with algorithm `sig_alg` (from a certificate or CSR).
    pub fn verify_with_algorithm(
        &self,
        sig_alg: &ObjectIdentifier,
        msg: &[u8],
        sig: &[u8],
    ) -> bool {
        let alg: &dyn VerificationAlgorithm = match (self.kind, sig_alg) {
            (KeyKind::EcdsaP256, a) if *a == ECDSA_SHA256 => &signature::ECDSA_P256_SHA256_ASN1,
            (KeyKind::EcdsaP256, a) if *a == ECDSA_SHA384 => &signature::ECDSA_P256_SHA384_ASN1,
            (KeyKind::EcdsaP384, a) if *a == ECDSA_SHA384 => &signature::ECDSA_P384_SHA384_ASN1,
            (KeyKind::EcdsaP384, a) if *a == ECDSA_SHA256 => &signature::ECDSA_P384_SHA256_ASN1,
            (KeyKind::Ed25519, a) if *a == ED25519 => &signature::ED25519,
            (KeyKind::Rsa(_), a) if *a == RSA_SHA256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            (KeyKind::Rsa(_), a) if *a == RSA_SHA384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            (KeyKind::Rsa(_), a) if *a == RSA_SHA512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            _ => return false,
        };
        UnparsedPublicKey::new(alg, &self.raw)
            .verify(msg, sig)
            .is_ok()
    }
}

impl rcgen::PublicKeyData for SubjectKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.kind {
            KeyKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
            KeyKind::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
        }
    }
}
