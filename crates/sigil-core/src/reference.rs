//! Image references with the grammar of distribution's `reference` package
//! (`reference/regexp.go`): `[host[:port]/]path[:tag][@digest]`.
//!
//! Normalisation follows go-containerregistry, which cosign uses: a name with no registry
//! component is on Docker Hub, a single-component Docker Hub name gets `library/`, and Docker
//! Hub's registry is written `index.docker.io` (so the docker-reference that cosign puts in a
//! signature payload for `ubuntu` is `index.docker.io/library/ubuntu`).

use std::fmt;
use std::str::FromStr;

use crate::{Digest, Error};

/// Docker Hub's registry name as go-containerregistry writes it.
pub const DOCKER_HUB: &str = "index.docker.io";
/// Longest repository name (registry included) the grammar allows.
const NAME_TOTAL_LENGTH_MAX: usize = 255;
const TAG_LENGTH_MAX: usize = 128;

/// A parsed, normalised image reference.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// Builds a reference from its normalised parts.
    pub fn new(registry: &str, repository: &str) -> Result<ImageRef, Error> {
        ImageRef::from_str(&format!("{registry}/{repository}"))
    }

    /// Registry host (with port), e.g. `ghcr.io`, `127.0.0.1:5000`, `index.docker.io`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Repository path inside the registry, e.g. `library/ubuntu`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`: what cosign writes as `docker-reference` and uses as the
    /// in-toto subject name.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag or digest to fetch: the digest when there is one (it pins the content),
    /// else the tag, else `latest`.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// The same repository pinned to `digest` (the tag is dropped).
    pub fn with_digest(&self, digest: Digest) -> ImageRef {
        ImageRef {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest),
        }
    }

    /// The same repository with `tag` (the digest is dropped).
    pub fn with_tag(&self, tag: &str) -> Result<ImageRef, Error> {
        if !valid_tag(tag) {
            return Err(Error::InvalidReference(format!("invalid tag `{tag}`")));
        }
        Ok(ImageRef {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        })
    }

    /// Whether the registry is this machine (plain HTTP is allowed there without a flag).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.registry)
    }
}

/// Whether `host[:port]` names this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
pub fn is_loopback_host(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry.split(':').next().unwrap_or("")
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageRef({self})")
    }
}

impl FromStr for ImageRef {
    type Err = Error;

    fn from_str(input: &str) -> Result<ImageRef, Error> {
        let bad = |why: &str| Error::InvalidReference(format!("`{input}`: {why}"));
        if input.is_empty() {
            return Err(bad("empty reference"));
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains whitespace or control characters"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, d)) => (
                rest,
                Some(d.parse::<Digest>().map_err(|e| bad(&e.to_string()))?),
            ),
            None => (input, None),
        };
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(i) if last_slash.is_none_or(|s| i > s) => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad(&format!(
                    "invalid tag `{t}` (1 to 128 of [A-Za-z0-9_.-], not starting with `.` or `-`)"
                )));
            }
        }
        if name.is_empty() {
            return Err(bad("missing repository name"));
        }
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(bad("repository name longer than 255 characters"));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path)) if looks_like_registry(first) => (first.to_owned(), path),
            _ => (DOCKER_HUB.to_owned(), name),
        };
        let registry = match registry.as_str() {
            "docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
            _ => registry,
        };
        if !valid_registry(&registry) {
            return Err(bad(&format!("invalid registry host `{registry}`")));
        }
        if path.is_empty() {
            return Err(bad("missing repository path after the registry"));
        }
        for component in path.split('/') {
            if !valid_path_component(component) {
                return Err(bad(&format!(
                    "invalid repository path component `{component}` (lowercase letters, digits and \
                     single `.`, `_`, `__` or `-` runs between them)"
                )));
            }
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        Ok(ImageRef {
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }
}

/// distribution's rule: the first component is a registry when it contains `.` or `:`, is
/// `localhost`, or has an uppercase letter (which a repository path cannot).
fn looks_like_registry(first: &str) -> bool {
    first.contains('.')
        || first.contains(':')
        || first == "localhost"
        || first.chars().any(|c| c.is_ascii_uppercase())
}

fn valid_registry(registry: &str) -> bool {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        // [IPv6]:port
        let Some((ip, after)) = rest.split_once(']') else {
            return false;
        };
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (registry, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().is_err() {
            return false;
        }
    }
    if host.is_empty() {
        return registry.starts_with('[');
    }
    host.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= TAG_LENGTH_MAX
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageRef {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn docker_hub_defaults() {
        let r = parse("ubuntu");
        assert_eq!(r.registry(), "index.docker.io");
        assert_eq!(r.repository(), "library/ubuntu");
        assert_eq!(r.name(), "index.docker.io/library/ubuntu");
        assert_eq!(r.reference(), "latest");
        assert_eq!(
            parse("docker.io/ubuntu:22.04").name(),
            "index.docker.io/library/ubuntu"
        );
        assert_eq!(parse("user/app").name(), "index.docker.io/user/app");
    }

    #[test]
    fn registries_with_ports_and_localhost() {
        let r = parse("127.0.0.1:5000/lab/app:v1");
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "lab/app");
        assert_eq!(r.tag(), Some("v1"));
        assert!(r.is_loopback());
        let r = parse("localhost/app");
        assert_eq!(r.registry(), "localhost");
        assert!(r.is_loopback());
        let r = parse("localhost:5000/app");
        assert_eq!(r.registry(), "localhost:5000");
        let r = parse("[::1]:5000/app:v2");
        assert_eq!(r.registry(), "[::1]:5000");
        assert!(r.is_loopback());
        assert!(!parse("ghcr.io/o/r").is_loopback());
    }

    #[test]
    fn tags_digests_and_both() {
        let r = parse(&format!("ghcr.io/o/r@{D}"));
        assert_eq!(r.tag(), None);
        assert_eq!(r.reference(), D);
        let r = parse(&format!("ghcr.io/o/r:v1@{D}"));
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.digest().map(|d| d.to_string()), Some(D.to_owned()));
        assert_eq!(r.reference(), D, "the digest wins over the tag");
        assert_eq!(r.to_string(), format!("ghcr.io/o/r:v1@{D}"));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "ghcr.io/a/b:c",
            "127.0.0.1:5000/x",
            "index.docker.io/library/alpine:3.19",
        ] {
            assert_eq!(parse(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed_references_with_reasons() {
        for (bad, why) in [
            ("", "empty"),
            ("UPPER", "path component"),
            ("ghcr.io/Org/repo", "path component"),
            ("ghcr.io/a//b", "path component"),
            ("ghcr.io/a/b:", "invalid tag"),
            ("ghcr.io/a/b:-x", "invalid tag"),
            ("ghcr.io/a/b@sha256:abc", "lowercase hex"),
            ("ghcr.io:99999/a", "registry"),
            ("ghcr.io/a b", "whitespace"),
            ("ghcr.io/", "missing repository path"),
            ("a/b-", "path component"),
        ] {
            let err = bad.parse::<ImageRef>().unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let long = format!("ghcr.io/{}", "a".repeat(300));
        assert!(long.parse::<ImageRef>().is_err());
        let long_tag = format!("ghcr.io/a:{}", "t".repeat(129));
        assert!(long_tag.parse::<ImageRef>().is_err());
    }

    #[test]
    fn separators_in_paths() {
        for ok in ["a/b.c", "a/b_c", "a/b__c", "a/b---c", "a/b-c/d"] {
            parse(ok);
        }
        for bad in ["a/b..c", "a/b___c", "a/.b", "a/b_"] {
            assert!(bad.parse::<ImageRef>().is_err(), "{bad}");
        }
    }
}
