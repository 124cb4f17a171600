//! SPDX 2.3 JSON (SPDX specification 2.3, JSON schema `spdx-schema-v2.3.json`) in Syft's
//! shape: the image (or directory) as root package described by the document, every package
//! CONTAINed by the root, `dependency-of` as DEPENDENCY_OF, non-SPDX license strings as
//! `LicenseRef-…` with `hasExtractedLicensingInfos`.
//!
//! Unlike Syft 1.18.1, fields that the spec constrains are checked before they are written:
//! `downloadLocation` must match the spec's grammar (npm `repository` values like
//! `jshttp/accepts` do not, and make Syft's documents fail `pyspdxtools`), and `homepage` must
//! be a URL; anything else becomes `NOASSERTION` / is left out.
use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::{id_safe, package_ref, short_name, RenderContext};
use crate::catalog::license::{to_spdx, SpdxLicense};
use crate::model::{FileEntry, Package, Sbom, SourceKind};

/// The grammar of SPDX 2.3 §7.7 download locations, as the spdx-tools validator encodes it.
fn download_location_re() -> Option<&'static regex::Regex> {
    static RE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        let url = r"(http://www\.|https://www\.|http://|https://|ssh://|git://|svn://|sftp://|ftp://)?([\w\-.!~*'()%;:&=+$,]+@)?[a-z0-9]+([\-\.]{1}[a-z0-9]+){0,100}\.[a-z]{2,5}(:[0-9]{1,5})?(/.*)?";
        let git = r"(git\+git@[a-zA-Z0-9\.\-]+:[a-zA-Z0-9/\\.@\-]+)";
        let bzr = r"(bzr\+https?://bazaar\.launchpad\.net/([a-zA-Z0-9/\\.@\-]+))";
        regex::Regex::new(&format!(r"^((((git|hg|svn|bzr)\+)?{url})|{git}|{bzr})$")).ok()
    })
    .as_ref()
}

pub(crate) fn valid_download_location(s: &str) -> bool {
    download_location_re().is_some_and(|re| re.is_match(s))
}

fn valid_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://"))
        && !s.contains(char::is_whitespace)
        && s.len() > 10
}

/// `licenseDeclared` plus the extracted licenses it references.
pub(crate) fn declared(p: &Package, extracted: &mut BTreeMap<String, String>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for l in &p.licenses {
        let e = match to_spdx(l) {
            SpdxLicense::Expression(e) => e,
            SpdxLicense::Ref { id, text } => {
                extracted.entry(id.clone()).or_insert(text);
                id
            }
        };
        if !parts.contains(&e) {
            parts.push(e);
        }
    }
    match parts.len() {
        0 => "NOASSERTION".into(),
        1 => parts.concat(),
        _ => parts
            .iter()
            .map(|e| {
                if e.contains(' ') {
                    format!("({e})")
                } else {
                    e.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" AND "),
    }
}

/// `SPDXRef-File-<last ≤40 chars of the path>-<16 hex of its SHA-256>`, like Syft's file ids.
fn file_ref(path: &str) -> String {
    let p = path.trim_start_matches('/');
    let short = match p.char_indices().rev().nth(39) {
        Some((i, _)) => format!("...{}", p.get(i..).unwrap_or(p)),
        None => p.to_string(),
    };
    let h = ring::digest::digest(&ring::digest::SHA256, path.as_bytes());
    format!(
        "SPDXRef-File-{}-{}",
        id_safe(&short),
        hex::encode(h.as_ref().get(..8).unwrap_or_default())
    )
}

fn root_id(sbom: &Sbom) -> String {
    let kind = match sbom.source.kind {
        SourceKind::Image => "Image",
        SourceKind::Directory => "Directory",
    };
    format!(
        "SPDXRef-DocumentRoot-{kind}-{}",
        id_safe(&sbom.source.name).trim_start_matches('-')
    )
}

pub(crate) fn oci_purl(sbom: &Sbom) -> Option<String> {
    let digest = sbom.source.manifest_digest.as_deref()?;
    let mut q = Vec::new();
    if let Some(a) = &sbom.source.architecture {
        q.push(("arch", a.clone()));
    }
    if let Some(t) = &sbom.source.tag {
        q.push(("tag", t.clone()));
    }
    Some(crate::purl::purl(
        "oci",
        "",
        &short_name(sbom),
        digest,
        &q,
        "",
    ))
}

pub(crate) fn render(sbom: &Sbom, ctx: &RenderContext) -> String {
    let kind = match sbom.source.kind {
        SourceKind::Image => "image",
        SourceKind::Directory => "dir",
    };
    let mut extracted = BTreeMap::new();
    let root = root_id(sbom);
    let mut root_pkg = json!({
        "name": sbom.source.name,
        "SPDXID": root,
        "versionInfo": sbom.source.tag.clone().or_else(|| sbom.source.manifest_digest.clone()).unwrap_or_default(),
        "supplier": "NOASSERTION",
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": if sbom.source.kind == SourceKind::Image { "CONTAINER" } else { "FILE" },
    });
    if let Some(hex) = sbom
        .source
        .manifest_digest
        .as_deref()
        .and_then(|d| d.strip_prefix("sha256:"))
    {
        root_pkg["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": hex}]);
    }
    if let Some(p) = oci_purl(sbom) {
        root_pkg["externalRefs"] = json!([{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p}]);
    }
    if root_pkg["versionInfo"] == "" {
        if let Some(o) = root_pkg.as_object_mut() {
            o.remove("versionInfo");
        }
    }
    let mut packages = vec![root_pkg];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relatedSpdxElement": root,
        "relationshipType": "DESCRIBES",
    })];
    let mut refs = BTreeMap::new();
    let files: BTreeMap<&str, &FileEntry> =
        sbom.files.iter().map(|f| (f.path.as_str(), f)).collect();
    for p in &sbom.packages {
        let id = package_ref(p);
        refs.insert(p.id.clone(), id.clone());
        let supplier = p.originator.clone().unwrap_or_else(|| "NOASSERTION".into());
        let mut v = json!({
            "name": p.name,
            "SPDXID": id,
            "versionInfo": p.version,
            "supplier": supplier,
            "downloadLocation": p.download_location.as_deref().filter(|d| valid_download_location(d)).unwrap_or("NOASSERTION"),
            "filesAnalyzed": false,
            "sourceInfo": format!("acquired package info from {}: {}", p.found_by,
                p.locations.iter().map(|l| l.path.as_str()).collect::<Vec<_>>().join(", ")),
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": declared(p, &mut extracted),
            "copyrightText": "NOASSERTION",
        });
        let Some(obj) = v.as_object_mut() else {
            continue;
        };
        // Owned files with digests: Syft marks such packages filesAnalyzed with a
        // verification code (SPDX 2.3 §7.9: SHA-1 over the sorted, concatenated file SHA-1s).
        let mut sha1s: Vec<&str> = p
            .files
            .iter()
            .filter_map(|f| files.get(f.as_str()).map(|e| e.sha1.as_str()))
            .collect();
        if !sha1s.is_empty() {
            sha1s.sort_unstable();
            let code = ring::digest::digest(
                &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                sha1s.concat().as_bytes(),
            );
            obj.insert("filesAnalyzed".into(), json!(true));
            obj.insert(
                "packageVerificationCode".into(),
                json!({"packageVerificationCodeValue": hex::encode(code.as_ref())}),
            );
        }
        if let Some(o) = &p.originator {
            obj.insert("originator".into(), json!(o));
        }
        if !p.checksums.is_empty() {
            obj.insert(
                "checksums".into(),
                Value::Array(
                    p.checksums
                        .iter()
                        .map(|(a, h)| json!({"algorithm": a, "checksumValue": h}))
                        .collect(),
                ),
            );
        }
        if let Some(d) = p.description.as_deref().filter(|d| !d.is_empty()) {
            obj.insert("description".into(), json!(d));
        }
        if let Some(h) = p.homepage.as_deref().filter(|h| valid_url(h)) {
            obj.insert("homepage".into(), json!(h));
        }
        if !p.purl.is_empty() {
            obj.insert(
                "externalRefs".into(),
                json!([{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p.purl}]),
            );
        }
        packages.push(v);
        relationships.push(json!({
            "spdxElementId": root,
            "relatedSpdxElement": refs.get(&p.id),
            "relationshipType": "CONTAINS",
        }));
    }
    let mut file_docs = Vec::new();
    for f in &sbom.files {
        let mut fd = json!({
            "fileName": f.path.trim_start_matches('/'),
            "SPDXID": file_ref(&f.path),
            "fileTypes": [f.kind],
            "checksums": [
                {"algorithm": "SHA1", "checksumValue": f.sha1},
                {"algorithm": "SHA256", "checksumValue": f.sha256},
            ],
            "licenseConcluded": "NOASSERTION",
            "licenseInfoInFiles": ["NOASSERTION"],
            "copyrightText": "NOASSERTION",
        });
        if !f.layer.is_empty() {
            fd["comment"] = json!(format!("layerID: {}", f.layer));
        }
        file_docs.push(fd);
    }
    for p in &sbom.packages {
        for f in p.files.iter().filter(|f| files.contains_key(f.as_str())) {
            relationships.push(json!({
                "spdxElementId": refs.get(&p.id),
                "relatedSpdxElement": file_ref(f),
                "relationshipType": "CONTAINS",
            }));
        }
        let mut evidence: Vec<&str> = p.locations.iter().map(|l| l.path.as_str()).collect();
        evidence.sort_unstable();
        evidence.dedup();
        for f in evidence.into_iter().filter(|f| files.contains_key(f)) {
            relationships.push(json!({
                "spdxElementId": refs.get(&p.id),
                "relatedSpdxElement": file_ref(f),
                "relationshipType": "OTHER",
                "comment": "evident-by: indicates the package's existence is evident by the given file",
            }));
        }
    }
    for (dep, dependent) in &sbom.dependency_of {
        if let (Some(a), Some(b)) = (refs.get(dep), refs.get(dependent)) {
            relationships.push(json!({
                "spdxElementId": a,
                "relatedSpdxElement": b,
                "relationshipType": "DEPENDENCY_OF",
            }));
        }
    }
    let ns_name = short_name(sbom);
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": sbom.source.name,
        "documentNamespace": format!("https://sigil-dev.github.io/sbom/{kind}/{ns_name}-{}", ctx.uuid),
        "creationInfo": {
            "licenseListVersion": "3.25",
            "creators": ["Organization: sigil", format!("Tool: sigil-{}", ctx.tool_version)],
            "created": ctx.created,
        },
        "packages": packages,
    });
    if let Some(obj) = doc.as_object_mut() {
        if !file_docs.is_empty() {
            obj.insert("files".into(), Value::Array(file_docs));
        }
        if !extracted.is_empty() {
            obj.insert(
                "hasExtractedLicensingInfos".into(),
                Value::Array(
                    extracted
                        .iter()
                        .map(|(id, text)| json!({"licenseId": id, "extractedText": text}))
                        .collect(),
                ),
            );
        }
        obj.insert("relationships".into(), Value::Array(relationships));
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_locations_follow_the_spec_grammar() {
        assert!(valid_download_location(
            "git+https://github.com/npm/cli.git"
        ));
        assert!(valid_download_location("https://musl.libc.org/"));
        assert!(valid_download_location("git+git@github.com:foo/bar.git"));
        assert!(!valid_download_location("jshttp/accepts"));
        assert!(!valid_download_location("github:user/repo"));
    }
}
