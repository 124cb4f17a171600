//! A scan from start to finish: open the source, stream its layers in parallel (one thread per
//! core, each layer read once), squash, run the catalogers, and merge identical findings.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::catalog::{self, CatalogerSet};
use crate::error::Error;
use crate::layer::{self, LayerBuilder, LayerContents};
use crate::limits::Limits;
use crate::model::{FileEntry, Package, Sbom, SourceInfo, SourceKind};
use crate::source::{self, DockerArchive, ImageSource, OciArchive, OciDir, SourceSpec};
use crate::tree::View;

/// Which files count (Syft's `--scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Only what the final image shows.
    #[default]
    Squashed,
    /// Everything any layer ever added, including files deleted later.
    AllLayers,
}

/// Progress of a scan, for a display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// `done` of `total` layers have been read.
    Layers { done: usize, total: usize },
    /// Cataloging finished with this many packages.
    Packages(usize),
}

/// How to scan.
#[derive(Clone, Copy, Default)]
pub struct ScanOptions<'a> {
    pub scope: Scope,
    /// `None`: `Image` for images, `Directory` for `dir:` (as Syft chooses).
    pub catalogers: Option<CatalogerSet>,
    pub limits: Limits,
    /// Hash every file while streaming so package-owned files can be listed with SHA-1 and
    /// SHA-256 (SPDX `files`, as Syft writes them). Costs one pass of hashing over the image.
    pub file_digests: bool,
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
}

impl std::fmt::Debug for ScanOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanOptions")
            .field("scope", &self.scope)
            .field("catalogers", &self.catalogers)
            .field("limits", &self.limits)
            .field("file_digests", &self.file_digests)
            .finish()
    }
}

/// Scans a local source given as Syft writes it (`oci-dir:`, `oci-archive:`, `docker-archive:`,
/// `dir:`). Registry references need a network client: open a source for them and call
/// [`scan_image`].
pub fn scan(input: &str, opts: &ScanOptions) -> Result<Sbom, Error> {
    match SourceSpec::parse(input)? {
        SourceSpec::OciDir(p) => scan_image(&OciDir::open(Path::new(&p), input)?, opts),
        SourceSpec::OciArchive(p) => scan_image(&OciArchive::open(Path::new(&p), input)?, opts),
        SourceSpec::DockerArchive(p) => {
            scan_image(&DockerArchive::open(Path::new(&p), input)?, opts)
        }
        SourceSpec::Dir(p) => scan_dir(Path::new(&p), input, opts),
        SourceSpec::Registry(r) => Err(Error::Registry {
            reference: r,
            source: "this entry point reads local sources only".into(),
        }),
    }
}

fn unwrap_io(index: usize, digest: &str, e: std::io::Error) -> Error {
    if e.get_ref().is_some_and(|x| x.is::<Error>()) {
        if let Some(inner) = e.into_inner() {
            if let Ok(err) = inner.downcast::<Error>() {
                return *err;
            }
            return Error::Layer {
                index,
                digest: digest.to_string(),
                source: std::io::Error::other("layer read failed"),
            };
        }
        return Error::Layer {
            index,
            digest: digest.to_string(),
            source: std::io::Error::other("layer read failed"),
        };
    }
    Error::Layer {
        index,
        digest: digest.to_string(),
        source: e,
    }
}

fn read_one(
    src: &dyn ImageSource,
    index: usize,
    limits: Limits,
    hash_files: bool,
) -> Result<LayerContents, Error> {
    let desc = src
        .layers()
        .get(index)
        .ok_or_else(|| Error::invalid("layer", format!("no layer {index}")))?;
    let shown = desc.digest.clone().unwrap_or_else(|| desc.diff_id.clone());
    let raw = src.open_layer(index)?;
    let count = AtomicU64::new(0);
    let (verifying, handle) = source::verifying(raw, desc.digest.as_deref());
    let counted = layer::CountRaw {
        inner: verifying,
        count: &count,
    };
    let result = source::decompress(counted)
        .and_then(|(_, dec)| layer::read_layer(dec, &count, limits, index, hash_files));
    let contents = result.map_err(|e| unwrap_io(index, &shown, e))?;
    handle.finish().map_err(|e| unwrap_io(index, &shown, e))?;
    Ok(contents)
}

/// Scans an image source.
pub fn scan_image(src: &dyn ImageSource, opts: &ScanOptions) -> Result<Sbom, Error> {
    let total = src.layers().len();
    let results: Mutex<Vec<Option<Result<LayerContents, Error>>>> =
        Mutex::new((0..total).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(total.max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    break;
                }
                let r = read_one(src, i, opts.limits, opts.file_digests);
                if let Ok(mut slots) = results.lock() {
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = Some(r);
                    }
                }
                let d = done.fetch_add(1, Ordering::SeqCst) + 1;
                if let Some(p) = opts.progress {
                    p(Progress::Layers { done: d, total });
                }
            });
        }
    });
    let slots = results
        .into_inner()
        .map_err(|_| Error::invalid("layers", "a layer reader panicked"))?;
    let mut layers = Vec::with_capacity(total);
    for (i, r) in slots.into_iter().enumerate() {
        layers.push(r.ok_or_else(|| Error::invalid("layers", format!("layer {i} was not read")))??);
    }
    let set = opts.catalogers.unwrap_or(CatalogerSet::Image);
    Ok(finish(src.info().clone(), &layers, opts, set))
}

/// Scans a directory as a one-layer tree (nothing outside it is read; symlinks are recorded,
/// not followed).
pub fn scan_dir(root: &Path, input: &str, opts: &ScanOptions) -> Result<Sbom, Error> {
    let meta = std::fs::symlink_metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::invalid(
            root.display().to_string(),
            "not a directory",
        ));
    }
    let mut b = LayerBuilder::new(opts.limits);
    b.hash_files = opts.file_digests;
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                b.contents.warnings.push(crate::model::Warning {
                    path: format!("/{rel}"),
                    message: format!("unreadable directory: {e}"),
                });
                continue;
            }
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push((e.path(), path));
            } else if ft.is_symlink() {
                let target = std::fs::read_link(e.path())
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                b.symlink(path, target);
            } else if ft.is_file() {
                let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                match std::fs::File::open(e.path()) {
                    // Bounded by the size `stat` gave: pseudo-files (`/proc/kcore`) never end.
                    Ok(f) => b
                        .file(path, size, &mut std::io::Read::take(f, size))
                        .map_err(|err| Error::io(e.path(), err))?,
                    Err(err) => b.contents.warnings.push(crate::model::Warning {
                        path: format!("/{path}"),
                        message: format!("unreadable file: {err}"),
                    }),
                }
            }
        }
    }
    let info = SourceInfo {
        input: input.to_string(),
        name: root.display().to_string(),
        kind: SourceKind::Directory,
        layers: vec![String::new()],
        ..SourceInfo::default()
    };
    let set = opts.catalogers.unwrap_or(CatalogerSet::Directory);
    if let Some(p) = opts.progress {
        p(Progress::Layers { done: 1, total: 1 });
    }
    Ok(finish(info, &[b.contents], opts, set))
}

/// Squashes, catalogs and merges.
fn finish(
    info: SourceInfo,
    layers: &[LayerContents],
    opts: &ScanOptions,
    set: CatalogerSet,
) -> Sbom {
    let diff_ids: Vec<String> = info.layers.clone();
    let mut views = Vec::new();
    let mut view = View::default();
    for (i, l) in layers.iter().enumerate() {
        view.apply(i, l);
        if opts.scope == Scope::AllLayers || i + 1 == layers.len() {
            views.push(view.clone());
        }
    }
    let mut merged: BTreeMap<String, Package> = BTreeMap::new();
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    let mut warnings = Vec::new();
    let mut distro = None;
    for l in layers {
        warnings.extend(l.warnings.iter().cloned());
    }
    for v in &views {
        let (d, out) = catalog::run(v, &diff_ids, set);
        distro = d.or(distro);
        let mut ids = Vec::with_capacity(out.packages.len());
        for mut p in out.packages {
            if p.name.is_empty() {
                ids.push(String::new());
                continue;
            }
            p.locations.sort();
            p.locations.dedup();
            let id = p.compute_id();
            ids.push(id.clone());
            match merged.get_mut(&id) {
                Some(existing) => {
                    existing.locations.extend(p.locations);
                    existing.locations.sort();
                    existing.locations.dedup();
                }
                None => {
                    p.id = id.clone();
                    merged.insert(id, p);
                }
            }
        }
        for (a, b) in out.edges {
            if let (Some(a), Some(b)) = (ids.get(a), ids.get(b)) {
                if !a.is_empty() && !b.is_empty() && a != b {
                    edges.insert((a.clone(), b.clone()));
                }
            }
        }
        warnings.extend(out.warnings);
    }
    warnings.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    warnings.dedup();
    let mut packages: Vec<Package> = merged.into_values().collect();
    // SPDX `files`: each package's owned files and its evidence files (locations), by their
    // real path (symlinks such as merged-/usr `/bin` resolved), as Syft lists them.
    let mut files: BTreeMap<String, FileEntry> = BTreeMap::new();
    if let Some(last) = views.last().filter(|_| opts.file_digests) {
        for p in &mut packages {
            let mut owned = Vec::new();
            let wanted = p
                .files
                .iter()
                .map(|f| (f.clone(), true))
                .chain(p.locations.iter().map(|l| (l.path.clone(), false)));
            for (f, is_owned) in wanted.collect::<Vec<_>>() {
                let Some((layer, d, real)) = last.digest(&f) else {
                    continue;
                };
                let real = format!("/{real}");
                if is_owned {
                    owned.push(real.clone());
                }
                files.entry(real.clone()).or_insert_with(|| FileEntry {
                    path: real,
                    layer: diff_ids.get(layer).cloned().unwrap_or_default(),
                    sha1: d.sha1.clone(),
                    sha256: d.sha256.clone(),
                    kind: d.kind,
                });
            }
            owned.sort();
            owned.dedup();
            p.files = owned;
        }
    }
    packages.sort_by(|a, b| {
        (&a.name, &a.version, a.kind, &a.id).cmp(&(&b.name, &b.version, b.kind, &b.id))
    });
    if let Some(p) = opts.progress {
        p(Progress::Packages(packages.len()));
    }
    Sbom {
        source: info,
        distro,
        packages,
        dependency_of: edges.into_iter().collect(),
        files: files.into_values().collect(),
        warnings,
    }
}
