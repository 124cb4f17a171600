//! What the registry needs to know about a pushed manifest: its media type, the blobs and
//! child manifests it references (which must exist, distribution-spec § Pushing manifests),
//! and its `subject` (for the referrers API, § Listing referrers). The received bytes are
//! stored and served as they are; these types only read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sigil_core::{media_types, Digest};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: Option<String>,
    digest: String,
    #[serde(default)]
    urls: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<u64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<RawDescriptor>,
    #[serde(default)]
    layers: Vec<RawDescriptor>,
    #[serde(default)]
    manifests: Vec<RawDescriptor>,
    subject: Option<RawDescriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

/// Why a manifest was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not JSON of a manifest's shape; the message says what is wrong.
    Malformed(String),
    /// A descriptor's digest is not a valid digest.
    BadDigest(String),
}

/// A parsed manifest.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub media_type: String,
    /// Config and layers that must be blobs of the repository.
    pub blobs: Vec<Digest>,
    /// Child manifests (of an index) that must be manifests of the repository.
    pub children: Vec<Digest>,
    pub subject: Option<Digest>,
    /// The referrers API's `artifactType`: the manifest's, else its config's media type.
    pub artifact_type: Option<String>,
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Generic content types that some clients send for any manifest; the manifest's own
/// `mediaType` decides then.
fn is_generic(content_type: &str) -> bool {
    matches!(
        content_type,
        "" | "application/json" | "application/octet-stream"
    )
}

/// Parses a manifest pushed with `content_type`.
pub(crate) fn parse(content: &[u8], content_type: Option<&str>) -> Result<Parsed, Invalid> {
    let raw: RawManifest = serde_json::from_slice(content)
        .map_err(|e| Invalid::Malformed(format!("not a manifest: {e}")))?;
    if raw.schema_version != Some(2) {
        // Docker schema 1 is deprecated and refused by distribution 2.8 as well.
        return Err(Invalid::Malformed("schemaVersion must be 2".into()));
    }
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !is_generic(c));
    let media_type = match (header, raw.media_type.as_deref()) {
        (Some(h), Some(f)) if h != f => {
            return Err(Invalid::Malformed(format!(
                "Content-Type `{h}` does not match the manifest's mediaType `{f}`"
            )))
        }
        (Some(h), _) => h.to_owned(),
        (None, Some(f)) => f.to_owned(),
        (None, None) if !raw.manifests.is_empty() => media_types::OCI_INDEX.to_owned(),
        (None, None) => media_types::OCI_MANIFEST.to_owned(),
    };
    let digest = |d: &RawDescriptor| -> Result<Digest, Invalid> {
        d.digest
            .parse()
            .map_err(|_| Invalid::BadDigest(d.digest.clone()))
    };
    let mut blobs = Vec::new();
    if let Some(c) = &raw.config {
        blobs.push(digest(c)?);
    }
    for l in &raw.layers {
        let d = digest(l)?;
        // Non-distributable ("foreign") layers live at their `urls`, not in the registry;
        // distribution does not require them either.
        if l.urls.is_empty() {
            blobs.push(d);
        }
    }
    let mut children = Vec::new();
    for m in &raw.manifests {
        children.push(digest(m)?);
    }
    let subject = raw.subject.as_ref().map(digest).transpose()?;
    let artifact_type = raw
        .artifact_type
        .clone()
        .filter(|a| !a.is_empty())
        .or_else(|| {
            if media_types::is_index(&media_type) {
                None
            } else {
                raw.config.as_ref().and_then(|c| c.media_type.clone())
            }
        });
    Ok(Parsed {
        media_type,
        blobs,
        children,
        subject,
        artifact_type,
        annotations: raw.annotations,
    })
}

/// The `subject` digest of stored manifest bytes, if any.
pub(crate) fn subject_of(content: &[u8]) -> Option<Digest> {
    #[derive(Deserialize)]
    struct Subject {
        subject: Option<RawDescriptor>,
    }
    let s: Subject = serde_json::from_slice(content).ok()?;
    s.subject?.digest.parse().ok()
}

/// A descriptor in a referrers response (image-spec descriptor fields, in spec order).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReferrerDescriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn image_manifest_lists_config_and_layers() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/x.cfg","digest":"{SHA}","size":0}},"layers":[{{"digest":"{SHA}","size":0}}]}}"#,
            media_types::OCI_MANIFEST
        );
        let p = parse(m.as_bytes(), Some(media_types::OCI_MANIFEST)).unwrap();
        assert_eq!(p.blobs.len(), 2);
        assert_eq!(p.artifact_type.as_deref(), Some("application/x.cfg"));
        assert!(p.subject.is_none());
    }

    #[test]
    fn content_type_must_match_the_media_type_field() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}"}}"#,
            media_types::OCI_INDEX
        );
        assert!(matches!(
            parse(m.as_bytes(), Some(media_types::OCI_MANIFEST)),
            Err(Invalid::Malformed(_))
        ));
        assert!(parse(m.as_bytes(), Some("application/json")).is_ok());
    }

    #[test]
    fn rejects_bad_digests_and_schema_one() {
        let m = r#"{"schemaVersion":2,"layers":[{"digest":"sha256:nothex","size":1}]}"#;
        assert!(matches!(
            parse(m.as_bytes(), None),
            Err(Invalid::BadDigest(_))
        ));
        assert!(parse(br#"{"schemaVersion":1}"#, None).is_err());
        assert!(parse(b"[1,2]", None).is_err());
        assert!(parse(b"\xff", None).is_err());
    }

    #[test]
    fn foreign_layers_need_not_exist() {
        let m = format!(
            r#"{{"schemaVersion":2,"layers":[{{"digest":"{SHA}","size":0,"urls":["https://example.com/l"]}}]}}"#
        );
        assert!(parse(m.as_bytes(), None).unwrap().blobs.is_empty());
    }

    #[test]
    fn subject_is_found_in_stored_bytes() {
        let m = format!(r#"{{"schemaVersion":2,"subject":{{"digest":"{SHA}","size":0}}}}"#);
        assert_eq!(subject_of(m.as_bytes()).unwrap().to_string(), SHA);
    }
}
