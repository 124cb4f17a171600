//! CycloneDX 1.6 JSON (`bom-1.6.schema.json`), shaped like Syft's: the image as
//! `metadata.component`, one `library` component per package, the distro as an
//! `operating-system` component, `dependency-of` edges as `dependencies[].dependsOn`.
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{short_name, RenderContext};
use crate::catalog::license::{to_spdx, SpdxLicense};
use crate::model::{Package, Sbom};

fn bom_ref(p: &Package) -> String {
    if p.purl.is_empty() {
        return format!("sigil-package-{}", p.id);
    }
    let sep = if p.purl.contains('?') { '&' } else { '?' };
    format!("{}{sep}package-id={}", p.purl, p.id)
}

fn licenses(p: &Package) -> Option<Value> {
    let mapped: Vec<SpdxLicense> = p.licenses.iter().map(|l| to_spdx(l)).collect();
    if mapped.is_empty() {
        return None;
    }
    // The schema allows either license entries or one expression, not both.
    let compound = mapped
        .iter()
        .any(|m| matches!(m, SpdxLicense::Expression(e) if e.contains(' ')));
    if compound {
        let mut extracted = BTreeMap::new();
        return Some(json!([{"expression": super::spdx::declared(p, &mut extracted)}]));
    }
    Some(Value::Array(
        mapped
            .into_iter()
            .zip(&p.licenses)
            .map(|(m, raw)| match m {
                // `license.id` must be a plain id of the SPDX list (the schema's enum); an
                // `or-later` id such as `GFDL-1.2+` is written as a name instead.
                SpdxLicense::Expression(id) if !id.ends_with('+') => json!({"license": {"id": id}}),
                SpdxLicense::Expression(id) => json!({"license": {"name": id}}),
                SpdxLicense::Ref { .. } => json!({"license": {"name": raw}}),
            })
            .collect(),
    ))
}

pub(crate) fn render(sbom: &Sbom, ctx: &RenderContext) -> String {
    let mut components = Vec::new();
    let mut refs = BTreeMap::new();
    for p in &sbom.packages {
        let r = bom_ref(p);
        refs.insert(p.id.clone(), r.clone());
        let mut props = vec![
            json!({"name": "sigil:package:foundBy", "value": p.found_by}),
            json!({"name": "sigil:package:type", "value": p.kind.as_str()}),
        ];
        for (i, l) in p.locations.iter().enumerate() {
            props.push(json!({"name": format!("sigil:location:{i}:path"), "value": l.path}));
            if !l.layer.is_empty() {
                props
                    .push(json!({"name": format!("sigil:location:{i}:layerID"), "value": l.layer}));
            }
        }
        let mut c = json!({
            "bom-ref": r,
            "type": "library",
            "name": p.name,
            "version": p.version,
        });
        let Some(o) = c.as_object_mut() else { continue };
        if let Some(pub_) = p.originator.as_deref() {
            let who = pub_.split_once(": ").map(|(_, w)| w).unwrap_or(pub_);
            o.insert("publisher".into(), json!(who));
        }
        if let Some(d) = &p.description {
            o.insert("description".into(), json!(d));
        }
        if let Some(l) = licenses(p) {
            o.insert("licenses".into(), l);
        }
        if !p.purl.is_empty() {
            o.insert("purl".into(), json!(p.purl));
        }
        let hashes: Vec<Value> = p
            .checksums
            .iter()
            .filter_map(|(a, h)| {
                let alg = match a.as_str() {
                    "SHA1" => "SHA-1",
                    "SHA256" => "SHA-256",
                    _ => return None,
                };
                Some(json!({"alg": alg, "content": h}))
            })
            .collect();
        if !hashes.is_empty() {
            o.insert("hashes".into(), Value::Array(hashes));
        }
        o.insert("properties".into(), Value::Array(props));
        components.push(c);
    }
    if let Some(d) = &sbom.distro {
        let mut os = json!({
            "bom-ref": format!("os:{}@{}", d.id, d.version_id),
            "type": "operating-system",
            "name": d.id,
        });
        if let Some(o) = os.as_object_mut() {
            if !d.version_id.is_empty() {
                o.insert("version".into(), json!(d.version_id));
            }
            if !d.pretty_name.is_empty() {
                o.insert("description".into(), json!(d.pretty_name));
            }
        }
        components.push(os);
    }
    let mut deps: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (dep, dependent) in &sbom.dependency_of {
        if let (Some(a), Some(b)) = (refs.get(dep), refs.get(dependent)) {
            deps.entry(b.as_str()).or_default().push(a.as_str());
        }
    }
    let dependencies: Vec<Value> = deps
        .into_iter()
        .map(|(r, on)| json!({"ref": r, "dependsOn": on}))
        .collect();
    let version = sbom
        .source
        .tag
        .clone()
        .or_else(|| sbom.source.manifest_digest.clone())
        .unwrap_or_default();
    let mut meta_component = json!({
        "bom-ref": format!("sigil-source-{}", short_name(sbom)),
        "type": if sbom.source.kind == crate::model::SourceKind::Image { "container" } else { "file" },
        "name": sbom.source.name,
    });
    if !version.is_empty() {
        meta_component["version"] = json!(version);
    }
    let mut doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", ctx.uuid),
        "version": 1,
        "metadata": {
            "timestamp": ctx.created,
            "tools": {"components": [{"type": "application", "author": "sigil", "name": "sigil", "version": ctx.tool_version}]},
            "component": meta_component,
        },
        "components": components,
    });
    if !dependencies.is_empty() {
        doc["dependencies"] = Value::Array(dependencies);
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
