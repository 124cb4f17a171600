//! The table for people, in Syft's `syft-table` layout (NAME, VERSION, TYPE).
use crate::model::Sbom;

pub(crate) fn render(sbom: &Sbom) -> String {
    if sbom.packages.is_empty() {
        return "No packages discovered\n".into();
    }
    let rows: Vec<[&str; 3]> = sbom
        .packages
        .iter()
        .map(|p| [p.name.as_str(), p.version.as_str(), p.kind.as_str()])
        .collect();
    let mut w = [4usize, 7, 4];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let [a, b, _] = w;
    let mut out = format!("{:a$}  {:b$}  TYPE\n", "NAME", "VERSION");
    let mut seen = std::collections::HashSet::new();
    for [n, v, t] in rows {
        // Syft's table shows one row per distinct (name, version, type).
        if seen.insert((n, v, t)) {
            out.push_str(&format!("{n:a$}  {v:b$}  {t}\n"));
        }
    }
    out
}
