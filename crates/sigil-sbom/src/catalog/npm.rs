//! JavaScript packages. Image scans read every installed `package.json` (Syft's
//! `javascript-package-cataloger`, which matches `**/package.json`, not only under
//! `node_modules`); directory scans read `package-lock.json` v1–v3 instead
//! (`javascript-lock-cataloger`), skipping dev dependencies.
use serde_json::Value;

use super::{license, Ctx, Out};
use crate::model::{Package, PackageType};
use crate::purl::purl;

/// `@scope/name` → purl with the scope as namespace.
pub(crate) fn npm_purl(name: &str, version: &str) -> String {
    match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => purl("npm", scope, n, version, &[], ""),
        _ => purl("npm", "", name, version, &[], ""),
    }
}

fn license_values(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => vec![s.trim().to_string()],
        Value::Object(o) => o
            .get("type")
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
        Value::Array(a) => a.iter().flat_map(license_values).collect(),
        _ => Vec::new(),
    }
}

/// `Name <email> (url)` or `{name, email, url}`.
fn author(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let s = s.split(" (").next().unwrap_or(s);
            license::person(s)
        }
        Value::Object(o) => {
            let name = o.get("name").and_then(Value::as_str).unwrap_or("").trim();
            let email = o.get("email").and_then(Value::as_str).unwrap_or("").trim();
            match (name.is_empty(), email.is_empty()) {
                (false, false) => Some(format!("Person: {name} ({email})")),
                (false, true) => Some(format!("Person: {name}")),
                _ => None,
            }
        }
        _ => None,
    }
}

fn repository(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("url").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

pub(crate) fn catalog_package_json(ctx: &Ctx, out: &mut Out) {
    let files: Vec<(String, usize)> = ctx
        .view
        .files()
        .filter(|(p, _, _)| p.rsplit('/').next() == Some("package.json"))
        .map(|(p, l, _)| (p.to_string(), l))
        .collect();
    for (path, layer) in files {
        let Some((_, bytes, _)) = ctx.view.text(&path) else {
            continue;
        };
        let v: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                out.warn(&path, format!("invalid package.json: {e}"));
                continue;
            }
        };
        let name = v.get("name").and_then(Value::as_str).unwrap_or("").trim();
        let version = v
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        // Syft ignores a package.json without both name and version.
        if name.is_empty() || version.is_empty() {
            continue;
        }
        let mut p = Package::new(
            PackageType::Npm,
            "javascript-package-cataloger",
            name,
            version,
        );
        p.purl = npm_purl(name, version);
        let mut lic = v.get("license").map(license_values).unwrap_or_default();
        if lic.is_empty() {
            lic = v.get("licenses").map(license_values).unwrap_or_default();
        }
        p.licenses = lic;
        p.originator = v.get("author").and_then(author);
        p.homepage = v
            .get("homepage")
            .and_then(Value::as_str)
            .map(str::to_string);
        p.description = v
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string);
        p.download_location = v.get("repository").and_then(repository);
        p.locations.push(ctx.loc(layer, &path));
        out.push(p);
    }
}

pub(crate) fn catalog_lockfiles(ctx: &Ctx, out: &mut Out) {
    let files: Vec<(String, usize)> = ctx
        .view
        .files()
        .filter(|(p, _, _)| {
            p.rsplit('/').next() == Some("package-lock.json") && !p.contains("node_modules/")
        })
        .map(|(p, l, _)| (p.to_string(), l))
        .collect();
    for (path, layer) in files {
        let Some((_, bytes, _)) = ctx.view.text(&path) else {
            continue;
        };
        let v: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                out.warn(&path, format!("invalid package-lock.json: {e}"));
                continue;
            }
        };
        let mut found: Vec<(String, String, Option<String>, Vec<String>)> = Vec::new();
        if let Some(pkgs) = v.get("packages").and_then(Value::as_object) {
            for (key, e) in pkgs {
                if e.get("dev").and_then(Value::as_bool) == Some(true)
                    || e.get("link").and_then(Value::as_bool) == Some(true)
                {
                    continue;
                }
                let name = if key.is_empty() {
                    e.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                } else {
                    e.get("name")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| {
                            key.rsplit("node_modules/")
                                .next()
                                .unwrap_or(key)
                                .to_string()
                        })
                };
                let version = e
                    .get("version")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let lic = e.get("license").map(license_values).unwrap_or_default();
                let resolved = e
                    .get("resolved")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                found.push((name, version, resolved, lic));
            }
        } else if let Some(deps) = v.get("dependencies").and_then(Value::as_object) {
            let mut stack: Vec<(&String, &Value)> = deps.iter().collect();
            let mut guard = 0usize;
            while let Some((name, e)) = stack.pop() {
                guard += 1;
                if guard > 1_000_000 {
                    break;
                }
                if e.get("dev").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                let version = e
                    .get("version")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let resolved = e
                    .get("resolved")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                found.push((name.clone(), version, resolved, Vec::new()));
                if let Some(nested) = e.get("dependencies").and_then(Value::as_object) {
                    stack.extend(nested.iter());
                }
            }
        }
        for (name, version, resolved, lic) in found {
            if name.is_empty() {
                continue;
            }
            let mut p = Package::new(
                PackageType::Npm,
                "javascript-lock-cataloger",
                &name,
                &version,
            );
            p.purl = npm_purl(&name, &version);
            p.licenses = lic;
            p.download_location = resolved;
            p.locations.push(ctx.loc(layer, &path));
            out.push(p);
        }
    }
}
