//! Output documents: SPDX 2.3 JSON, CycloneDX 1.6 JSON, a table for people, and sigil's own JSON.
use crate::model::{Package, Sbom};

pub(crate) mod cyclonedx;
pub(crate) mod spdx;
pub(crate) mod table;

/// An output format (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    SpdxJson,
    CyclonedxJson,
    Table,
    /// sigil's own JSON: the [`Sbom`] model as is (not Syft's JSON schema).
    Json,
}

impl Format {
    /// Parses a format name as Syft spells it.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "spdx-json" | "spdx" => Some(Format::SpdxJson),
            "cyclonedx-json" | "cyclonedx" => Some(Format::CyclonedxJson),
            "syft-table" | "table" => Some(Format::Table),
            "json" | "sigil-json" => Some(Format::Json),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Format::SpdxJson => "spdx-json",
            Format::CyclonedxJson => "cyclonedx-json",
            Format::Table => "syft-table",
            Format::Json => "json",
        }
    }
}

/// What varies between runs: the time stamp and the random namespace/serial number. Passing
/// them in keeps rendering a pure function (tests pin them).
#[derive(Debug, Clone)]
pub struct RenderContext {
    /// RFC 3339 UTC, seconds precision (`2026-11-26T04:00:00Z`).
    pub created: String,
    /// A random UUID (v4) string.
    pub uuid: String,
    /// `sigil-<version>`.
    pub tool_version: String,
}

impl RenderContext {
    /// The current time and a fresh random UUID.
    pub fn now() -> RenderContext {
        let created = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
        RenderContext {
            created,
            uuid: uuid_v4(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

fn uuid_v4() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    // A failing system RNG leaves zeros; the namespace is then not unique but still valid.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or(""),
        h.get(8..12).unwrap_or(""),
        h.get(12..16).unwrap_or(""),
        h.get(16..20).unwrap_or(""),
        h.get(20..32).unwrap_or("")
    )
}

/// Renders `sbom` in `format`.
pub fn render(sbom: &Sbom, format: Format, ctx: &RenderContext) -> String {
    match format {
        Format::SpdxJson => spdx::render(sbom, ctx),
        Format::CyclonedxJson => cyclonedx::render(sbom, ctx),
        Format::Table => table::render(sbom),
        Format::Json => serde_json::to_string_pretty(sbom).unwrap_or_default() + "\n",
    }
}

/// Writes `sbom` in `format` to `w` (large SPDX documents are streamed, not built in memory).
pub fn render_to(
    sbom: &Sbom,
    format: Format,
    ctx: &RenderContext,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::SpdxJson => spdx::write(sbom, ctx, w),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, sbom)?;
            w.write_all(b"\n")
        }
        _ => w.write_all(render(sbom, format, ctx).as_bytes()),
    }
}

/// Characters outside `[A-Za-z0-9.-]` become `-` (SPDX ids allow only these).
pub(crate) fn id_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The lower-cased last path element of the source name, for purls and namespaces.
pub(crate) fn short_name(sbom: &Sbom) -> String {
    let n = sbom.source.name.trim_end_matches('/');
    let n = n.rsplit('/').next().unwrap_or(n);
    let n = n.split(['@', ':']).next().unwrap_or(n);
    let s = id_safe(&n.to_ascii_lowercase());
    if s.is_empty() {
        "image".into()
    } else {
        s
    }
}

pub(crate) fn package_ref(p: &Package) -> String {
    format!(
        "SPDXRef-Package-{}-{}-{}",
        p.kind.as_str(),
        id_safe(&p.name),
        p.id
    )
}
