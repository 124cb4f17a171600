//! `sigil sbom SOURCE`: an SBOM of an image or directory, like `syft SOURCE -o FORMAT`.
//!
//! Exit codes: 0 SBOM written; 1 the source could not be read or an output not written
//! (the message says which). Per-file problems (a malformed package database) are warnings on
//! stderr and do not change the exit code.
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use sigil_sbom::{
    render_to, CatalogerSet, Format, Limits, Progress, RegistrySource, RenderContext, ScanOptions,
    Scope, SourceSpec,
};

use super::registry_opts::RegistryOpts;

#[derive(Debug, clap::Args)]
pub struct SbomArgs {
    /// What to scan: an image reference (`alpine:3.19`, `registry:REF`), `oci-dir:PATH`,
    /// `oci-archive:FILE`, `docker-archive:FILE` or `dir:PATH`.
    pub source: String,
    /// Output format, or FORMAT=FILE to write one format to a file; repeat for several
    /// (spdx-json, cyclonedx-json, syft-table, json).
    #[arg(short = 'o', long = "output", default_value = "syft-table")]
    pub output: Vec<String>,
    /// Write the output (the one without `=FILE`) to this file instead of stdout.
    #[arg(long = "file")]
    pub file: Option<PathBuf>,
    /// Which files count: the final image (`squashed`) or every layer (`all-layers`).
    #[arg(long, default_value = "squashed", value_parser = ["squashed", "all-layers"])]
    pub scope: String,
    /// Cataloger set: `image` (installed packages) or `directory` (lock files);
    /// default: image for images, directory for `dir:`.
    #[arg(long, value_parser = ["image", "directory"])]
    pub catalogers: Option<String>,
    /// No progress display and no warnings on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// Largest uncompressed layer, in bytes.
    #[arg(long, default_value_t = Limits::default().max_layer_bytes)]
    pub max_layer_bytes: u64,
    /// Largest uncompressed/compressed ratio of a layer (gzip bomb guard).
    #[arg(long, default_value_t = Limits::default().max_ratio)]
    pub max_ratio: u64,
    /// Largest binary or archive parsed, in bytes (larger ones are skipped with a warning).
    #[arg(long, default_value_t = Limits::default().max_buffered_file)]
    pub max_file_bytes: u64,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

fn outputs(a: &SbomArgs) -> anyhow::Result<Vec<(Format, Option<PathBuf>)>> {
    let mut out = Vec::new();
    let mut to_stdout = 0;
    for o in &a.output {
        let (name, file) = match o.split_once('=') {
            Some((n, f)) if !f.is_empty() => (n, Some(PathBuf::from(f))),
            Some((n, _)) => bail!("`-o {o}`: missing file name after `=` (use -o {n}=FILE)"),
            None => (o.as_str(), None),
        };
        let format = Format::parse(name).with_context(|| {
            format!(
                "unknown output format `{name}`; use spdx-json, cyclonedx-json, syft-table or json"
            )
        })?;
        let file = match file {
            Some(f) => Some(f),
            None => {
                to_stdout += 1;
                a.file.clone()
            }
        };
        out.push((format, file));
    }
    if to_stdout > 1 {
        bail!("only one output can go to stdout or --file; give the others as FORMAT=FILE");
    }
    Ok(out)
}

/// A one-line progress display on a terminal.
fn show_progress(p: Progress) {
    let mut e = std::io::stderr().lock();
    match p {
        Progress::Layers { done, total } => {
            let _ = write!(e, "\r\x1b[2K layers read: {done}/{total}");
        }
        Progress::Packages(n) => {
            let _ = writeln!(e, "\r\x1b[2K packages found: {n}");
        }
        _ => {}
    }
    let _ = e.flush();
}

pub async fn run(a: SbomArgs) -> anyhow::Result<ExitCode> {
    let outs = outputs(&a)?;
    let spec = SourceSpec::parse(&a.source)?;
    let limits = Limits {
        max_layer_bytes: a.max_layer_bytes,
        max_ratio: a.max_ratio,
        max_buffered_file: a.max_file_bytes,
        ..Limits::default()
    };
    let scope = if a.scope == "all-layers" {
        Scope::AllLayers
    } else {
        Scope::Squashed
    };
    let catalogers = a.catalogers.as_deref().map(|c| {
        if c == "directory" {
            CatalogerSet::Directory
        } else {
            CatalogerSet::Image
        }
    });
    let show = !a.quiet && std::io::stderr().is_terminal();
    // File digests cost a hashing pass: only when a document that lists files is written.
    let file_digests = outs
        .iter()
        .any(|(f, _)| matches!(f, Format::SpdxJson | Format::Json));
    let input = a.source.clone();
    // Registry images are opened on the runtime; layers stream from it while the scan runs
    // on a blocking thread.
    let registry = match &spec {
        SourceSpec::Registry(r) => {
            let client = Arc::new(a.registry.client()?);
            Some(
                RegistrySource::open(client, r, &input)
                    .await
                    .with_context(|| format!("failed to open image `{r}`"))?,
            )
        }
        _ => None,
    };
    let sbom = tokio::task::spawn_blocking(move || {
        let display: &(dyn Fn(Progress) + Sync) = &show_progress;
        let opts = ScanOptions {
            scope,
            catalogers,
            limits,
            file_digests,
            progress: show.then_some(display),
        };
        match registry {
            Some(src) => sigil_sbom::scan_image(&src, &opts),
            None => sigil_sbom::scan(&input, &opts),
        }
    })
    .await
    .context("the scan thread failed")?
    .with_context(|| format!("failed to scan `{}`", a.source))?;
    if !a.quiet {
        for w in &sbom.warnings {
            eprintln!("warning: {}: {}", w.path, w.message);
        }
    }
    let ctx = RenderContext::now();
    for (format, file) in outs {
        match file {
            Some(path) => {
                let f = std::fs::File::create(&path)
                    .with_context(|| format!("failed to create `{}`", path.display()))?;
                let mut w = std::io::BufWriter::new(f);
                render_to(&sbom, format, &ctx, &mut w)
                    .and_then(|()| w.flush())
                    .with_context(|| format!("failed to write `{}`", path.display()))?;
            }
            None => {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                render_to(&sbom, format, &ctx, &mut out)
                    .and_then(|()| out.flush())
                    .context("failed to write to stdout")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
