//! Streaming one layer: every tar entry is read once, in order. Only what the catalogers need
//! is kept — the bytes of package databases and metadata files, and the *findings* of binaries
//! and archives, which are parsed on the spot and then dropped — so memory stays proportional
//! to the package metadata, not to the image.
//!
//! Hostile entries are contained here: paths are cleaned lexically (`/abs` becomes `abs`, `..`
//! that would climb above the root is refused with a warning), links are recorded as data and
//! never followed on disk, nothing is ever written, and the [`Limits`] bound bytes, entries and
//! ratio (gzip bombs).
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::catalog::{self, Found};
use crate::error::Error;
use crate::limits::Limits;
use crate::model::Warning;

/// What a kept file holds.
#[derive(Debug)]
pub(crate) enum FileData {
    /// The bytes of a metadata file a cataloger reads.
    Text(Vec<u8>),
    /// Packages found inside a binary or archive while streaming.
    Found(Found),
}

/// An entry of a layer's tree that the catalogers may need.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    File(Arc<FileData>),
    Symlink(String),
}

/// Digests and a coarse type of a regular file, for SPDX `files` (computed only when asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileDigest {
    pub sha1: String,
    pub sha256: String,
    /// SPDX file type: `BINARY` (ELF), `TEXT` or `OTHER`, sniffed from the first bytes.
    pub kind: &'static str,
}

/// What one layer adds, replaces and deletes.
#[derive(Debug, Default)]
pub(crate) struct LayerContents {
    /// Kept files and all symlinks, by clean path (no leading `/`).
    pub nodes: BTreeMap<String, Node>,
    /// Every non-directory path (kept or not): an upper file hides a lower file or directory.
    pub nondirs: Vec<String>,
    /// Paths deleted by `.wh.NAME` entries.
    pub whiteouts: Vec<String>,
    /// Directories made opaque by `.wh..wh..opq`.
    pub opaque: Vec<String>,
    pub warnings: Vec<Warning>,
    pub entries: u64,
    /// Digests of every regular file, when [`LayerBuilder::hash_files`] is on.
    pub digests: BTreeMap<String, Arc<FileDigest>>,
}

/// How a path is handled while streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Keep the bytes (bounded by `max_text_file`).
    Text,
    /// A Java archive: parse while streaming.
    Archive,
    /// Only its existence matters (dpkg `info/NAME.*` evidence).
    Marker,
    /// Anything else: sniff for an executable.
    Sniff,
}

const JAVA_EXTS: [&str; 13] = [
    ".jar", ".war", ".ear", ".par", ".sar", ".nar", ".jpi", ".hpi", ".kar", ".far", ".lpkg",
    ".rar", ".zap",
];

/// Which files are kept: the union of what the catalogers' globs match (see each cataloger).
pub(crate) fn interest(path: &str) -> Interest {
    let base = path.rsplit('/').next().unwrap_or(path);
    let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    let text = path == "etc/os-release"
        || path == "usr/lib/os-release"
        || path.ends_with("lib/dpkg/status")
        || parent.ends_with("lib/dpkg/status.d")
        || (parent.ends_with("lib/dpkg/info") && (base.ends_with(".md5sums") || base.ends_with(".conffiles")))
        || (path.starts_with("usr/share/doc/") && base == "copyright")
        || path.ends_with("lib/apk/db/installed")
        || path.ends_with("rpm/rpmdb.sqlite")
        || path.ends_with("rpm/Packages")
        || path.ends_with("rpm/Packages.db")
        // Syft's globs are `**/*dist-info/METADATA` and `**/*egg-info/PKG-INFO` (no dot needed).
        || parent.ends_with("dist-info")
        || parent.ends_with("egg-info")
        || parent.ends_with("DIST-INFO")
        || parent.ends_with("EGG-INFO")
        || base.ends_with(".egg-info")
        || base == "package.json"
        || base == "package-lock.json";
    if text {
        return Interest::Text;
    }
    if parent.ends_with("lib/dpkg/info") {
        return Interest::Marker;
    }
    let lower = base.to_ascii_lowercase();
    if JAVA_EXTS.iter().any(|e| lower.ends_with(e)) {
        return Interest::Archive;
    }
    Interest::Sniff
}

/// Cleans a tar member name into a root-relative path, or `None` if it climbs above the root.
pub(crate) fn clean_path(raw: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for seg in raw.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Resolves a link target relative to the link's directory, clamped at the root (as the
/// container runtime would resolve it inside the rootfs).
pub(crate) fn resolve_link(link_path: &str, target: &str) -> String {
    let base = if target.starts_with('/') {
        String::new()
    } else {
        link_path
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default()
    };
    let mut parts: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// Counts decompressed bytes and enforces the size and ratio limits.
struct Bounded<'a, R> {
    inner: R,
    out: u64,
    /// `out`, readable while the tar reader owns this reader.
    seen: std::rc::Rc<std::cell::Cell<u64>>,
    raw: &'a AtomicU64,
    limits: Limits,
    index: usize,
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        self.seen.set(self.out);
        let over = |what: &'static str, limit: u64| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                Error::LimitExceeded {
                    index: self.index,
                    what,
                    limit,
                },
            )
        };
        if self.out > self.limits.max_layer_bytes {
            return Err(over("uncompressed size", self.limits.max_layer_bytes));
        }
        let raw = self.raw.load(Ordering::Relaxed).max(1);
        if self.out > self.limits.ratio_grace_bytes && self.out / raw > self.limits.max_ratio {
            return Err(over("compression ratio", self.limits.max_ratio));
        }
        Ok(n)
    }
}

/// Counts raw (compressed) bytes for the ratio check.
pub(crate) struct CountRaw<'a, R> {
    pub inner: R,
    pub count: &'a AtomicU64,
}

impl<R: Read> Read for CountRaw<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Collects a layer's entries; shared by the tar reader and the `dir:` walker.
pub(crate) struct LayerBuilder {
    pub contents: LayerContents,
    limits: Limits,
    /// Hash every regular file (SPDX `files`); off unless an output needs it.
    pub hash_files: bool,
}

/// Hashes what is read through it and keeps the first bytes for sniffing.
struct Tee<'a> {
    inner: &'a mut dyn Read,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    head: Vec<u8>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(chunk) = buf.get(..n) {
            sha1::Digest::update(&mut self.sha1, chunk);
            sha2::Digest::update(&mut self.sha256, chunk);
            if self.head.len() < 512 {
                let want = (512 - self.head.len()).min(chunk.len());
                self.head
                    .extend_from_slice(chunk.get(..want).unwrap_or_default());
            }
        }
        Ok(n)
    }
}

fn sniff_kind(head: &[u8]) -> &'static str {
    if head.starts_with(b"\x7fELF") {
        "BINARY"
    } else if !head.contains(&0) && std::str::from_utf8(head).is_ok() {
        "TEXT"
    } else {
        "OTHER"
    }
}

impl LayerBuilder {
    pub(crate) fn new(limits: Limits) -> Self {
        LayerBuilder {
            contents: LayerContents::default(),
            limits,
            hash_files: false,
        }
    }

    fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.contents.warnings.push(Warning {
            path: format!("/{path}"),
            message: message.into(),
        });
    }

    /// A regular file: decides from its path and first bytes whether to keep or parse it.
    pub(crate) fn file(
        &mut self,
        path: String,
        size: u64,
        r: &mut dyn Read,
    ) -> std::io::Result<()> {
        if !self.hash_files {
            return self.file_inner(path, size, r);
        }
        let mut tee = Tee {
            inner: r,
            sha1: <sha1::Sha1 as sha1::Digest>::new(),
            sha256: <sha2::Sha256 as sha2::Digest>::new(),
            head: Vec::new(),
        };
        self.file_inner(path.clone(), size, &mut tee)?;
        // Whatever the catalogers did not read still has to be hashed.
        std::io::copy(&mut tee, &mut std::io::sink())?;
        let digest = FileDigest {
            kind: sniff_kind(&tee.head),
            sha1: hex::encode(sha1::Digest::finalize(tee.sha1)),
            sha256: hex::encode(sha2::Digest::finalize(tee.sha256)),
        };
        self.contents.digests.insert(path, Arc::new(digest));
        Ok(())
    }

    fn file_inner(&mut self, path: String, size: u64, r: &mut dyn Read) -> std::io::Result<()> {
        self.contents.nondirs.push(path.clone());
        match interest(&path) {
            Interest::Text => {
                if size > self.limits.max_text_file {
                    self.warn(
                        &path,
                        format!("skipped: {size} bytes is over the metadata file limit"),
                    );
                    return Ok(());
                }
                let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 20));
                r.take(self.limits.max_text_file).read_to_end(&mut buf)?;
                self.contents
                    .nodes
                    .insert(path, Node::File(Arc::new(FileData::Text(buf))));
            }
            Interest::Marker => {
                self.contents
                    .nodes
                    .insert(path, Node::File(Arc::new(FileData::Text(Vec::new()))));
            }
            Interest::Archive => {
                let Some(buf) = self.buffer(&path, size, r, None)? else {
                    return Ok(());
                };
                let found = catalog::java::scan_archive(&buf, &path, &self.limits, 0);
                self.keep_found(path, found);
            }
            Interest::Sniff => {
                let mut head = [0u8; 4];
                let n = read_full(r, &mut head)?;
                if n == 4 && head == *b"\x7fELF" {
                    let Some(buf) = self.buffer(&path, size, r, Some(&head))? else {
                        return Ok(());
                    };
                    let found = catalog::binary::scan_elf(&buf);
                    self.keep_found(path, found);
                }
            }
        }
        Ok(())
    }

    fn keep_found(&mut self, path: String, found: Result<Found, String>) {
        match found {
            Ok(f) if f.packages.is_empty() => {}
            Ok(f) => {
                self.contents
                    .nodes
                    .insert(path, Node::File(Arc::new(FileData::Found(f))));
            }
            Err(msg) => self.warn(&path, msg),
        }
    }

    fn buffer(
        &mut self,
        path: &str,
        size: u64,
        r: &mut dyn Read,
        head: Option<&[u8]>,
    ) -> std::io::Result<Option<Vec<u8>>> {
        if size > self.limits.max_buffered_file {
            self.warn(
                path,
                format!("skipped: {size} bytes is over the binary/archive limit"),
            );
            return Ok(None);
        }
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        if let Some(h) = head {
            buf.extend_from_slice(h);
        }
        r.take(self.limits.max_buffered_file)
            .read_to_end(&mut buf)?;
        Ok(Some(buf))
    }

    pub(crate) fn symlink(&mut self, path: String, target: String) {
        self.contents.nondirs.push(path.clone());
        self.contents.nodes.insert(path, Node::Symlink(target));
    }

    /// A hard link shares its target's content; the target must be in this layer (as in
    /// docker/containerd); anything else is a warning, never a read outside the layer.
    pub(crate) fn hardlink(&mut self, path: String, target: &str) {
        self.contents.nondirs.push(path.clone());
        let Some(t) = clean_path(target) else {
            self.warn(
                &path,
                format!("hard link to `{target}` escapes the root; ignored"),
            );
            return;
        };
        if let Some(node) = self.contents.nodes.get(&t).cloned() {
            if interest(&path) == Interest::Text
                || matches!(node, Node::File(ref d) if matches!(**d, FileData::Found(_)))
            {
                self.contents.nodes.insert(path, node);
            }
        }
    }

    pub(crate) fn whiteout(&mut self, dir: &str, name: &str) {
        let p = if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        };
        if name == ".wh..opq" {
            self.contents.opaque.push(dir.to_string());
        } else {
            self.contents.whiteouts.push(p);
        }
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or_default())? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The `tar` crate's error for a stream that ends inside the padding after an entry.
fn is_missing_tail_padding(err: &std::io::Error) -> bool {
    err.to_string().contains("unexpected EOF during skip")
}

/// Reads one layer tar stream (already decompressed by the caller's pipeline).
pub(crate) fn read_layer(
    decompressed: impl Read,
    raw_count: &AtomicU64,
    limits: Limits,
    index: usize,
    hash_files: bool,
) -> std::io::Result<LayerContents> {
    let seen = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let bounded = Bounded {
        inner: decompressed,
        out: 0,
        seen: seen.clone(),
        raw: raw_count,
        limits,
        index,
    };
    let mut ar = tar::Archive::new(bounded);
    let mut b = LayerBuilder::new(limits);
    b.hash_files = hash_files;
    // Hard links may point at entries seen earlier only, which is how tar writes them.
    let mut seen_escape: HashMap<String, ()> = HashMap::new();
    // Where the last entry's content ends in the stream: the stream may stop there (no
    // padding), but not before (truncated content is an error).
    let mut last_end = 0u64;
    for entry in ar.entries()? {
        let mut e = match entry {
            Ok(e) => e,
            // umoci 0.4 (`umoci insert`) writes layers whose last file is not padded to a
            // 512-byte block and that have no end-of-archive blocks. When the stream holds the
            // last entry's whole content, only the padding is missing. Syft (Go's archive/tar) lists such
            // layers, so do the same, with a warning, rather than failing the whole scan.
            Err(err)
                if b.contents.entries > 0
                    && seen.get() >= last_end
                    && is_missing_tail_padding(&err) =>
            {
                b.warn(
                    "",
                    "layer ends without tar padding or end-of-archive blocks; read up to there",
                );
                break;
            }
            Err(err) => return Err(err),
        };
        b.contents.entries += 1;
        last_end = e.raw_file_position().saturating_add(e.size());
        if b.contents.entries > limits.max_entries {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                Error::LimitExceeded {
                    index,
                    what: "number of entries",
                    limit: limits.max_entries,
                },
            ));
        }
        let raw_path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let Some(path) = clean_path(&raw_path) else {
            if seen_escape.insert(raw_path.clone(), ()).is_none() {
                b.warn(&raw_path, "entry path climbs above the root; ignored");
            }
            continue;
        };
        if path.is_empty() {
            continue;
        }
        let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if let Some(name) = base.strip_prefix(".wh.") {
            let dir = dir.to_string();
            b.whiteout(&dir, name);
            continue;
        }
        let ty = e.header().entry_type();
        if ty.is_dir() {
            continue;
        } else if ty.is_symlink() {
            let target = e
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            b.symlink(path, target);
        } else if ty.is_hard_link() {
            let target = e
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            b.hardlink(path, &target);
        } else if ty.is_file() || ty == tar::EntryType::Continuous {
            let size = e.size();
            b.file(path, size, &mut e)?;
        } else if ty.is_pax_global_extensions()
            || ty.is_pax_local_extensions()
            || ty.is_gnu_longname()
            || ty.is_gnu_longlink()
        {
            continue;
        } else {
            // Devices, fifos: they hide lower files of the same name like any non-directory.
            b.contents.nondirs.push(path);
        }
    }
    // Read what follows the end-of-archive marker so the blob digest can be checked.
    std::io::copy(&mut ar.into_inner(), &mut std::io::sink())?;
    Ok(b.contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_refuses_escapes() {
        assert_eq!(
            clean_path("/etc/os-release").as_deref(),
            Some("etc/os-release")
        );
        assert_eq!(clean_path("./a/../b").as_deref(), Some("b"));
        assert_eq!(clean_path("../../etc/passwd"), None);
        assert_eq!(clean_path("a/../../x"), None);
    }

    #[test]
    fn links_resolve_inside_the_root() {
        assert_eq!(resolve_link("usr/share/doc/a", "b"), "usr/share/doc/b");
        assert_eq!(
            resolve_link("usr/share/doc/a", "../../../../../../etc"),
            "etc"
        );
        assert_eq!(resolve_link("x/y", "/abs/z"), "abs/z");
    }
}
