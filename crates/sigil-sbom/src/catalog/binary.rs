//! Executables, parsed while their bytes stream past (see [`crate::layer`]):
//! - Go build info (Go's `debug/buildinfo`; Syft's `go-module-binary-cataloger`): the
//!   `.go.buildinfo` section, a 32-byte header `\xff Go buildinf:` + pointer size + flags, then
//!   (flags & 2, Go ≥ 1.18) two uvarint-prefixed strings: the Go version and the module info
//!   (`path`, `mod`, `dep`, `=>`, `build` lines between 16-byte sentinels).
//! - Rust dependency lists embedded by cargo-auditable (`.dep-v0`: zlib-compressed JSON
//!   `{"packages":[{name,version,source,kind,dependencies,root}]}`; Syft's
//!   `cargo-auditable-binary-cataloger`).
//!
//! The ELF reader is hand-written (about 60 lines) because only section lookup is needed; a
//! general object crate would add far more code than it saves. Go binaries older than 1.18
//! (pointer-format build info) are reported as a warning, not parsed.
use std::io::Read;

use super::Found;
use crate::model::{Package, PackageType};
use crate::purl::{golang, purl};

struct Elf<'a> {
    data: &'a [u8],
    le: bool,
    is64: bool,
}

impl<'a> Elf<'a> {
    fn parse(data: &'a [u8]) -> Option<Elf<'a>> {
        if data.get(..4)? != b"\x7fELF" {
            return None;
        }
        let is64 = *data.get(4)? == 2;
        let le = *data.get(5)? == 1;
        Some(Elf { data, le, is64 })
    }
    fn uint(&self, off: usize, len: usize) -> Option<u64> {
        let b = self.data.get(off..off.checked_add(len)?)?;
        let mut v = 0u64;
        for i in 0..len {
            let byte = u64::from(*b.get(if self.le { len - 1 - i } else { i })?);
            v = (v << 8) | byte;
        }
        Some(v)
    }
    /// `(name offset, type, file offset, size)` of every section.
    fn sections(&self) -> Option<Vec<(u64, u64, u64, u64)>> {
        let (shoff, shentsize, shnum) = if self.is64 {
            (
                self.uint(0x28, 8)?,
                self.uint(0x3A, 2)?,
                self.uint(0x3C, 2)?,
            )
        } else {
            (
                self.uint(0x20, 4)?,
                self.uint(0x2E, 2)?,
                self.uint(0x30, 2)?,
            )
        };
        let mut out = Vec::new();
        for i in 0..shnum.min(4096) {
            let base = usize::try_from(shoff.checked_add(i.checked_mul(shentsize)?)?).ok()?;
            let s = if self.is64 {
                (
                    self.uint(base, 4)?,
                    self.uint(base + 4, 4)?,
                    self.uint(base + 24, 8)?,
                    self.uint(base + 32, 8)?,
                )
            } else {
                (
                    self.uint(base, 4)?,
                    self.uint(base + 4, 4)?,
                    self.uint(base + 16, 4)?,
                    self.uint(base + 20, 4)?,
                )
            };
            out.push(s);
        }
        Some(out)
    }
    fn section(&self, want: &str) -> Option<&'a [u8]> {
        let secs = self.sections()?;
        let strndx = usize::try_from(if self.is64 {
            self.uint(0x3E, 2)?
        } else {
            self.uint(0x32, 2)?
        })
        .ok()?;
        let (_, _, str_off, str_size) = *secs.get(strndx)?;
        let strtab = self.slice(str_off, str_size)?;
        for (name, ty, off, size) in secs {
            const SHT_NOBITS: u64 = 8;
            let n = strtab.get(usize::try_from(name).ok()?..)?;
            let end = n.iter().position(|&b| b == 0).unwrap_or(n.len());
            if n.get(..end)? == want.as_bytes() && ty != SHT_NOBITS {
                return self.slice(off, size);
            }
        }
        None
    }
    fn slice(&self, off: u64, size: u64) -> Option<&'a [u8]> {
        let off = usize::try_from(off).ok()?;
        let end = off.checked_add(usize::try_from(size).ok()?)?;
        self.data.get(off..end)
    }
}

/// Parses an ELF file for Go and Rust dependency data. `Ok` with no packages for other binaries.
pub(crate) fn scan_elf(data: &[u8]) -> Result<Found, String> {
    let Some(elf) = Elf::parse(data) else {
        return Ok(Found::default());
    };
    let mut found = Found::default();
    if let Some(sec) = elf.section(".go.buildinfo") {
        go_buildinfo(sec, &mut found)?;
    } else if let Some(pos) = memchr::memmem::find(data, GO_MAGIC) {
        // Some linkers drop the section name; Go itself then scans the data segment.
        if pos % 16 == 0 {
            go_buildinfo(data.get(pos..).unwrap_or_default(), &mut found)?;
        }
    }
    if let Some(sec) = elf.section(".dep-v0") {
        rust_audit(sec, &mut found)?;
    }
    Ok(found)
}

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn varstr(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, n) = uvarint(b)?;
    let start = n;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    Some((b.get(start..end)?, b.get(end..)?))
}

struct GoModule {
    path: String,
    version: String,
    sum: String,
}

fn go_buildinfo(sec: &[u8], found: &mut Found) -> Result<(), String> {
    if !sec.starts_with(GO_MAGIC) || sec.len() < 32 {
        return Ok(());
    }
    let flags = sec.get(15).copied().unwrap_or(0);
    if flags & 2 == 0 {
        return Err("Go build info in the pre-1.18 pointer format is not supported".into());
    }
    let rest = sec.get(32..).unwrap_or_default();
    let (version, rest) = varstr(rest).ok_or("truncated Go build info")?;
    let (modinfo, _) = varstr(rest).ok_or("truncated Go build info")?;
    let mut modinfo = modinfo;
    if modinfo.len() >= 33 && modinfo.get(modinfo.len() - 17) == Some(&b'\n') {
        modinfo = modinfo.get(16..modinfo.len() - 16).unwrap_or_default();
    }
    let version = String::from_utf8_lossy(version).into_owned();
    let modinfo = String::from_utf8_lossy(modinfo);
    let mut main: Option<GoModule> = None;
    let mut deps: Vec<GoModule> = Vec::new();
    let mut settings: Vec<(String, String)> = Vec::new();
    for line in modinfo.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("").to_string();
        match f.first().copied() {
            Some("mod") => {
                main = Some(GoModule {
                    path: get(1),
                    version: get(2),
                    sum: get(3),
                })
            }
            Some("dep") => deps.push(GoModule {
                path: get(1),
                version: get(2),
                sum: get(3),
            }),
            Some("=>") => {
                // A replace directive applies to the module just above it. Syft 1.18.1 reports
                // the replacement even when it is a local path (`./dep`, version `(devel)`).
                if let Some(last) = deps.last_mut() {
                    last.path = get(1);
                    last.version = match get(2) {
                        v if v.is_empty() => "(devel)".to_string(),
                        v => v,
                    };
                    last.sum = get(3);
                }
            }
            Some("build") => {
                if let Some((k, v)) = get(1).split_once('=') {
                    settings.push((k.to_string(), v.to_string()));
                }
            }
            _ => {}
        }
    }
    let setting = |k: &str| {
        settings
            .iter()
            .find(|(sk, _)| sk == k)
            .map(|(_, v)| v.as_str())
    };
    let main_index = main.map(|m| {
        let mut v = m.version.clone();
        if v == "(devel)" || v.is_empty() {
            if let Some(ld) = setting("-ldflags").and_then(ldflags_version) {
                v = ld;
            } else if let (Some(rev), Some(t)) = (setting("vcs.revision"), setting("vcs.time")) {
                v = pseudo_version(rev, t).unwrap_or(v);
            }
        }
        found.packages.push(go_pkg(&m.path, &v, &m.sum));
        found.packages.len() - 1
    });
    for d in deps {
        if d.path.is_empty() {
            continue;
        }
        found.packages.push(go_pkg(&d.path, &d.version, &d.sum));
        if let Some(m) = main_index {
            found.edges.push((found.packages.len() - 1, m));
        }
    }
    if let Some(std_ver) = version.strip_prefix("go") {
        let std_ver = std_ver.split([' ', '+']).next().unwrap_or(std_ver);
        let mut p = Package::new(
            PackageType::GoModule,
            "go-module-binary-cataloger",
            "stdlib",
            &version,
        );
        p.purl = purl("golang", "", "stdlib", std_ver, &[], "");
        p.licenses.push("BSD-3-Clause".into());
        found.packages.push(p);
        if let Some(m) = main_index {
            found.edges.push((found.packages.len() - 1, m));
        }
    }
    Ok(())
}

fn go_pkg(path: &str, version: &str, sum: &str) -> Package {
    let mut p = Package::new(
        PackageType::GoModule,
        "go-module-binary-cataloger",
        path,
        version,
    );
    p.purl = golang(path, version);
    if let Some(h) = sum.strip_prefix("h1:") {
        use base64::Engine;
        if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(h) {
            p.checksums.push(("SHA256".into(), hex::encode(b)));
        }
    }
    p
}

/// `-X main.version=1.2.3` (or `…/version.Version=v1.2.3`) → `v1.2.3`, as Syft's default
/// ldflags heuristic reads it.
fn ldflags_version(ld: &str) -> Option<String> {
    let toks: Vec<&str> = ld
        .split_whitespace()
        .map(|t| t.trim_matches(['"', '\'']))
        .collect();
    for w in toks.windows(2) {
        if let [flag, kv] = w {
            if *flag != "-X" {
                continue;
            }
            let (k, v) = kv.split_once('=')?;
            let last = k.rsplit('.').next().unwrap_or(k).to_ascii_lowercase();
            if (last == "version" || last == "gitversion" || last == "buildversion")
                && !v.is_empty()
            {
                let v = v.trim_matches(['"', '\'']);
                return Some(if v.starts_with('v') {
                    v.to_string()
                } else {
                    format!("v{v}")
                });
            }
        }
    }
    None
}

/// `v0.0.0-YYYYMMDDhhmmss-<12 hex>` from the VCS stamp (Go's module.PseudoVersion).
fn pseudo_version(rev: &str, time: &str) -> Option<String> {
    let digits: String = time.chars().filter(char::is_ascii_digit).take(14).collect();
    if digits.len() != 14 || rev.len() < 12 {
        return None;
    }
    Some(format!("v0.0.0-{digits}-{}", rev.get(..12)?))
}

#[derive(serde::Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    dependencies: Vec<usize>,
}

#[derive(serde::Deserialize)]
struct Audit {
    packages: Vec<AuditPackage>,
}

/// Most `.dep-v0` payloads are a few KiB; this bounds a hostile one.
const MAX_AUDIT_JSON: u64 = 8 << 20;

fn rust_audit(sec: &[u8], found: &mut Found) -> Result<(), String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(sec)
        .take(MAX_AUDIT_JSON)
        .read_to_end(&mut json)
        .map_err(|e| format!("corrupt .dep-v0 section: {e}"))?;
    let audit: Audit =
        serde_json::from_slice(&json).map_err(|e| format!("invalid .dep-v0 JSON: {e}"))?;
    let base = found.packages.len();
    let mut index = vec![None; audit.packages.len()];
    for (i, a) in audit.packages.iter().enumerate() {
        if a.kind.as_deref().is_some_and(|k| k != "runtime") {
            continue;
        }
        let mut p = Package::new(
            PackageType::RustCrate,
            "cargo-auditable-binary-cataloger",
            &a.name,
            &a.version,
        );
        p.purl = purl("cargo", "", &a.name, &a.version, &[], "");
        found.packages.push(p);
        if let Some(slot) = index.get_mut(i) {
            *slot = Some(found.packages.len() - 1);
        }
    }
    let _ = base;
    for (i, a) in audit.packages.iter().enumerate() {
        let Some(Some(dependent)) = index.get(i).copied() else {
            continue;
        };
        for d in &a.dependencies {
            if let Some(Some(dep)) = index.get(*d).copied() {
                found.edges.push((dep, dependent));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = n as u64;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    /// A synthetic `.go.buildinfo` blob in the Go ≥ 1.18 inline format.
    pub(crate) fn go_blob(modinfo: &str) -> Vec<u8> {
        let mut b = GO_MAGIC.to_vec();
        b.push(8);
        b.push(2);
        b.resize(32, 0);
        let v = b"go1.19.8";
        b.extend(varint(v.len()));
        b.extend_from_slice(v);
        let mut m = vec![0x30u8; 16];
        m.extend_from_slice(modinfo.as_bytes());
        m.extend_from_slice(&[0xf9; 16]);
        b.extend(varint(m.len()));
        b.extend(m);
        b
    }

    #[test]
    fn parses_inline_go_buildinfo() {
        let info = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgithub.com/pierrec/lz4/v4\tv4.1.21\th1:AAAA\ndep\tgolang.org/x/sys\tv0.1.0\th1:AAAA\n=>\tgolang.org/x/sys\tv0.2.0\th1:AAAA\nbuild\t-ldflags=\"-X main.version=1.2.3\"\n";
        let mut found = Found::default();
        assert!(go_buildinfo(&go_blob(info), &mut found).is_ok());
        let names: Vec<(String, String, String)> = found
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.purl.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                (
                    "example.com/app".into(),
                    "v1.2.3".into(),
                    "pkg:golang/example.com/app@v1.2.3".into()
                ),
                (
                    "github.com/pierrec/lz4/v4".into(),
                    "v4.1.21".into(),
                    "pkg:golang/github.com/pierrec/lz4@v4.1.21#v4".into()
                ),
                (
                    "golang.org/x/sys".into(),
                    "v0.2.0".into(),
                    "pkg:golang/golang.org/x/sys@v0.2.0".into()
                ),
                (
                    "stdlib".into(),
                    "go1.19.8".into(),
                    "pkg:golang/stdlib@1.19.8".into()
                ),
            ]
        );
        assert_eq!(found.edges, vec![(1, 0), (2, 0), (3, 0)]);
    }

    #[test]
    fn truncated_go_buildinfo_is_an_error_not_a_panic() {
        let blob = go_blob("mod\tx\tv1\t\n");
        for cut in 0..blob.len() {
            let mut f = Found::default();
            let _ = go_buildinfo(blob.get(..cut).unwrap_or_default(), &mut f);
        }
        assert!(scan_elf(b"\x7fELF\x02\x01garbage").is_ok());
    }

    #[test]
    fn rust_audit_keeps_runtime_crates() {
        let json = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","dependencies":[1,2],"root":true},{"name":"serde","version":"1.0.0","source":"crates.io"},{"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = std::io::Write::write_all(&mut z, json);
        let sec = z.finish().unwrap_or_default();
        let mut found = Found::default();
        assert!(rust_audit(&sec, &mut found).is_ok());
        let purls: Vec<&str> = found.packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(purls, vec!["pkg:cargo/app@0.1.0", "pkg:cargo/serde@1.0.0"]);
        assert_eq!(found.edges, vec![(1, 0)]);
    }
}
