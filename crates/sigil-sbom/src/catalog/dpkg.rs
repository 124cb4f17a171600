//! dpkg database (Syft's `dpkg-db-cataloger`, `syft/pkg/cataloger/debian`): `**/lib/dpkg/status`
//! and distroless `**/lib/dpkg/status.d/*`; file lists from `info/NAME[:ARCH].md5sums` and
//! `.conffiles` (next to the status file for `status.d/`); licenses from
//! `/usr/share/doc/NAME/copyright`. Matches Syft 1.18.1: `deinstall` stanzas are reported, and
//! copyright files are grepped without a DEP-5 header check.
use std::collections::HashMap;

use super::stanza::{self, field};
use super::{license, Ctx, Out};
use crate::model::{Package, PackageType};
use crate::purl::purl;

const FOUND_BY: &str = "dpkg-db-cataloger";

fn is_status_file(path: &str) -> bool {
    let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    path.ends_with("lib/dpkg/status")
        || (parent.ends_with("lib/dpkg/status.d")
            && !path.ends_with(".md5sums")
            && !path.ends_with(".conffiles"))
}

/// Licenses named in a copyright file, sorted and unique (1.18.1's `parseLicensesFromCopyright`).
pub(crate) fn copyright_licenses(text: &str) -> Vec<String> {
    let mut found = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("License: ") {
            let v: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
            push_single(&mut found, &v);
        }
        if let Some(i) = line.find("/usr/share/common-licenses/") {
            let rest = line
                .get(i + "/usr/share/common-licenses/".len()..)
                .unwrap_or("");
            let v: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                .collect();
            push_single(&mut found, &v);
        }
    }
    found.into_iter().collect()
}

fn push_single(set: &mut std::collections::BTreeSet<String>, v: &str) {
    let v = v.trim();
    if v.contains(" or ") || v.contains(" and ") || v.is_empty() || v.eq_ignore_ascii_case("none") {
        return;
    }
    let v = v.strip_suffix('.').unwrap_or(v);
    if !v.is_empty() {
        set.insert(v.to_string());
    }
}

/// The files a package installed: `md5sums` lines are `<md5>  <path>`, `conffiles` lines are
/// `/path [flags]` (dpkg's `info` database, deb(5)/dpkg(1)).
fn owned_files(ctx: &Ctx, db_dir: &str, name: &str, arch: &str, distroless: bool) -> Vec<String> {
    let (md5, conf) = if distroless {
        (
            vec![format!("{db_dir}/{name}.md5sums")],
            vec![format!("{db_dir}/{name}.conffiles")],
        )
    } else {
        (
            vec![
                format!("{db_dir}/info/{name}:{arch}.md5sums"),
                format!("{db_dir}/info/{name}.md5sums"),
            ],
            vec![
                format!("{db_dir}/info/{name}:{arch}.conffiles"),
                format!("{db_dir}/info/{name}.conffiles"),
            ],
        )
    };
    let mut out = Vec::new();
    if let Some((_, text, _)) = md5.iter().find_map(|m| ctx.view.text(m)) {
        for line in String::from_utf8_lossy(text).lines() {
            if let Some((_, path)) = line.split_once("  ") {
                out.push(format!("/{}", path.trim().trim_start_matches('/')));
            }
        }
    }
    if let Some((_, text, _)) = conf.iter().find_map(|c| ctx.view.text(c)) {
        for line in String::from_utf8_lossy(text).lines() {
            if let Some(path) = line
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/'))
            {
                out.push(path.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Names in a Depends-style list: alternatives split, versions and `:arch` removed.
fn relation_names(v: &str) -> Vec<String> {
    v.split([',', '|'])
        .filter_map(|d| {
            let name = d
                .split(['(', '[', ' '])
                .find(|s| !s.trim().is_empty())?
                .trim();
            let name = name.split(':').next().unwrap_or(name);
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

pub(crate) fn catalog(ctx: &Ctx, out: &mut Out) {
    let dbs: Vec<(String, usize)> = ctx
        .view
        .files()
        .filter(|(p, _, _)| is_status_file(p))
        .map(|(p, l, _)| (p.to_string(), l))
        .collect();
    for (db, layer) in dbs {
        let Some((_, bytes, _)) = ctx.view.text(&db) else {
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        let stanzas = stanza::parse(&text, false);
        if stanzas.is_empty() && !text.trim().is_empty() {
            out.warn(&db, "no dpkg stanzas found; not a status file");
            continue;
        }
        let db_dir = db.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let distroless = db_dir.ends_with("status.d");
        let start = out.packages.len();
        let mut provides: HashMap<String, Vec<usize>> = HashMap::new();
        let mut relations: Vec<(usize, Vec<String>)> = Vec::new();
        for s in &stanzas {
            let name = field(s, "Package").unwrap_or("").trim();
            if name.is_empty() {
                continue;
            }
            let version = field(s, "Version").unwrap_or("");
            let arch = field(s, "Architecture").unwrap_or("").trim();
            let mut p = Package::new(PackageType::Deb, FOUND_BY, name, version);
            let upstream = field(s, "Source").map(|src| {
                let src = src.trim();
                match src.split_once('(') {
                    Some((n, v)) => format!("{}@{}", n.trim(), v.trim_end_matches(')').trim()),
                    None => src.to_string(),
                }
            });
            if let Some(d) = ctx.distro.filter(|d| d.is_debian_like()) {
                let mut q = vec![("arch", arch.to_string())];
                if let Some(dq) = d.qualifier() {
                    q.push(("distro", dq));
                }
                if let Some(u) = &upstream {
                    q.push(("upstream", u.clone()));
                }
                let v = if p.version == "UNKNOWN" {
                    ""
                } else {
                    p.version.as_str()
                };
                p.purl = purl("deb", &d.id, name, v, &q, "");
            }
            p.originator = field(s, "Maintainer").and_then(license::person);
            p.description =
                field(s, "Description").map(|d| d.lines().next().unwrap_or("").to_string());
            p.locations.push(ctx.loc(layer, &db));
            // Evidence: the package's files in the info directory (`NAME.*` and
            // `NAME:ARCH.*`: md5sums, conffiles, list, maintainer scripts), or for distroless
            // `status.d/` the md5sums beside the status file.
            if distroless {
                for c in [
                    format!("{db_dir}/{name}.md5sums"),
                    format!("{db_dir}/{name}.conffiles"),
                ] {
                    if let Some((l, _, real)) = ctx.view.text(&c) {
                        p.locations.push(ctx.loc(l, &real));
                    }
                }
            } else {
                // Like Syft 1.18.1: md5sums and conffiles by `NAME:ARCH` then `NAME`, plus
                // every `info/NAME.*` (so a multi-arch package's `NAME:ARCH.list` is not one).
                for kind in ["md5sums", "conffiles"] {
                    let pick = [
                        format!("{db_dir}/info/{name}:{arch}.{kind}"),
                        format!("{db_dir}/info/{name}.{kind}"),
                    ]
                    .into_iter()
                    .find_map(|c| ctx.view.text(&c).map(|(l, _, real)| (l, real)));
                    if let Some((l, real)) = pick {
                        p.locations.push(ctx.loc(l, &real));
                    }
                }
                let prefix = format!("{db_dir}/info/{name}.");
                for (path, l) in ctx.view.with_prefix(&prefix) {
                    // `NAME.` must not pick up `NAME.x.list` (package `NAME.x`): one word after.
                    let rest = path.get(prefix.len()..).unwrap_or("");
                    if !rest.is_empty() && !rest.contains(['/', '.']) {
                        p.locations.push(ctx.loc(l, path));
                    }
                }
            }
            p.files = owned_files(ctx, db_dir, name, arch, distroless);
            if let Some((l, text, real)) = ctx.view.text(&format!("usr/share/doc/{name}/copyright"))
            {
                p.licenses = copyright_licenses(&String::from_utf8_lossy(text));
                p.locations.push(ctx.loc(l, &real));
            }
            let idx = out.push(p);
            provides.entry(name.to_string()).or_default().push(idx);
            if let Some(pv) = field(s, "Provides") {
                for n in relation_names(pv) {
                    provides.entry(n).or_default().push(idx);
                }
            }
            let mut deps = Vec::new();
            for key in ["Depends", "Pre-Depends", "PreDepends"] {
                if let Some(v) = field(s, key) {
                    deps.extend(relation_names(v));
                }
            }
            relations.push((idx, deps));
        }
        // dependency-of edges within this database (Syft resolves alternatives and Provides).
        let mut seen = std::collections::HashSet::new();
        for (dependent, deps) in relations {
            for d in deps {
                for &dep in provides.get(&d).map(Vec::as_slice).unwrap_or_default() {
                    if dep != dependent && dep >= start && seen.insert((dep, dependent)) {
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
    fn copyright_like_syft_1_18() {
        let t = "License: GPL-2+\nLicense: GPL-2+ or Artistic\n see /usr/share/common-licenses/GPL-2.\nLicense: none\nLicense: public-domain.\n";
        assert_eq!(
            copyright_licenses(t),
            vec!["GPL-2", "GPL-2+", "public-domain"]
        );
    }

    #[test]
    fn relations_drop_versions_and_arch() {
        assert_eq!(
            relation_names(
                "libc6 (>= 2.34), libacl1:any | libattr1 [amd64], debconf (>= 0.5) | debconf-2.0"
            ),
            vec!["libc6", "libacl1", "libattr1", "debconf", "debconf-2.0"]
        );
    }
}
