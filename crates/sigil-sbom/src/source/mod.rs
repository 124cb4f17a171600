//! Where layers come from. Every image source (OCI layout directory or archive, docker-save
//! archive, a registry) is an [`ImageSource`]: the image's metadata plus a way to open each
//! layer blob as a byte stream. Layers are then streamed once, never extracted to disk.
//!
//! `dir:` is not an image source: it is walked directly (see [`crate::scan`]).
use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};

use crate::error::Error;
use crate::model::SourceInfo;

mod docker;
mod oci;
mod registry;
mod tarindex;

pub use docker::DockerArchive;
pub use oci::{OciArchive, OciDir};
pub use registry::RegistrySource;

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDescriptor {
    /// The blob digest (`sha256:…` of the compressed bytes) when known; verified while streaming.
    pub digest: Option<String>,
    /// The diffID (`sha256:…` of the uncompressed tar) from the image config.
    pub diff_id: String,
    pub media_type: String,
}

/// An image whose layers can be read: metadata plus one stream per layer.
///
/// Implementations must allow `open_layer` to be called from several threads at once (layers
/// are read in parallel).
pub trait ImageSource: Send + Sync {
    /// What the image is (name, digest, platform, diffIDs).
    fn info(&self) -> &SourceInfo;
    /// The layers, bottom first.
    fn layers(&self) -> &[LayerDescriptor];
    /// The raw (possibly compressed) bytes of layer `index`.
    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, Error>;
}

/// A parsed source argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    OciDir(String),
    OciArchive(String),
    DockerArchive(String),
    Dir(String),
    Registry(String),
}

impl SourceSpec {
    /// Parses `scheme:VALUE` as Syft does; a bare value is a registry reference.
    pub fn parse(s: &str) -> Result<SourceSpec, Error> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::UnsupportedSource(s.to_string()));
        }
        let spec = if let Some(v) = s.strip_prefix("oci-dir:") {
            SourceSpec::OciDir(v.to_string())
        } else if let Some(v) = s.strip_prefix("oci-archive:") {
            SourceSpec::OciArchive(v.to_string())
        } else if let Some(v) = s.strip_prefix("docker-archive:") {
            SourceSpec::DockerArchive(v.to_string())
        } else if let Some(v) = s.strip_prefix("dir:") {
            SourceSpec::Dir(v.to_string())
        } else if let Some(v) = s.strip_prefix("registry:") {
            SourceSpec::Registry(v.to_string())
        } else if ["docker:", "podman:", "containerd:", "file:", "singularity:"]
            .iter()
            .any(|p| s.starts_with(p))
        {
            return Err(Error::UnsupportedSource(s.to_string()));
        } else {
            SourceSpec::Registry(s.to_string())
        };
        match &spec {
            SourceSpec::OciDir(v)
            | SourceSpec::OciArchive(v)
            | SourceSpec::DockerArchive(v)
            | SourceSpec::Dir(v)
            | SourceSpec::Registry(v)
                if v.is_empty() =>
            {
                Err(Error::UnsupportedSource(s.to_string()))
            }
            _ => Ok(spec),
        }
    }
}

/// Checks that a digest is `sha256:<64 hex>` (or sha512) so it can be used as a file name.
pub(crate) fn checked_digest(d: &str) -> Result<(&str, &str), Error> {
    let (alg, hex) = d
        .split_once(':')
        .ok_or_else(|| Error::invalid(d, "digest has no algorithm"))?;
    let ok_len = match alg {
        "sha256" => hex.len() == 64,
        "sha512" => hex.len() == 128,
        _ => false,
    };
    if !ok_len
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::invalid(d, "malformed digest"));
    }
    Ok((alg, hex))
}

/// Shared state of a [`VerifyingReader`]: the inner reader and the running hash.
struct VerifyState<R> {
    inner: R,
    ctx: Option<ring::digest::Context>,
    expected: Option<String>,
    done: bool,
}

/// Hashes what flows through it and fails at end of stream if the digest does not match, so a
/// tampered or truncated blob is an error, not a silently wrong SBOM.
pub(crate) struct VerifyingReader<R> {
    state: Arc<Mutex<VerifyState<R>>>,
}

/// The handle that finishes verification after the consumer stopped reading.
pub(crate) struct VerifyHandle<R> {
    state: Arc<Mutex<VerifyState<R>>>,
}

pub(crate) fn verifying<R: Read>(
    inner: R,
    expected: Option<&str>,
) -> (VerifyingReader<R>, VerifyHandle<R>) {
    let ctx = match expected.and_then(|d| d.split_once(':')).map(|(a, _)| a) {
        Some("sha256") => Some(ring::digest::Context::new(&ring::digest::SHA256)),
        Some("sha512") => Some(ring::digest::Context::new(&ring::digest::SHA512)),
        _ => None,
    };
    let state = Arc::new(Mutex::new(VerifyState {
        inner,
        expected: ctx.as_ref().and(expected.map(str::to_string)),
        ctx,
        done: false,
    }));
    (
        VerifyingReader {
            state: state.clone(),
        },
        VerifyHandle { state },
    )
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("layer reader lock poisoned")
}

impl<R: Read> VerifyState<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.done = true;
            self.check()?;
        } else if let (Some(ctx), Some(chunk)) = (self.ctx.as_mut(), buf.get(..n)) {
            ctx.update(chunk);
        }
        Ok(n)
    }
    fn check(&mut self) -> std::io::Result<()> {
        if let (Some(ctx), Some(expected)) = (self.ctx.take(), self.expected.as_ref()) {
            let alg = expected.split_once(':').map(|(a, _)| a).unwrap_or("sha256");
            let actual = format!("{alg}:{}", hex::encode(ctx.finish().as_ref()));
            if &actual != expected {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    Error::DigestMismatch {
                        expected: expected.clone(),
                        actual,
                    },
                ));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.state.lock().map_err(|_| poisoned())?.read(buf)
    }
}

impl<R: Read> VerifyHandle<R> {
    /// Reads whatever the consumer left (tar padding, a gzip trailer) and checks the digest.
    pub(crate) fn finish(self) -> std::io::Result<()> {
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        let mut buf = vec![0u8; 64 * 1024];
        while st.read(&mut buf)? > 0 {}
        Ok(())
    }
}

/// The compression of a layer stream, detected from its first bytes (media types lie:
/// docker-archive layers are often uncompressed whatever the manifest says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Wraps a raw layer stream in the right decompressor.
pub(crate) fn decompress<'a>(
    raw: impl Read + Send + 'a,
) -> std::io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let mut br = BufReader::with_capacity(256 * 1024, raw);
    let head = br.fill_buf()?;
    let c = if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    };
    let r: Box<dyn Read + Send + 'a> = match c {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => Box::new(
            ruzstd::decoding::StreamingDecoder::new(br)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?,
        ),
        Compression::None => Box::new(br),
    };
    Ok((c, r))
}

/// `(architecture, os, diffIDs)` of an image config.
pub(crate) type ConfigInfo = (Option<String>, Option<String>, Vec<String>);

/// Parses an OCI/Docker image config for the platform and diffIDs.
pub(crate) fn parse_config(bytes: &[u8], what: &str) -> Result<ConfigInfo, Error> {
    #[derive(serde::Deserialize)]
    struct RootFs {
        #[serde(default)]
        diff_ids: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct Config {
        architecture: Option<String>,
        os: Option<String>,
        rootfs: Option<RootFs>,
    }
    let c: Config = serde_json::from_slice(bytes).map_err(|e| Error::Json {
        what: what.to_string(),
        source: e,
    })?;
    Ok((
        c.architecture,
        c.os,
        c.rootfs.map(|r| r.diff_ids).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_source_schemes() {
        assert_eq!(
            SourceSpec::parse("oci-dir:/x").ok(),
            Some(SourceSpec::OciDir("/x".into()))
        );
        assert_eq!(
            SourceSpec::parse("alpine:3.19").ok(),
            Some(SourceSpec::Registry("alpine:3.19".into()))
        );
        assert!(SourceSpec::parse("dir:").is_err());
        assert!(SourceSpec::parse("docker:alpine").is_err());
    }

    #[test]
    fn rejects_digests_that_could_be_paths() {
        assert!(checked_digest("sha256:../../etc/passwd").is_err());
        assert!(checked_digest(&format!("sha256:{}", "a".repeat(64))).is_ok());
    }

    #[test]
    fn verifying_reader_detects_tampering() {
        let data = b"hello".to_vec();
        let good = format!(
            "sha256:{}",
            hex::encode(ring::digest::digest(&ring::digest::SHA256, &data))
        );
        let (mut r, h) = verifying(&data[..], Some(&good));
        let mut s = Vec::new();
        assert!(r.read_to_end(&mut s).is_ok());
        assert!(h.finish().is_ok());
        let (mut r, _h) = verifying(&b"hellO"[..], Some(&good));
        assert!(r.read_to_end(&mut s).is_err());
    }
}
