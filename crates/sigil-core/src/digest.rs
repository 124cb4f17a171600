//! Content digests as the OCI image spec defines them (`algorithm ":" encoded`, image-spec
//! `descriptor.md` § Digests). sha256 and sha512 are the registered algorithms; both are
//! computed and verified here.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use crate::Error;

/// A registered digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the lowercase hex encoding.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated digest: a registered algorithm and its lowercase hex encoding.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// The sha256 digest of `data`.
    pub fn sha256(data: &[u8]) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(sha2::Sha256::digest(data)),
        }
    }

    /// The sha512 digest of `data`.
    pub fn sha512(data: &[u8]) -> Digest {
        Digest {
            algorithm: Algorithm::Sha512,
            hex: hex::encode(sha2::Sha512::digest(data)),
        }
    }

    /// The digest of `data` with `algorithm`.
    pub fn compute(algorithm: Algorithm, data: &[u8]) -> Digest {
        match algorithm {
            Algorithm::Sha256 => Digest::sha256(data),
            Algorithm::Sha512 => Digest::sha512(data),
        }
    }

    /// Builds a digest from raw hash bytes.
    pub fn from_raw(algorithm: Algorithm, raw: &[u8]) -> Result<Digest, Error> {
        let hex = hex::encode(raw);
        if hex.len() != algorithm.hex_len() {
            return Err(Error::InvalidDigest(format!(
                "{}:{hex} has the wrong length",
                algorithm.as_str()
            )));
        }
        Ok(Digest { algorithm, hex })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex encoding, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The raw hash bytes.
    pub fn raw(&self) -> Vec<u8> {
        // The hex was validated on construction.
        hex::decode(&self.hex).unwrap_or_default()
    }

    /// Whether `data` hashes to this digest.
    pub fn matches(&self, data: &[u8]) -> bool {
        Digest::compute(self.algorithm, data) == *self
    }

    /// Fails with [`Error::DigestMismatch`] unless `data` hashes to this digest.
    pub fn verify(&self, data: &[u8]) -> Result<(), Error> {
        let actual = Digest::compute(self.algorithm, data);
        if actual == *self {
            Ok(())
        } else {
            Err(Error::DigestMismatch {
                expected: self.to_string(),
                actual: actual.to_string(),
            })
        }
    }

    /// A streaming hasher for this digest's algorithm.
    pub fn hasher(&self) -> Hasher {
        Hasher::new(self.algorithm)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Digest, Error> {
        let (algorithm, encoded) = s
            .split_once(':')
            .ok_or_else(|| Error::InvalidDigest(format!("`{s}` has no `algorithm:` prefix")))?;
        let algorithm = match algorithm {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => {
                return Err(Error::InvalidDigest(format!(
                    "unsupported digest algorithm `{other}` (sha256 and sha512 are supported)"
                )))
            }
        };
        if encoded.len() != algorithm.hex_len()
            || !encoded
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(Error::InvalidDigest(format!(
                "`{s}` must be {} lowercase hex characters after `{}:`",
                algorithm.hex_len(),
                algorithm.as_str()
            )));
        }
        Ok(Digest {
            algorithm,
            hex: encoded.to_owned(),
        })
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental hashing for streamed content (blobs larger than memory).
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest {
                algorithm: Algorithm::Sha256,
                hex: hex::encode(h.finalize()),
            },
            Hasher::Sha512(h) => Digest {
                algorithm: Algorithm::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_sha256() {
        let d: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .unwrap();
        assert_eq!(d, Digest::sha256(b""));
        assert_eq!(d.to_string().len(), 71);
    }

    #[test]
    fn sha512_round_trips() {
        let d = Digest::sha512(b"abc");
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
        assert!(d.matches(b"abc"));
        assert!(!d.matches(b"abd"));
    }

    #[test]
    fn rejects_malformed_digests() {
        for bad in [
            "sha256",
            "sha256:",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:abc",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.finish(), Digest::sha256(b"hello world"));
    }

    #[test]
    fn verify_names_both_digests() {
        let err = Digest::sha256(b"a").verify(b"b").unwrap_err().to_string();
        assert!(err.contains(&Digest::sha256(b"a").to_string()));
        assert!(err.contains(&Digest::sha256(b"b").to_string()));
    }
}
