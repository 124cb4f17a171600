//! Repository names, tags and manifest references with the grammar of distribution-spec v1.1
//! (`spec.md` § Pulling manifests: `<name>` and `<reference>` rules).

use std::fmt;

use sigil_core::Digest;

/// A validated repository name: path components of `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
/// joined by `/`. No component can start with `_` or `.`, so storage can keep its own
/// `_`-prefixed directories beside repository directories without collisions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

/// Distribution limits the full name (with the registry host) to 255 characters.
const MAX_NAME_LEN: usize = 255;

impl RepoName {
    pub fn parse(s: &str) -> Option<RepoName> {
        if s.is_empty() || s.len() > MAX_NAME_LEN {
            return None;
        }
        if s.split('/').all(valid_component) {
            Some(RepoName(s.to_owned()))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    // Separators: `.`, `_`, `__` or any run of `-`, always between alphanumerics.
    let mut i = 0;
    while i < b.len() {
        let x = b.get(i).copied().unwrap_or(0);
        if alnum(x) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b.get(i).copied().unwrap_or(0)) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|s| s == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A validated tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    pub fn parse(s: &str) -> Option<Tag> {
        let b = s.as_bytes();
        let first = *b.first()?;
        if b.len() > 128 || !(first.is_ascii_alphanumeric() || first == b'_') {
            return None;
        }
        if b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || x == b'_' || x == b'.' || x == b'-')
        {
            Some(Tag(s.to_owned()))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `<reference>` of a manifest URL: a tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

impl Reference {
    /// A reference with `:` is a digest (tags cannot contain `:`).
    pub fn parse(s: &str) -> Option<Reference> {
        if s.contains(':') {
            s.parse().ok().map(Reference::Digest)
        } else {
            Tag::parse(s).map(Reference::Tag)
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => t.fmt(f),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_spec_grammar() {
        for ok in ["a", "lab/app", "a.b/c_d/e__f/g---h", "0/1", "a/manifests/b"] {
            assert!(RepoName::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "A",
            "a//b",
            "a\u{e9}b",
            "\u{e9}",
            "a-\u{1F600}-b",
            "/a",
            "a/",
            "_a",
            "a_",
            "a___b",
            "a._b",
            "../a",
            "a/..",
        ] {
            assert!(RepoName::parse(bad).is_none(), "{bad}");
        }
        assert!(RepoName::parse(&"a".repeat(256)).is_none());
    }

    #[test]
    fn tags_follow_the_spec_grammar() {
        for ok in ["v1", "_x", "sha256-abc.sig", "A.b-C_d"] {
            assert!(Tag::parse(ok).is_some(), "{ok}");
        }
        for bad in ["", ".a", "-a", "a:b", "a/b", &"a".repeat(129)] {
            assert!(Tag::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn references_are_tags_or_digests() {
        assert!(matches!(Reference::parse("v1"), Some(Reference::Tag(_))));
        let d = Digest::sha256(b"x").to_string();
        assert!(matches!(Reference::parse(&d), Some(Reference::Digest(_))));
        assert!(Reference::parse("sha256:zz").is_none());
    }
}
