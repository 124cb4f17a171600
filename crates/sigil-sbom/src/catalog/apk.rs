//! Alpine's installed database (Syft's `apk-db-cataloger`): `**/lib/apk/db/installed`,
//! blank-line separated stanzas of `K:value` lines (apk-tools' `apk_db_index_read`).
use std::collections::HashMap;

use super::{license, Ctx, Out};
use crate::model::{Package, PackageType};
use crate::purl::purl;

const FOUND_BY: &str = "apk-db-cataloger";

/// One `installed` record, the fields the SBOM uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ApkRecord {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub license: String,
    pub origin: String,
    pub maintainer: String,
    pub url: String,
    pub description: String,
    pub depends: Vec<String>,
    pub provides: Vec<String>,
    pub files: Vec<String>,
}

pub(crate) fn parse(text: &str) -> Vec<ApkRecord> {
    let mut out = Vec::new();
    let mut cur = ApkRecord::default();
    let mut dir = String::new();
    let flush = |cur: &mut ApkRecord, out: &mut Vec<ApkRecord>| {
        if !cur.name.is_empty() {
            out.push(std::mem::take(cur));
        } else {
            *cur = ApkRecord::default();
        }
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut cur, &mut out);
            dir.clear();
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k {
            "P" => cur.name = v.to_string(),
            "V" => cur.version = v.to_string(),
            "A" => cur.arch = v.to_string(),
            "L" => cur.license = v.to_string(),
            "o" => cur.origin = v.to_string(),
            "m" => cur.maintainer = v.to_string(),
            "U" => cur.url = v.to_string(),
            "T" => cur.description = v.to_string(),
            "D" => cur.depends = v.split_whitespace().map(str::to_string).collect(),
            "p" => cur.provides = v.split_whitespace().map(str::to_string).collect(),
            "F" => dir = v.to_string(),
            "R" => cur.files.push(if dir.is_empty() {
                format!("/{v}")
            } else {
                format!("/{dir}/{v}")
            }),
            _ => {}
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// `so:libc.musl-x86_64.so.1=1` / `musl>=1.2` → the name part.
fn strip_constraint(s: &str) -> &str {
    let s = s.strip_prefix('!').unwrap_or(s);
    let end = s.find(['<', '>', '=', '~']).unwrap_or(s.len());
    s.get(..end).unwrap_or(s)
}

/// Syft keeps `L:` whole when it is an SPDX expression, else splits it on spaces.
pub(crate) fn licenses(l: &str) -> Vec<String> {
    let l = l.trim();
    if l.is_empty() {
        return Vec::new();
    }
    if license::is_expression(l) {
        return vec![l.to_string()];
    }
    l.split_whitespace().map(str::to_string).collect()
}

pub(crate) fn catalog(ctx: &Ctx, out: &mut Out) {
    let dbs: Vec<(String, usize)> = ctx
        .view
        .files()
        .filter(|(p, _, _)| p.ends_with("lib/apk/db/installed"))
        .map(|(p, l, _)| (p.to_string(), l))
        .collect();
    for (db, layer) in dbs {
        let Some((_, bytes, _)) = ctx.view.text(&db) else {
            continue;
        };
        let records = parse(&String::from_utf8_lossy(bytes));
        let start = out.packages.len();
        let mut providers: HashMap<String, Vec<usize>> = HashMap::new();
        for r in &records {
            let mut p = Package::new(PackageType::Apk, FOUND_BY, &r.name, &r.version);
            let ns = ctx
                .distro
                .map(|d| d.id.clone())
                .unwrap_or_else(|| "alpine".into());
            let mut q = vec![("arch", r.arch.clone())];
            if let Some(dq) = ctx.distro.and_then(|d| d.qualifier()) {
                q.push(("distro", dq));
            }
            if !r.origin.is_empty() && r.origin != r.name {
                q.push(("upstream", r.origin.clone()));
            }
            p.purl = purl("apk", &ns, &r.name, &r.version, &q, "");
            p.licenses = licenses(&r.license);
            p.originator = license::person(&r.maintainer);
            if !r.url.is_empty() {
                p.download_location = Some(r.url.clone());
            }
            if !r.description.is_empty() {
                p.description = Some(r.description.clone());
            }
            p.locations.push(ctx.loc(layer, &db));
            let idx = out.push(p);
            providers.entry(r.name.clone()).or_default().push(idx);
            for pv in &r.provides {
                providers
                    .entry(strip_constraint(pv).to_string())
                    .or_default()
                    .push(idx);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, r) in records.iter().enumerate() {
            let dependent = start + i;
            for d in &r.depends {
                if d.starts_with('!') {
                    continue;
                }
                for &dep in providers
                    .get(strip_constraint(d))
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    if dep != dependent && seen.insert((dep, dependent)) {
                        out.edges.push((dep, dependent));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_record_with_files() {
        let t = "C:Q1abc=\nP:musl-utils\nV:1.1.24-r2\nA:x86_64\nL:MIT BSD GPL2+\no:musl\nF:sbin\nR:ldconfig\nF:usr/bin\nR:iconv\n";
        let r = parse(t);
        assert_eq!(r.len(), 1);
        let r = r.first().cloned().unwrap_or_default();
        assert_eq!(r.files, vec!["/sbin/ldconfig", "/usr/bin/iconv"]);
        assert_eq!(licenses(&r.license), vec!["MIT", "BSD", "GPL2+"]);
        assert_eq!(licenses("MIT OR Apache-2.0"), vec!["MIT OR Apache-2.0"]);
    }

    #[test]
    fn constraints_are_stripped() {
        assert_eq!(strip_constraint("musl>=1.1.24"), "musl");
        assert_eq!(
            strip_constraint("so:libc.musl-x86_64.so.1=1"),
            "so:libc.musl-x86_64.so.1"
        );
    }
}
