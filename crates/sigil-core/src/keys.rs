//! Keys: cosign's encrypted private-key files, PKIX public keys, signing and verifying.
//!
//! The key file format is cosign's (`pkg/cosign/keys.go`, go-securesystemslib
//! `encrypted/encrypted.go`): a PEM block labelled `ENCRYPTED SIGSTORE PRIVATE KEY` (older
//! files: `ENCRYPTED COSIGN PRIVATE KEY`) whose body is JSON naming the KDF (scrypt) and cipher
//! (NaCl secretbox, the 16-byte Poly1305 tag first), with a PKCS#8 DER plaintext.
//!
//! Cryptography is ring's (ECDSA P-256/P-384, Ed25519, RSA PKCS#1 v1.5): it verifies P-256
//! about five times faster than the pure-Rust `p256` crate. DER and PKCS#8/SPKI structure
//! comes from the RustCrypto `der`/`spki`/`pkcs8` crates.
//!
//! # Defaults
//! - New keys are ECDSA P-256, encrypted with scrypt N=65536, r=8, p=1, as cosign writes them.
//! - Only the scrypt parameters cosign has ever written are accepted when reading
//!   (N ∈ {32768, 65536, 131072}, r = 8, p = 1): a key file cannot make us burn memory or CPU.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use der::asn1::{AnyRef, BitString, ObjectIdentifier};
use der::{Decode, Encode};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self as rsig, KeyPair as _};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Error;

/// PEM label cosign writes for private keys.
pub const SIGSTORE_PRIVATE_KEY_PEM: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label of private keys written by cosign before v2.
pub const COSIGN_PRIVATE_KEY_PEM: &str = "ENCRYPTED COSIGN PRIVATE KEY";

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// scrypt parameters cosign has written (log2 N); anything else is refused.
const ALLOWED_LOG_N: [u8; 3] = [15, 16, 17];
const NEW_KEY_LOG_N: u8 = 16;

/// The algorithm of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    EcdsaP256,
    EcdsaP384,
    Ed25519,
    /// RSA with PKCS#1 v1.5 signatures over SHA-256.
    Rsa,
}

impl KeyAlgorithm {
    /// Sigstore's `PublicKeyDetails` name.
    pub fn key_details(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
            KeyAlgorithm::EcdsaP384 => "PKIX_ECDSA_P384_SHA_384",
            KeyAlgorithm::Ed25519 => "PKIX_ED25519",
            KeyAlgorithm::Rsa => "PKIX_RSA_PKCS1V15_2048_SHA256",
        }
    }
}

/// A public key, kept as its PKIX SubjectPublicKeyInfo DER.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    spki_der: Vec<u8>,
    /// The subjectPublicKey bits: an EC point, 32 Ed25519 bytes, or a PKCS#1 RSAPublicKey.
    key_bytes: Vec<u8>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({:?})", self.algorithm)
    }
}

impl PublicKey {
    /// Parses a PEM `PUBLIC KEY` (PKIX) or `RSA PUBLIC KEY` (PKCS#1) block.
    pub fn from_pem(pem_bytes: &[u8]) -> Result<PublicKey, Error> {
        let block = pem::parse(pem_bytes)
            .map_err(|e| Error::InvalidKey(format!("not a PEM public key: {e}")))?;
        match block.tag() {
            "PUBLIC KEY" => PublicKey::from_spki_der(block.contents()),
            "RSA PUBLIC KEY" => PublicKey::from_spki_der(&rsa_spki(block.contents())?),
            other => Err(Error::UnsupportedPemType(other.to_owned())),
        }
    }

    /// Parses a PKIX SubjectPublicKeyInfo.
    pub fn from_spki_der(der_bytes: &[u8]) -> Result<PublicKey, Error> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der_bytes)
            .map_err(|e| Error::InvalidKey(format!("malformed SubjectPublicKeyInfo: {e}")))?;
        let key_bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::InvalidKey("public key bit string is not byte aligned".into()))?
            .to_vec();
        let algorithm = match spki.algorithm.oid {
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                match curve {
                    Some(OID_P256) => KeyAlgorithm::EcdsaP256,
                    Some(OID_P384) => KeyAlgorithm::EcdsaP384,
                    _ => return Err(Error::InvalidKey("unsupported elliptic curve".into())),
                }
            }
            OID_ED25519 => KeyAlgorithm::Ed25519,
            OID_RSA => KeyAlgorithm::Rsa,
            other => {
                return Err(Error::InvalidKey(format!(
                    "unsupported key algorithm {other}"
                )))
            }
        };
        let key = PublicKey {
            algorithm,
            spki_der: der_bytes.to_vec(),
            key_bytes,
        };
        key.check_shape()?;
        Ok(key)
    }

    fn check_shape(&self) -> Result<(), Error> {
        let ok = match self.algorithm {
            KeyAlgorithm::EcdsaP256 => self.key_bytes.len() == 65 && self.key_bytes[0] == 4,
            KeyAlgorithm::EcdsaP384 => self.key_bytes.len() == 97 && self.key_bytes[0] == 4,
            KeyAlgorithm::Ed25519 => self.key_bytes.len() == 32,
            KeyAlgorithm::Rsa => true,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidKey(format!(
                "malformed {:?} public key ({} bytes)",
                self.algorithm,
                self.key_bytes.len()
            )))
        }
    }

    fn from_parts(algorithm: KeyAlgorithm, key_bytes: Vec<u8>) -> Result<PublicKey, Error> {
        let (oid, params): (ObjectIdentifier, Option<AnyRef<'_>>) = match algorithm {
            KeyAlgorithm::EcdsaP256 => (OID_EC_PUBLIC_KEY, Some(AnyRef::from(&OID_P256))),
            KeyAlgorithm::EcdsaP384 => (OID_EC_PUBLIC_KEY, Some(AnyRef::from(&OID_P384))),
            KeyAlgorithm::Ed25519 => (OID_ED25519, None),
            KeyAlgorithm::Rsa => (OID_RSA, Some(AnyRef::NULL)),
        };
        let spki = spki::SubjectPublicKeyInfo {
            algorithm: spki::AlgorithmIdentifier {
                oid,
                parameters: params,
            },
            subject_public_key: BitString::from_bytes(&key_bytes)
                .map_err(|e| Error::InvalidKey(e.to_string()))?,
        };
        let spki_der = spki
            .to_der()
            .map_err(|e| Error::InvalidKey(e.to_string()))?;
        Ok(PublicKey {
            algorithm,
            spki_der,
            key_bytes,
        })
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The PKIX SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// PEM `PUBLIC KEY`, as `cosign.pub` holds it.
    pub fn to_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.spki_der)
    }

    /// Verifies `signature` over `message` with this key's scheme: ECDSA (ASN.1 DER
    /// signature, SHA-256 for P-256 and SHA-384 for P-384 — SHA-256 is also accepted for
    /// P-384, as cosign signs with SHA-256), Ed25519, or RSA PKCS#1 v1.5 with SHA-256.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let schemes: &[&'static dyn rsig::VerificationAlgorithm] = match self.algorithm {
            KeyAlgorithm::EcdsaP256 => &[&rsig::ECDSA_P256_SHA256_ASN1],
            KeyAlgorithm::EcdsaP384 => {
                &[&rsig::ECDSA_P384_SHA384_ASN1, &rsig::ECDSA_P384_SHA256_ASN1]
            }
            KeyAlgorithm::Ed25519 => &[&rsig::ED25519],
            KeyAlgorithm::Rsa => &[&rsig::RSA_PKCS1_2048_8192_SHA256],
        };
        for scheme in schemes {
            if rsig::UnparsedPublicKey::new(*scheme, &self.key_bytes)
                .verify(message, signature)
                .is_ok()
            {
                return Ok(());
            }
        }
        Err(SignatureError)
    }

    /// Verifies a `signature` over a message of which only the `digest` is known, as
    /// hashedrekord entries and `sha256:<hex>` artifacts require: ECDSA (P-256, P-384) and
    /// RSA PKCS#1 v1.5, with the hash named by the digest's length (SHA-256, SHA-384,
    /// SHA-512), as Go's `crypto` verifies a pre-hashed message for Rekor and sigstore-go.
    /// ring only verifies whole messages, so this uses the system OpenSSL (`EVP_PKEY_verify`),
    /// which checks a P-256 signature about 4× faster than the RustCrypto `p256` crate.
    /// Ed25519 keys cannot verify a bare digest here.
    pub fn verify_prehashed(&self, digest: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let md = match digest.len() {
            32 => openssl::md::Md::sha256(),
            48 => openssl::md::Md::sha384(),
            64 => openssl::md::Md::sha512(),
            _ => return Err(SignatureError),
        };
        let group = match self.algorithm {
            KeyAlgorithm::EcdsaP256 => ec_group(&P256_GROUP, openssl::nid::Nid::X9_62_PRIME256V1),
            KeyAlgorithm::EcdsaP384 => ec_group(&P384_GROUP, openssl::nid::Nid::SECP384R1),
            KeyAlgorithm::Rsa => {
                return verify_rsa_prehashed(&self.key_bytes, md, digest, signature)
            }
            KeyAlgorithm::Ed25519 => return Err(SignatureError),
        };
        // The EC_KEY API, not `d2i_PUBKEY`: OpenSSL 3's generic key decoders cost more than
        // the signature check itself.
        let group = group.ok_or(SignatureError)?;
        let mut bn = openssl::bn::BigNumContext::new().map_err(|_| SignatureError)?;
        let point = openssl::ec::EcPoint::from_bytes(group, &self.key_bytes, &mut bn)
            .map_err(|_| SignatureError)?;
        let key = openssl::ec::EcKey::from_public_key(group, &point).map_err(|_| SignatureError)?;
        let sig = openssl::ecdsa::EcdsaSig::from_der(signature).map_err(|_| SignatureError)?;
        // Strict DER, as Go's `ecdsa.VerifyASN1`: no trailing bytes, no alternative encodings.
        if sig.to_der().map_err(|_| SignatureError)? != signature {
            return Err(SignatureError);
        }
        match sig.verify(digest, &key) {
            Ok(true) => Ok(()),
            _ => Err(SignatureError),
        }
    }

    /// base64(SHA-256(SPKI DER)): the `publicKey.hint` sigstore-go writes in bundles.
    pub fn hint(&self) -> String {
        B64.encode(ring::digest::digest(&ring::digest::SHA256, &self.spki_der))
    }
}

static P256_GROUP: std::sync::OnceLock<Option<openssl::ec::EcGroup>> = std::sync::OnceLock::new();
static P384_GROUP: std::sync::OnceLock<Option<openssl::ec::EcGroup>> = std::sync::OnceLock::new();

fn ec_group(
    cell: &'static std::sync::OnceLock<Option<openssl::ec::EcGroup>>,
    nid: openssl::nid::Nid,
) -> Option<&'static openssl::ec::EcGroup> {
    cell.get_or_init(|| openssl::ec::EcGroup::from_curve_name(nid).ok())
        .as_ref()
}

/// RSA PKCS#1 v1.5 over a digest; `pkcs1` is the RSAPublicKey DER.
fn verify_rsa_prehashed(
    pkcs1: &[u8],
    md: &openssl::md::MdRef,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let rsa = openssl::rsa::Rsa::public_key_from_der_pkcs1(pkcs1).map_err(|_| SignatureError)?;
    let pkey = openssl::pkey::PKey::from_rsa(rsa).map_err(|_| SignatureError)?;
    let mut ctx = openssl::pkey_ctx::PkeyCtx::new(&pkey).map_err(|_| SignatureError)?;
    ctx.verify_init().map_err(|_| SignatureError)?;
    ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1)
        .map_err(|_| SignatureError)?;
    ctx.set_signature_md(md).map_err(|_| SignatureError)?;
    match ctx.verify(digest, signature) {
        Ok(true) => Ok(()),
        _ => Err(SignatureError),
    }
}

/// A signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct SignatureError;

fn rsa_spki(pkcs1: &[u8]) -> Result<Vec<u8>, Error> {
    let spki = spki::SubjectPublicKeyInfo {
        algorithm: spki::AlgorithmIdentifier {
            oid: OID_RSA,
            parameters: Some(AnyRef::NULL),
        },
        subject_public_key: BitString::from_bytes(pkcs1)
            .map_err(|e| Error::InvalidKey(e.to_string()))?,
    };
    spki.to_der().map_err(|e| Error::InvalidKey(e.to_string()))
}

fn pem_encode(tag: &str, der_bytes: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der_bytes.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

enum Inner {
    Ecdsa(rsig::EcdsaKeyPair),
    Ed25519(rsig::Ed25519KeyPair),
    Rsa(rsig::RsaKeyPair),
}

/// A private key able to sign.
pub struct PrivateKey {
    algorithm: KeyAlgorithm,
    pkcs8: Zeroizing<Vec<u8>>,
    inner: Inner,
    public: PublicKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({:?}, redacted)", self.algorithm)
    }
}

impl PrivateKey {
    /// A fresh ECDSA P-256 key, the kind `cosign generate-key-pair` makes.
    pub fn generate_p256() -> Result<PrivateKey, Error> {
        let rng = SystemRandom::new();
        let doc = rsig::EcdsaKeyPair::generate_pkcs8(&rsig::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| Error::Signing("generating a P-256 key failed".into()))?;
        PrivateKey::from_pkcs8_der(doc.as_ref())
    }

    /// Loads a PKCS#8 (v1 or v2) private key.
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<PrivateKey, Error> {
        let info = pkcs8::PrivateKeyInfo::from_der(der_bytes)
            .map_err(|e| Error::InvalidKey(format!("x509: failed to parse private key: {e}")))?;
        let rng = SystemRandom::new();
        let (algorithm, inner) = match info.algorithm.oid {
            OID_EC_PUBLIC_KEY => {
                let curve = info
                    .algorithm
                    .parameters
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                let (alg, signing) = match curve {
                    Some(OID_P256) => (
                        KeyAlgorithm::EcdsaP256,
                        &rsig::ECDSA_P256_SHA256_ASN1_SIGNING,
                    ),
                    Some(OID_P384) => (
                        KeyAlgorithm::EcdsaP384,
                        &rsig::ECDSA_P384_SHA384_ASN1_SIGNING,
                    ),
                    _ => return Err(Error::InvalidKey("unsupported elliptic curve".into())),
                };
                let kp = rsig::EcdsaKeyPair::from_pkcs8(signing, der_bytes, &rng)
                    .map_err(|e| Error::InvalidKey(format!("malformed ECDSA private key: {e}")))?;
                (alg, Inner::Ecdsa(kp))
            }
            OID_ED25519 => {
                let kp =
                    rsig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der_bytes).map_err(|e| {
                        Error::InvalidKey(format!("malformed Ed25519 private key: {e}"))
                    })?;
                (KeyAlgorithm::Ed25519, Inner::Ed25519(kp))
            }
            OID_RSA => {
                let kp = rsig::RsaKeyPair::from_pkcs8(der_bytes)
                    .map_err(|e| Error::InvalidKey(format!("malformed RSA private key: {e}")))?;
                (KeyAlgorithm::Rsa, Inner::Rsa(kp))
            }
            other => {
                return Err(Error::InvalidKey(format!(
                    "unsupported key algorithm {other}"
                )))
            }
        };
        let public_bytes = match &inner {
            Inner::Ecdsa(kp) => kp.public_key().as_ref().to_vec(),
            Inner::Ed25519(kp) => kp.public_key().as_ref().to_vec(),
            Inner::Rsa(kp) => kp.public().as_ref().to_vec(),
        };
        let public = PublicKey::from_parts(algorithm, public_bytes)?;
        Ok(PrivateKey {
            algorithm,
            pkcs8: Zeroizing::new(der_bytes.to_vec()),
            inner,
            public,
        })
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `message`: ECDSA with SHA-256 (P-256) or SHA-384 (P-384), DER-encoded; Ed25519;
    /// RSA PKCS#1 v1.5 with SHA-256.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Ecdsa(kp) => kp
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Signing("ECDSA signing failed".into())),
            Inner::Ed25519(kp) => Ok(kp.sign(message).as_ref().to_vec()),
            Inner::Rsa(kp) => {
                let mut sig = vec![0; kp.public().modulus_len()];
                kp.sign(&rsig::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| Error::Signing("RSA signing failed".into()))?;
                Ok(sig)
            }
        }
    }

    /// Encrypts this key into cosign's file format with `password` (may be empty).
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<String, Error> {
        let rng = SystemRandom::new();
        let mut salt = [0u8; 32];
        let mut nonce = [0u8; 24];
        rng.fill(&mut salt)
            .and_then(|_| rng.fill(&mut nonce))
            .map_err(|_| Error::Signing("system random generator failed".into()))?;
        let key = derive_key(password, &salt, NEW_KEY_LOG_N)?;
        let ciphertext = secretbox_seal(&key, &nonce, &self.pkcs8)?;
        let file = EncryptedKeyFile {
            kdf: Kdf {
                name: "scrypt".into(),
                params: KdfParams {
                    n: 1u64 << NEW_KEY_LOG_N,
                    r: 8,
                    p: 1,
                },
                salt: B64.encode(salt),
            },
            cipher: Cipher {
                name: "nacl/secretbox".into(),
                nonce: B64.encode(nonce),
            },
            ciphertext: B64.encode(ciphertext),
        };
        let json = serde_json::to_vec(&file).map_err(|e| Error::InvalidKey(e.to_string()))?;
        Ok(pem_encode(SIGSTORE_PRIVATE_KEY_PEM, &json))
    }

    /// Decrypts a cosign key file.
    pub fn from_encrypted_pem(pem_bytes: &[u8], password: &[u8]) -> Result<PrivateKey, Error> {
        let block = pem::parse(pem_bytes)
            .map_err(|e| Error::InvalidKey(format!("not a PEM key file: {e}")))?;
        if block.tag() != SIGSTORE_PRIVATE_KEY_PEM && block.tag() != COSIGN_PRIVATE_KEY_PEM {
            return Err(Error::UnsupportedPemType(block.tag().to_owned()));
        }
        let file: EncryptedKeyFile = serde_json::from_slice(block.contents())
            .map_err(|e| Error::InvalidKey(format!("malformed encrypted key body: {e}")))?;
        if file.kdf.name != "scrypt" {
            return Err(Error::InvalidKey(format!(
                "unsupported kdf `{}`",
                file.kdf.name
            )));
        }
        if file.cipher.name != "nacl/secretbox" {
            return Err(Error::InvalidKey(format!(
                "unsupported cipher `{}`",
                file.cipher.name
            )));
        }
        let p = &file.kdf.params;
        let log_n = ALLOWED_LOG_N
            .iter()
            .copied()
            .find(|&l| p.n == 1u64 << l)
            .filter(|_| p.r == 8 && p.p == 1)
            .ok_or_else(|| {
                Error::InvalidKey(format!(
                    "unexpected kdf parameters N={} r={} p={} (accepted: N of 32768, 65536 or 131072 with r=8, p=1)",
                    p.n, p.r, p.p
                ))
            })?;
        let salt = decode_b64(&file.kdf.salt, "salt")?;
        if salt.is_empty() || salt.len() > 64 {
            return Err(Error::InvalidKey(format!("salt of {} bytes", salt.len())));
        }
        let nonce = decode_b64(&file.cipher.nonce, "nonce")?;
        let nonce: [u8; 24] = nonce
            .try_into()
            .map_err(|_| Error::InvalidKey("nonce must be 24 bytes".into()))?;
        let ciphertext = decode_b64(&file.ciphertext, "ciphertext")?;
        let key = derive_key(password, &salt, log_n)?;
        let plaintext = secretbox_open(&key, &nonce, &ciphertext)?;
        PrivateKey::from_pkcs8_der(&plaintext)
    }
}

fn decode_b64(s: &str, what: &str) -> Result<Vec<u8>, Error> {
    B64.decode(s.trim())
        .map_err(|e| Error::InvalidKey(format!("{what} is not base64: {e}")))
}

fn derive_key(password: &[u8], salt: &[u8], log_n: u8) -> Result<Zeroizing<[u8; 32]>, Error> {
    let params = scrypt::Params::new(log_n, 8, 1).map_err(|e| Error::InvalidKey(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, key.as_mut())
        .map_err(|e| Error::InvalidKey(e.to_string()))?;
    Ok(key)
}

fn secretbox_seal(key: &[u8; 32], nonce: &[u8; 24], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(key.into());
    cipher
        .encrypt(nonce.into(), plaintext)
        .map_err(|_| Error::Signing("encrypting the private key failed".into()))
}

fn secretbox_open(
    key: &[u8; 32],
    nonce: &[u8; 24],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(key.into());
    cipher
        .decrypt(nonce.into(), ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| Error::WrongPassword)
}

#[derive(Serialize, Deserialize)]
struct EncryptedKeyFile {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

#[cfg(test)]
mod tests;
