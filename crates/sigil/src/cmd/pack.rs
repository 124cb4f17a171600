//! `sigil pack`: build an OCI image from files and directories, optionally on a base image,
//! push it and print its digest. No container engine; reproducible (see
//! `sigil_oci::pack`): the same files and flags give the same digest, on any machine.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use sigil_core::{Digest, ImageRef};
use sigil_oci::pack::{self, ImageSettings, PackFile};

use super::registry_opts::RegistryOpts;

#[derive(Debug, Clone, clap::Args)]
pub struct PackArgs {
    /// A file or directory to put in the image, at DEST (default: `/` + its name). A DEST
    /// ending in `/` is a directory the file goes into. Repeatable.
    #[arg(long = "file", value_name = "SRC[:DEST]", required = true)]
    pub files: Vec<String>,
    /// A base image to build on (its layers are reused by digest, its config inherited).
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    /// The entrypoint: a JSON array (`["/server","--port","8080"]`) or one program path.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// The default arguments: a JSON array or one word.
    #[arg(long)]
    pub cmd: Option<String>,
    /// An environment variable of the image. Repeatable.
    #[arg(long, value_name = "KEY=VALUE", value_parser = super::parse_key_value)]
    pub env: Vec<(String, String)>,
    /// A port the image listens on: `8080`, `8080/tcp`, `53/udp`. Repeatable.
    #[arg(long, value_name = "PORT[/PROTO]")]
    pub expose: Vec<String>,
    /// The working directory of the image's process.
    #[arg(long)]
    pub workdir: Option<String>,
    /// A label of the image's config. Repeatable.
    #[arg(long, value_name = "KEY=VALUE", value_parser = super::parse_key_value)]
    pub label: Vec<(String, String)>,
    /// Where to push: `REGISTRY/REPO:TAG` (or a bare repository: pushed by digest only).
    #[arg(long, value_name = "REF")]
    pub tag: String,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

/// What a pack produced.
#[derive(Debug, Clone)]
pub struct Packed {
    pub image: ImageRef,
    pub digest: Digest,
    pub layers: usize,
    pub layer_size: u64,
}

/// A JSON array of strings, or one string taken as a single word.
fn words(flag: &str, s: &str) -> anyhow::Result<Vec<String>> {
    if s.trim_start().starts_with('[') {
        serde_json::from_str(s)
            .with_context(|| format!("--{flag} `{s}` is not a JSON array of strings"))
    } else {
        Ok(vec![s.to_owned()])
    }
}

/// Builds and pushes the image `a` describes.
pub async fn pack(a: &PackArgs) -> anyhow::Result<Packed> {
    let target: ImageRef = a
        .tag
        .parse()
        .with_context(|| format!("--tag `{}` is not an image reference", a.tag))?;
    if target.digest().is_some() {
        anyhow::bail!(
            "--tag `{}` names a digest; give a tag (the digest is computed)",
            a.tag
        );
    }
    let files = a
        .files
        .iter()
        .map(|f| PackFile::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut settings = ImageSettings::for_host();
    settings.entrypoint = a
        .entrypoint
        .as_deref()
        .map(|s| words("entrypoint", s))
        .transpose()?;
    settings.cmd = a.cmd.as_deref().map(|s| words("cmd", s)).transpose()?;
    settings.env = a.env.clone();
    settings.expose = a.expose.clone();
    settings.workdir = a.workdir.clone();
    settings.labels = a.label.iter().cloned().collect::<BTreeMap<_, _>>();

    let layer = pack::build_layer(&files, settings.epoch).context("building the layer")?;
    let client = a.registry.client()?;
    let base = match &a.base {
        None => None,
        Some(b) => {
            let base: ImageRef = b
                .parse()
                .with_context(|| format!("--base `{b}` is not an image reference"))?;
            Some(
                pack::fetch_base(&client, &base, &settings.os, &settings.architecture)
                    .await
                    .with_context(|| format!("fetching the base image `{b}`"))?,
            )
        }
    };
    let built = pack::build_image(&settings, base.as_ref(), &layer)?;
    let digest = pack::push(&client, &target, base.as_ref(), &layer, &built)
        .await
        .with_context(|| format!("pushing `{target}`"))?;
    Ok(Packed {
        image: target,
        digest,
        layers: built.layers.len(),
        layer_size: layer.descriptor.size,
    })
}

pub async fn run(a: PackArgs) -> anyhow::Result<ExitCode> {
    let p = pack(&a).await?;
    eprintln!(
        "Pushed {}@{} ({} layer{}, new layer {} bytes)",
        p.image.name(),
        p.digest,
        p.layers,
        if p.layers == 1 { "" } else { "s" },
        p.layer_size
    );
    println!("{}", p.digest);
    Ok(ExitCode::SUCCESS)
}
