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

use serde::Serialize;

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

// The document as typed, borrowing structs: rendering thousands of files and relationships
// through `serde_json::Value` maps cost several times the output's size in memory.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Doc<'a> {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: &'a str,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<Pkg<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileDoc<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<Extracted>,
    relationships: Vec<Rel>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreationInfo {
    license_list_version: &'static str,
    creators: Vec<String>,
    created: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checksum<'a> {
    algorithm: &'a str,
    checksum_value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerificationCode {
    package_verification_code_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pkg<'a> {
    name: &'a str,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<&'a str>,
    supplier: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    originator: Option<&'a str>,
    download_location: &'a str,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    package_verification_code: Option<VerificationCode>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    homepage: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExtRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_package_purpose: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileDoc<'a> {
    file_name: &'a str,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    file_types: [&'static str; 1],
    checksums: [Checksum<'a>; 2],
    license_concluded: &'static str,
    license_info_in_files: [&'static str; 1],
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Extracted {
    license_id: String,
    extracted_text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rel {
    spdx_element_id: String,
    related_spdx_element: String,
    relationship_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'static str>,
}

const EVIDENT_BY: &str =
    "evident-by: indicates the package's existence is evident by the given file";

pub(crate) fn render(sbom: &Sbom, ctx: &RenderContext) -> String {
    serde_json::to_string_pretty(&document(sbom, ctx)).unwrap_or_default() + "\n"
}

/// Writes the document straight to `w`, without holding the whole text in memory.
pub(crate) fn write(
    sbom: &Sbom,
    ctx: &RenderContext,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, &document(sbom, ctx))?;
    w.write_all(b"\n")
}

fn document<'a>(sbom: &'a Sbom, ctx: &RenderContext) -> Doc<'a> {
    let kind = match sbom.source.kind {
        SourceKind::Image => "image",
        SourceKind::Directory => "dir",
    };
    let mut extracted = BTreeMap::new();
    let root = root_id(sbom);
    let root_purl = oci_purl(sbom);
    let root_version = sbom
        .source
        .tag
        .as_deref()
        .or(sbom.source.manifest_digest.as_deref());
    let mut packages = vec![Pkg {
        name: &sbom.source.name,
        spdx_id: root.clone(),
        version_info: root_version.filter(|v| !v.is_empty()),
        supplier: "NOASSERTION",
        originator: None,
        download_location: "NOASSERTION",
        files_analyzed: false,
        package_verification_code: None,
        checksums: sbom
            .source
            .manifest_digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
            .map(|hex| {
                vec![Checksum {
                    algorithm: "SHA256",
                    checksum_value: hex,
                }]
            })
            .unwrap_or_default(),
        homepage: None,
        source_info: None,
        license_concluded: "NOASSERTION",
        license_declared: "NOASSERTION".into(),
        copyright_text: "NOASSERTION",
        description: None,
        external_refs: root_purl
            .map(|p| {
                vec![ExtRef {
                    reference_category: "PACKAGE-MANAGER",
                    reference_type: "purl",
                    reference_locator: p,
                }]
            })
            .unwrap_or_default(),
        primary_package_purpose: Some(if sbom.source.kind == SourceKind::Image {
            "CONTAINER"
        } else {
            "FILE"
        }),
    }];
    let mut relationships = vec![Rel {
        spdx_element_id: "SPDXRef-DOCUMENT".into(),
        related_spdx_element: root.clone(),
        relationship_type: "DESCRIBES",
        comment: None,
    }];
    let files: BTreeMap<&str, &FileEntry> =
        sbom.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut file_rels = Vec::new();
    for p in &sbom.packages {
        let id = package_ref(p);
        // Owned files with digests: Syft marks such packages filesAnalyzed with a
        // verification code (SPDX 2.3 §7.9: SHA-1 over the sorted, concatenated file SHA-1s).
        let mut sha1s: Vec<&str> = p
            .files
            .iter()
            .filter_map(|f| files.get(f.as_str()).map(|e| e.sha1.as_str()))
            .collect();
        let code = (!sha1s.is_empty()).then(|| {
            sha1s.sort_unstable();
            let d = ring::digest::digest(
                &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                sha1s.concat().as_bytes(),
            );
            VerificationCode {
                package_verification_code_value: hex::encode(d.as_ref()),
            }
        });
        for f in p.files.iter().filter(|f| files.contains_key(f.as_str())) {
            file_rels.push(Rel {
                spdx_element_id: id.clone(),
                related_spdx_element: file_ref(f),
                relationship_type: "CONTAINS",
                comment: None,
            });
        }
        let mut evidence: Vec<&str> = p.locations.iter().map(|l| l.path.as_str()).collect();
        evidence.sort_unstable();
        evidence.dedup();
        for f in evidence.iter().filter(|f| files.contains_key(**f)) {
            file_rels.push(Rel {
                spdx_element_id: id.clone(),
                related_spdx_element: file_ref(f),
                relationship_type: "OTHER",
                comment: Some(EVIDENT_BY),
            });
        }
        relationships.push(Rel {
            spdx_element_id: root.clone(),
            related_spdx_element: id.clone(),
            relationship_type: "CONTAINS",
            comment: None,
        });
        packages.push(Pkg {
            name: &p.name,
            spdx_id: id,
            version_info: Some(&p.version),
            supplier: p.originator.as_deref().unwrap_or("NOASSERTION"),
            originator: p.originator.as_deref(),
            download_location: p
                .download_location
                .as_deref()
                .filter(|d| valid_download_location(d))
                .unwrap_or("NOASSERTION"),
            files_analyzed: code.is_some(),
            package_verification_code: code,
            checksums: p
                .checksums
                .iter()
                .map(|(a, h)| Checksum {
                    algorithm: a,
                    checksum_value: h,
                })
                .collect(),
            homepage: p.homepage.as_deref().filter(|h| valid_url(h)),
            source_info: Some(format!(
                "acquired package info from {}: {}",
                p.found_by,
                evidence.join(", ")
            )),
            license_concluded: "NOASSERTION",
            license_declared: declared(p, &mut extracted),
            copyright_text: "NOASSERTION",
            description: p.description.as_deref().filter(|d| !d.is_empty()),
            external_refs: if p.purl.is_empty() {
                Vec::new()
            } else {
                vec![ExtRef {
                    reference_category: "PACKAGE-MANAGER",
                    reference_type: "purl",
                    reference_locator: p.purl.clone(),
                }]
            },
            primary_package_purpose: None,
        });
    }
    relationships.extend(file_rels);
    let refs: BTreeMap<&str, String> = sbom
        .packages
        .iter()
        .map(|p| (p.id.as_str(), package_ref(p)))
        .collect();
    for (dep, dependent) in &sbom.dependency_of {
        if let (Some(a), Some(b)) = (refs.get(dep.as_str()), refs.get(dependent.as_str())) {
            relationships.push(Rel {
                spdx_element_id: a.clone(),
                related_spdx_element: b.clone(),
                relationship_type: "DEPENDENCY_OF",
                comment: None,
            });
        }
    }
    let file_docs = sbom
        .files
        .iter()
        .map(|f| FileDoc {
            file_name: f.path.trim_start_matches('/'),
            spdx_id: file_ref(&f.path),
            file_types: [f.kind],
            checksums: [
                Checksum {
                    algorithm: "SHA1",
                    checksum_value: &f.sha1,
                },
                Checksum {
                    algorithm: "SHA256",
                    checksum_value: &f.sha256,
                },
            ],
            license_concluded: "NOASSERTION",
            license_info_in_files: ["NOASSERTION"],
            copyright_text: "NOASSERTION",
            comment: (!f.layer.is_empty()).then(|| format!("layerID: {}", f.layer)),
        })
        .collect();
    Doc {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: &sbom.source.name,
        document_namespace: format!(
            "https://sigil-dev.github.io/sbom/{kind}/{}-{}",
            short_name(sbom),
            ctx.uuid
        ),
        creation_info: CreationInfo {
            license_list_version: "3.25",
            creators: vec![
                "Organization: sigil".into(),
                format!("Tool: sigil-{}", ctx.tool_version),
            ],
            created: ctx.created.clone(),
        },
        packages,
        files: file_docs,
        has_extracted_licensing_infos: extracted
            .into_iter()
            .map(|(license_id, extracted_text)| Extracted {
                license_id,
                extracted_text,
            })
            .collect(),
        relationships,
    }
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
