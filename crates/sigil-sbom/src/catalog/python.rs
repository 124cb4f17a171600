//! Installed Python packages (Syft's `python-installed-package-cataloger`): `*.dist-info/METADATA`,
//! `*.egg-info/PKG-INFO` and single-file `*.egg-info`, with their sibling `RECORD` /
//! `installed-files.txt`, `top_level.txt` and `direct_url.json` (PEP 610) as evidence.
use super::stanza::{self, field};
use super::{license, Ctx, Out};
use crate::layer::FileData;
use crate::model::{Package, PackageType};
use crate::purl::purl;

const FOUND_BY: &str = "python-installed-package-cataloger";

/// PEP 503 normalisation: runs of `-`, `_`, `.` become one `-`, lower-cased.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn is_metadata(path: &str, data: &FileData) -> bool {
    let (parent, base) = path.rsplit_once('/').unwrap_or(("", path));
    let pl = parent.to_ascii_lowercase();
    (pl.ends_with("dist-info") && base == "METADATA")
        || (pl.ends_with("egg-info") && base == "PKG-INFO")
        || (base.to_ascii_lowercase().ends_with(".egg-info") && matches!(data, FileData::Text(_)))
}

#[derive(serde::Deserialize)]
struct DirectUrl {
    url: String,
    vcs_info: Option<VcsInfo>,
}

#[derive(serde::Deserialize)]
struct VcsInfo {
    vcs: String,
    commit_id: String,
}

pub(crate) fn catalog(ctx: &Ctx, out: &mut Out) {
    let metas: Vec<(String, usize)> = ctx
        .view
        .files()
        .filter(|(p, _, d)| is_metadata(p, d))
        .map(|(p, l, _)| (p.to_string(), l))
        .collect();
    for (path, layer) in metas {
        let Some((_, bytes, _)) = ctx.view.text(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        let headers = stanza::parse(&text, true)
            .into_iter()
            .next()
            .unwrap_or_default();
        let raw_name = field(&headers, "Name").unwrap_or("").trim();
        if raw_name.is_empty() {
            out.warn(&path, "python metadata has no Name; skipped");
            continue;
        }
        // Syft skips the interpreter's own egg-info (`Python-2.7.egg-info`).
        if raw_name == "Python" {
            continue;
        }
        let name = normalize(raw_name);
        let mut p = Package::new(
            PackageType::Python,
            FOUND_BY,
            &name,
            field(&headers, "Version").unwrap_or(""),
        );
        // Evidence files next to the metadata (a single-file egg-info has none).
        let dir = path
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default();
        let is_dir_form = !path.to_ascii_lowercase().ends_with(".egg-info");
        p.locations.push(ctx.loc(layer, &path));
        let mut vcs_url = String::new();
        if is_dir_form {
            for sib in [
                "RECORD",
                "installed-files.txt",
                "top_level.txt",
                "direct_url.json",
            ] {
                if let Some((l, b, real)) = ctx.view.text(&format!("{dir}/{sib}")) {
                    p.locations.push(ctx.loc(l, &real));
                    if sib == "direct_url.json" {
                        if let Ok(DirectUrl {
                            url,
                            vcs_info: Some(v),
                        }) = serde_json::from_slice::<DirectUrl>(b)
                        {
                            vcs_url = format!("{}+{}@{}", v.vcs, url, v.commit_id);
                        }
                    }
                }
            }
        }
        let version = if p.version == "UNKNOWN" {
            ""
        } else {
            p.version.as_str()
        };
        p.purl = purl("pypi", "", &name, version, &[("vcs_url", vcs_url)], "");
        // Licenses: License-Expression, then License, then the license file's text.
        let declared = field(&headers, "License-Expression")
            .or_else(|| field(&headers, "License"))
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "UNKNOWN");
        if let Some(l) = declared {
            p.licenses.push(l.lines().next().unwrap_or(l).to_string());
        } else if is_dir_form {
            let files: Vec<&str> = stanza::fields(&headers, "License-File")
                .chain(stanza::fields(&headers, "LicenseFile"))
                .collect();
            for f in files {
                let f = f.trim();
                if f.contains("..") {
                    continue;
                }
                let candidates = [format!("{dir}/{f}"), format!("{dir}/licenses/{f}")];
                if let Some(id) = candidates
                    .iter()
                    .find_map(|c| ctx.view.text(c))
                    .and_then(|(_, b, _)| license::classify_text(&String::from_utf8_lossy(b)))
                {
                    p.licenses.push(id.to_string());
                    break;
                }
            }
        }
        let author = field(&headers, "Author").unwrap_or("").trim();
        let email = field(&headers, "Author-email").unwrap_or("").trim();
        p.originator = match (author.is_empty(), email.is_empty()) {
            (false, false) => Some(format!("Person: {author} ({email})")),
            (false, true) => Some(format!("Person: {author}")),
            (true, false) => license::person(email),
            (true, true) => None,
        };
        p.homepage = field(&headers, "Home-page").map(str::to_string);
        p.description = field(&headers, "Summary").map(str::to_string);
        out.push(p);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pep503() {
        assert_eq!(super::normalize("Pygments"), "pygments");
        assert_eq!(super::normalize("zope.interface__x"), "zope-interface-x");
    }
}
