//! `sigil policy apply`: evaluate Kyverno verifyImages policies against resource files, as
//! `kyverno apply` does (no cluster; signatures are fetched from the registries, as
//! Kyverno's CLI does), print a result table, and exit 1 when a rule fails.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;
use sigil_admission::{
    load_policies, parse_documents, Engine, EngineOptions, ImageVerifier, Phase, RegistryFetcher,
    Request, RuleStatus, VerifierOptions,
};

use super::registry_opts::RegistryOpts;
use super::trust::TrustOpts;
use super::Exit;

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Apply policies to resources offline and report the results.
    Apply(ApplyArgs),
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// A Kyverno policy file or directory.
    #[arg(long)]
    pub policy: PathBuf,
    /// A resource file (YAML or JSON, several documents allowed); repeatable.
    #[arg(long, required = true)]
    pub resource: Vec<PathBuf>,
    /// Report failures of Audit rules as `warn` (they do not change the exit code).
    #[arg(long)]
    pub audit_warn: bool,
    /// Namespace for resources that name none.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    pub trust: TrustOpts,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

pub async fn run(c: PolicyCommand) -> anyhow::Result<ExitCode> {
    match c {
        PolicyCommand::Apply(a) => apply(a).await,
    }
}

fn resources(path: &PathBuf) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
    Ok(parse_documents(&text, &path.display().to_string())?)
}

async fn apply(a: ApplyArgs) -> anyhow::Result<ExitCode> {
    let set = load_policies(&a.policy)
        .with_context(|| format!("loading policies from `{}`", a.policy.display()))?;
    for w in &set.warnings {
        eprintln!("WARNING: {w}");
    }
    let client = Arc::new(a.registry.client()?);
    let verifier = ImageVerifier::new(
        Arc::new(RegistryFetcher { client }),
        VerifierOptions {
            trusted_root: Some(a.trust.load()?),
            ..VerifierOptions::default()
        },
    );
    let engine = Engine::new(set.policies, verifier, EngineOptions::default());
    let mut rows: Vec<[String; 6]> = Vec::new();
    let (mut pass, mut fail, mut warn, mut error, mut skip) = (0, 0, 0, 0, 0);
    for path in &a.resource {
        for obj in resources(path)? {
            let kind = obj
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let meta = obj.get("metadata");
            let get = |k: &str| {
                meta.and_then(|m| m.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let name = get("name")
                .or_else(|| get("generateName"))
                .unwrap_or_default();
            let namespace = get("namespace").unwrap_or_else(|| a.namespace.clone());
            let req = Request {
                kind: kind.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
                operation: "CREATE".into(),
                object: obj,
                ..Request::default()
            };
            let ev = engine.evaluate(&req, Phase::Mutate).await;
            for r in &ev.results {
                let result = match r.status {
                    RuleStatus::Pass => {
                        pass += 1;
                        "pass"
                    }
                    RuleStatus::Skip => {
                        skip += 1;
                        "skip"
                    }
                    RuleStatus::Fail if a.audit_warn && !r.blocking => {
                        warn += 1;
                        "warn"
                    }
                    RuleStatus::Fail => {
                        fail += 1;
                        "fail"
                    }
                    RuleStatus::Error => {
                        error += 1;
                        "error"
                    }
                };
                rows.push([
                    r.policy.clone(),
                    r.rule.clone(),
                    format!("{kind}/{namespace}/{name}"),
                    r.image.clone().unwrap_or_default(),
                    result.to_owned(),
                    r.message.clone(),
                ]);
            }
            for p in ev.patch.iter().filter(|p| p["op"] == "replace") {
                println!(
                    "mutated {kind}/{namespace}/{name}: {} -> {}",
                    p["path"].as_str().unwrap_or(""),
                    p["value"].as_str().unwrap_or("")
                );
            }
        }
    }
    print_table(&rows);
    println!("\npass: {pass}, fail: {fail}, warn: {warn}, error: {error}, skip: {skip}");
    if fail + error > 0 {
        return Err(Exit {
            code: 1,
            message: format!("{} rule result(s) failed", fail + error),
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(rows: &[[String; 6]]) {
    let head = ["POLICY", "RULE", "RESOURCE", "IMAGE", "RESULT", "MESSAGE"];
    let mut w = head.map(str::len);
    for r in rows {
        for (i, c) in r.iter().enumerate().take(5) {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.len());
            }
        }
    }
    let line = |cells: [&str; 6]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i < 5 {
                s.push_str(&format!(
                    "{c:<width$}  ",
                    width = w.get(i).copied().unwrap_or(0)
                ));
            } else {
                s.push_str(c);
            }
        }
        println!("{}", s.trim_end());
    };
    line(head);
    for r in rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
    }
}
