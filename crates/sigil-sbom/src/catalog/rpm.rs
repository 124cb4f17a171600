//! rpm databases (Syft's `rpm-db-cataloger`): `**/{var/lib,usr/share,usr/lib/sysimage}/rpm/
//! rpmdb.sqlite`, the format of RHEL/Fedora/Rocky ≥ 9 and openSUSE. Each `Packages` row is an
//! rpm header blob (rpm's `lib/header.c` "header blob" layout: entry count, data length, 16-byte
//! index entries `tag, type, offset, count`, then the data store), read with
//! [`super::sqlite`]. BerkeleyDB (`Packages`) and NDB (`Packages.db`) databases of older
//! distributions are reported as a warning.
use super::sqlite::{self, Value};
use super::{Ctx, Out};
use crate::model::{Package, PackageType};
use crate::purl::purl;

const FOUND_BY: &str = "rpm-db-cataloger";

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_VENDOR: u32 = 1011;
const TAG_LICENSE: u32 = 1014;
const TAG_URL: u32 = 1020;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

/// The header fields the SBOM uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RpmHeader {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<i32>,
    pub arch: String,
    pub license: String,
    pub vendor: String,
    pub url: String,
    pub source_rpm: String,
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *s.first()?,
        *s.get(1)?,
        *s.get(2)?,
        *s.get(3)?,
    ]))
}

/// Parses a header blob as rpm stores it in the database (no lead, no magic).
pub(crate) fn parse_header(blob: &[u8]) -> Result<RpmHeader, String> {
    let il = be32(blob, 0).ok_or("truncated header")? as usize;
    let dl = be32(blob, 4).ok_or("truncated header")? as usize;
    // rpm's own sanity limits (hdrblobInit): 0xffff entries, 256 MiB of data.
    if il == 0 || il > 0xffff || dl > 256 << 20 {
        return Err(format!("implausible header ({il} entries, {dl} bytes)"));
    }
    let data_start = 8 + il * 16;
    let data = blob
        .get(data_start..data_start + dl)
        .ok_or("header data past the end of the blob")?;
    let mut h = RpmHeader::default();
    for i in 0..il {
        let e = 8 + i * 16;
        let (Some(tag), Some(ty), Some(off), Some(count)) = (
            be32(blob, e),
            be32(blob, e + 4),
            be32(blob, e + 8),
            be32(blob, e + 12),
        ) else {
            return Err("truncated index".into());
        };
        let off = off as usize;
        let string = || -> Option<String> {
            if ty != TYPE_STRING && ty != TYPE_I18NSTRING {
                return None;
            }
            let s = data.get(off..)?;
            let end = s.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(s.get(..end)?).into_owned())
        };
        match tag {
            TAG_NAME => h.name = string().unwrap_or_default(),
            TAG_VERSION => h.version = string().unwrap_or_default(),
            TAG_RELEASE => h.release = string().unwrap_or_default(),
            TAG_ARCH => h.arch = string().unwrap_or_default(),
            TAG_LICENSE => h.license = string().unwrap_or_default(),
            TAG_VENDOR => h.vendor = string().unwrap_or_default(),
            TAG_URL => h.url = string().unwrap_or_default(),
            TAG_SOURCERPM => h.source_rpm = string().unwrap_or_default(),
            TAG_EPOCH if ty == TYPE_INT32 && count >= 1 => {
                h.epoch = be32(data, off).map(|v| v as i32);
            }
            _ => {}
        }
    }
    if h.name.is_empty() {
        return Err("header has no name".into());
    }
    Ok(h)
}

fn is_rpmdb(path: &str, file: &str) -> bool {
    ["var/lib/rpm/", "usr/share/rpm/", "usr/lib/sysimage/rpm/"]
        .iter()
        .any(|d| path.ends_with(&format!("{d}{file}")))
}

pub(crate) fn catalog(ctx: &Ctx, out: &mut Out) {
    let dbs: Vec<(String, usize)> = ctx
        .view
        .files()
        .filter(|(p, _, _)| is_rpmdb(p, "rpmdb.sqlite"))
        .map(|(p, l, _)| (p.to_string(), l))
        .collect();
    for (path, layer) in dbs {
        let Some((_, bytes, _)) = ctx.view.text(&path) else {
            continue;
        };
        let rows = match sqlite::Db::open(bytes).and_then(|db| db.table("Packages")) {
            Ok(r) => r,
            Err(e) => {
                out.warn(&path, format!("unreadable rpm database: {e}"));
                continue;
            }
        };
        let mut bad = 0usize;
        for row in rows {
            let blob = match sqlite::record(&row)
                .ok()
                .and_then(|cols| cols.into_iter().nth(1))
            {
                Some(Value::Blob(b)) => b.to_vec(),
                _ => {
                    bad += 1;
                    continue;
                }
            };
            let h = match parse_header(&blob) {
                Ok(h) => h,
                Err(_) => {
                    bad += 1;
                    continue;
                }
            };
            // Syft writes `[epoch:]version-release`; the purl carries the epoch as a qualifier.
            let evr = match h.epoch {
                Some(e) => format!("{e}:{}-{}", h.version, h.release),
                None => format!("{}-{}", h.version, h.release),
            };
            let mut p = Package::new(PackageType::Rpm, FOUND_BY, &h.name, &evr);
            let ns = match ctx.distro.map(|d| d.id.as_str()) {
                Some("rhel") => "redhat".to_string(),
                Some(id) => id.to_string(),
                None => String::new(),
            };
            let mut q = vec![("arch", h.arch.clone()), ("upstream", h.source_rpm.clone())];
            if let Some(dq) = ctx.distro.and_then(|d| d.qualifier()) {
                q.push(("distro", dq));
            }
            if let Some(e) = h.epoch {
                q.push(("epoch", e.to_string()));
            }
            p.purl = purl(
                "rpm",
                &ns,
                &h.name,
                &format!("{}-{}", h.version, h.release),
                &q,
                "",
            );
            if !h.license.is_empty() {
                p.licenses.push(h.license.clone());
            }
            if !h.vendor.is_empty() {
                p.originator = Some(format!("Organization: {}", h.vendor));
            }
            if !h.url.is_empty() {
                p.homepage = Some(h.url.clone());
            }
            p.locations.push(ctx.loc(layer, &path));
            out.push(p);
        }
        if bad > 0 {
            out.warn(&path, format!("{bad} unreadable package header(s) skipped"));
        }
    }
    for (p, _, _) in ctx.view.files() {
        if is_rpmdb(p, "Packages") || is_rpmdb(p, "Packages.db") {
            out.warn(
                p,
                "BerkeleyDB/NDB rpm databases are not read; rpm packages from it are missing",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header blob with the given string tags and an epoch.
    pub(crate) fn header(tags: &[(u32, &str)], epoch: Option<u32>) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, s) in tags {
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&TYPE_STRING.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(s.as_bytes());
            data.push(0);
        }
        if let Some(e) = epoch {
            while data.len() % 4 != 0 {
                data.push(0);
            }
            index.extend_from_slice(&TAG_EPOCH.to_be_bytes());
            index.extend_from_slice(&TYPE_INT32.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(&e.to_be_bytes());
        }
        let mut out = ((index.len() / 16) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn parses_header_blob() {
        let b = header(
            &[
                (TAG_NAME, "bash"),
                (TAG_VERSION, "5.1.8"),
                (TAG_RELEASE, "9.el9"),
                (TAG_ARCH, "x86_64"),
                (TAG_SOURCERPM, "bash-5.1.8-9.el9.src.rpm"),
            ],
            Some(1),
        );
        let h = parse_header(&b);
        assert_eq!(
            h.as_ref().map(|h| (h.name.as_str(), h.epoch)),
            Ok(("bash", Some(1)))
        );
        for cut in 0..b.len() {
            let _ = parse_header(b.get(..cut).unwrap_or_default());
        }
        assert!(parse_header(&[0xff; 16]).is_err());
    }
}
