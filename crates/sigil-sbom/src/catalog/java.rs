//! Java archives (Syft's `java-archive-cataloger`): jar/war/ear and friends, read from memory
//! while the layer streams. Identity comes from `META-INF/maven/**/pom.properties` when one
//! matches the archive, else from the file name and `META-INF/MANIFEST.MF`; other
//! pom.properties (shaded dependencies) and nested archives become packages of their own.
//! Nesting depth and every inflated entry are bounded by [`Limits`].
use std::io::{Cursor, Read};

use super::Found;
use crate::limits::Limits;
use crate::model::{Package, PackageType};
use crate::purl::purl;

const FOUND_BY: &str = "java-archive-cataloger";
/// MANIFEST.MF and pom.properties larger than this are not metadata.
const MAX_META: u64 = 1 << 20;
/// Entries in one archive that are looked at; bounds hostile zips with millions of entries.
const MAX_ENTRIES: usize = 200_000;

/// The main section of a manifest (JAR File Specification, "Manifest Specification"):
/// `Name: value` lines, continuation lines start with one space and continue the value.
pub(crate) fn parse_manifest(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some((_, v)) = out.last_mut() {
                v.push_str(cont);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn get<'a>(m: &'a [(String, String)], k: &str) -> Option<&'a str> {
    m.iter()
        .find(|(mk, _)| mk.eq_ignore_ascii_case(k))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// `commons-lang3-3.12.0.jar` → (`commons-lang3`, `3.12.0`).
pub(crate) fn split_filename(path: &str) -> (String, String) {
    let base = path.rsplit('/').next().unwrap_or(path);
    let stem = base.rsplit_once('.').map(|(s, _)| s).unwrap_or(base);
    let mut idx = None;
    for (i, _) in stem.match_indices('-') {
        if stem
            .get(i + 1..)
            .and_then(|r| r.chars().next())
            .is_some_and(|c| c.is_ascii_digit())
        {
            idx = Some(i);
            break;
        }
    }
    match idx {
        Some(i) => (
            stem.get(..i).unwrap_or(stem).to_string(),
            stem.get(i + 1..).unwrap_or("").to_string(),
        ),
        None => (stem.to_string(), String::new()),
    }
}

/// A manifest value that looks like a Maven group (reverse domain), as Syft's heuristic
/// searches for one when there is no pom.properties.
fn group_from_manifest(m: &[(String, String)]) -> Option<String> {
    const TLDS: [&str; 8] = [
        "org.", "com.", "io.", "net.", "edu.", "gov.", "de.", "jakarta.",
    ];
    for k in [
        "Extension-Name",
        "Specification-Vendor",
        "Implementation-Vendor-Id",
        "Implementation-Vendor",
        "Bundle-SymbolicName",
        "Implementation-Title",
        "Automatic-Module-Name",
    ] {
        if let Some(v) = get(m, k) {
            let v = v.split(';').next().unwrap_or(v).trim();
            if TLDS.iter().any(|t| v.starts_with(t)) && !v.contains(' ') {
                let parts: Vec<&str> = v.split('.').collect();
                let n = parts.len().min(3);
                return Some(parts.get(..n).unwrap_or_default().join("."));
            }
        }
    }
    None
}

fn maven_pkg(group: &str, artifact: &str, version: &str) -> Package {
    let mut p = Package::new(PackageType::JavaArchive, FOUND_BY, artifact, version);
    let g = if group.is_empty() { artifact } else { group };
    let v = if p.version == "UNKNOWN" { "" } else { version };
    p.purl = purl("maven", g, artifact, v, &[], "");
    p
}

/// Parses one archive (and, bounded, the archives inside it).
pub(crate) fn scan_archive(
    data: &[u8],
    path: &str,
    limits: &Limits,
    depth: u32,
) -> Result<Found, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(data))
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    let mut manifest = Vec::new();
    let mut poms: Vec<Vec<(String, String)>> = Vec::new();
    let mut nested: Vec<(String, Vec<u8>)> = Vec::new();
    let mut license_text: Option<String> = None;
    for i in 0..zip.len().min(MAX_ENTRIES) {
        let Ok(mut f) = zip.by_index(i) else {
            continue;
        };
        let name = f.name().to_string();
        let lower = name.to_ascii_lowercase();
        if lower == "meta-inf/manifest.mf" {
            let mut s = String::new();
            if f.by_ref().take(MAX_META).read_to_string(&mut s).is_ok() {
                manifest = parse_manifest(&s);
            }
        } else if matches!(
            lower.as_str(),
            "meta-inf/license" | "meta-inf/license.txt" | "meta-inf/license.md"
        ) {
            // Syft 1.18.1 classifies the archive's own license file when the manifest names none.
            let mut s = String::new();
            if f.by_ref().take(MAX_META).read_to_string(&mut s).is_ok() {
                license_text = Some(s);
            }
        } else if lower.starts_with("meta-inf/maven/") && lower.ends_with("/pom.properties") {
            let mut s = String::new();
            if f.by_ref().take(MAX_META).read_to_string(&mut s).is_ok() {
                poms.push(parse_properties(&s));
            }
        } else if depth < limits.max_nested_archive_depth
            && [".jar", ".war", ".ear", ".hpi", ".jpi"]
                .iter()
                .any(|e| lower.ends_with(e))
            && f.size() <= limits.max_buffered_file
        {
            let mut b = Vec::new();
            if f.by_ref()
                .take(limits.max_buffered_file)
                .read_to_end(&mut b)
                .is_ok()
            {
                nested.push((name, b));
            }
        }
    }
    let (file_name, file_version) = split_filename(path);
    let mut found = Found::default();
    let pom_field = |p: &Vec<(String, String)>, k: &str| get(p, k).unwrap_or("").to_string();
    // The archive's own pom: the one whose artifactId is the file's name, or the only one.
    let own = poms
        .iter()
        .position(|p| pom_field(p, "artifactId") == file_name)
        .or_else(|| (poms.len() == 1 && file_name.is_empty()).then_some(0));
    let mut main = if let Some(i) = own {
        let p = poms.get(i).cloned().unwrap_or_default();
        maven_pkg(
            &pom_field(&p, "groupId"),
            &pom_field(&p, "artifactId"),
            &pom_field(&p, "version"),
        )
    } else {
        let name = if !file_name.is_empty() {
            file_name.clone()
        } else {
            get(&manifest, "Implementation-Title")
                .or_else(|| get(&manifest, "Bundle-Name"))
                .unwrap_or("")
                .to_string()
        };
        let version = [
            Some(file_version.as_str()).filter(|v| !v.is_empty()),
            get(&manifest, "Implementation-Version"),
            get(&manifest, "Specification-Version"),
            get(&manifest, "Bundle-Version"),
        ]
        .into_iter()
        .flatten()
        .next()
        .unwrap_or("")
        .to_string();
        maven_pkg(
            &group_from_manifest(&manifest).unwrap_or_default(),
            &name,
            &version,
        )
    };
    if let Some(l) = get(&manifest, "Bundle-License") {
        // A URL of a well-known license becomes its SPDX id (as Syft reports it).
        for part in l.split(',') {
            let part = part.split(';').next().unwrap_or(part).trim();
            if part.is_empty() {
                continue;
            }
            let value = super::license::from_url(part)
                .map(str::to_string)
                .unwrap_or_else(|| part.to_string());
            if !main.licenses.contains(&value) {
                main.licenses.push(value);
            }
        }
    }
    if main.licenses.is_empty() {
        if let Some(id) = license_text
            .as_deref()
            .and_then(super::license::classify_text)
        {
            main.licenses.push(id.to_string());
        }
    }
    main.checksums.push((
        "SHA1".into(),
        hex::encode(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            data,
        )),
    ));
    if !main.name.is_empty() {
        found.packages.push(main);
    }
    for (i, p) in poms.iter().enumerate() {
        if Some(i) == own {
            continue;
        }
        let a = pom_field(p, "artifactId");
        if a.is_empty() {
            continue;
        }
        found.packages.push(maven_pkg(
            &pom_field(p, "groupId"),
            &a,
            &pom_field(p, "version"),
        ));
    }
    for (name, bytes) in nested {
        if let Ok(inner) = scan_archive(&bytes, &name, limits, depth + 1) {
            found.packages.extend(inner.packages);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (n, b) in entries {
            let _ = w.start_file(*n, zip::write::SimpleFileOptions::default());
            let _ = w.write_all(b);
        }
        w.finish().map(|c| c.into_inner()).unwrap_or_default()
    }

    #[test]
    fn pom_properties_name_the_archive() {
        let pom = b"groupId=org.apache.commons\nartifactId=commons-lang3\nversion=3.12.0\n";
        let shaded = b"groupId=com.google\nartifactId=gson\nversion=2.8\n";
        let data = jar(&[
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\nBundle-License: https://www.apache.org/licenses/LICENSE-2.0.txt\n"),
            ("META-INF/maven/org.apache.commons/commons-lang3/pom.properties", pom),
            ("META-INF/maven/com.google/gson/pom.properties", shaded),
        ]);
        let f = scan_archive(
            &data,
            "usr/share/java/commons-lang3-3.12.0.jar",
            &Limits::default(),
            0,
        );
        let purls: Vec<String> = f
            .map(|f| f.packages.iter().map(|p| p.purl.clone()).collect())
            .unwrap_or_default();
        assert_eq!(
            purls,
            vec![
                "pkg:maven/org.apache.commons/commons-lang3@3.12.0",
                "pkg:maven/com.google/gson@2.8"
            ]
        );
    }

    #[test]
    fn nested_archives_are_bounded() {
        let mut inner = jar(&[(
            "META-INF/maven/g/a/pom.properties",
            b"groupId=g\nartifactId=a\nversion=1\n",
        )]);
        for _ in 0..8 {
            inner = jar(&[("x.jar", &inner)]);
        }
        let f = scan_archive(&inner, "outer-1.0.jar", &Limits::default(), 0);
        // The pom is 9 levels deep; the depth limit (4) stops well before it.
        assert!(f.is_ok_and(|f| f.packages.iter().all(|p| p.name != "a")));
        assert!(scan_archive(b"PK\x03\x04garbage", "x.jar", &Limits::default(), 0).is_err());
    }

    #[test]
    fn filename_split() {
        assert_eq!(
            split_filename("a/commons-lang3-3.12.0.jar"),
            ("commons-lang3".into(), "3.12.0".into())
        );
        assert_eq!(split_filename("foo.jar"), ("foo".into(), String::new()));
    }
}
