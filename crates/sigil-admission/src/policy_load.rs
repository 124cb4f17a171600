//! Loading policies from files and resources from YAML/JSON streams.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::policy::Policy;
use crate::Error;

/// A policy set as loaded from files, with warnings about what was ignored.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    pub policies: Vec<Policy>,
    /// Non-policy documents skipped, and similar notes.
    pub warnings: Vec<String>,
}

/// Parses every YAML document of `text` (`---`-separated). Kyverno policies are kept and
/// validated; other kinds (Namespaces, ConfigMaps beside a policy) are skipped with a warning.
pub fn parse_policies(text: &str, origin: &str) -> Result<PolicySet, Error> {
    let mut set = PolicySet::default();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc).map_err(|e| Error::Parse {
            what: format!("{origin} document {}", i + 1),
            source: e,
        })?;
        if value.is_null() {
            continue;
        }
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
        let api = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !(api.starts_with("kyverno.io/") && (kind == "ClusterPolicy" || kind == "Policy")) {
            set.warnings.push(format!(
                "{origin} document {}: skipping {api} {kind} (not a Kyverno ClusterPolicy or Policy)",
                i + 1
            ));
            continue;
        }
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let policy: Policy = serde_json::from_value(value).map_err(|e| Error::Policy {
            policy: name.clone(),
            detail: format!("{origin}: {e}"),
        })?;
        policy.validate()?;
        for why in policy.unresolvable_keys() {
            set.warnings.push(format!(
                "policy `{name}`: {why} (images this rule matches are refused)"
            ));
        }
        set.policies.push(policy);
    }
    Ok(set)
}

/// Every document of a YAML/JSON stream (`---`-separated; `…List` kinds unpacked), for
/// resource files given to `sigil policy apply`.
pub fn parse_documents(text: &str, origin: &str) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let v = Value::deserialize(doc).map_err(|e| Error::Parse {
            what: format!("{origin} document {}", i + 1),
            source: e,
        })?;
        match v.get("kind").and_then(Value::as_str) {
            None if v.is_null() => {}
            Some(k) if k.ends_with("List") => out.extend(
                v.get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            ),
            Some(_) => out.push(v),
            None => {
                return Err(Error::Resource(format!(
                    "{origin} document {}: no kind",
                    i + 1
                )))
            }
        }
    }
    Ok(out)
}

/// Loads a policy file, or every `.yaml`/`.yml`/`.json` file of a directory (sorted).
pub fn load_policies(path: &Path) -> Result<PolicySet, Error> {
    let mut set = PolicySet::default();
    for file in policy_files(path)? {
        let text = std::fs::read_to_string(&file).map_err(|e| Error::Io {
            path: file.clone(),
            source: e,
        })?;
        let one = parse_policies(&text, &file.display().to_string())?;
        set.policies.extend(one.policies);
        set.warnings.extend(one.warnings);
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in &set.policies {
        if !seen.insert(p.key()) {
            return Err(Error::Policy {
                policy: p.metadata.name.clone(),
                detail: format!("defined twice under {}", path.display()),
            });
        }
    }
    Ok(set)
}

/// The files `load_policies` reads for `path`.
pub fn policy_files(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let io = |e| Error::Io {
        path: path.to_owned(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if p.is_file() && matches!(ext, "yaml" | "yml" | "json") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}
