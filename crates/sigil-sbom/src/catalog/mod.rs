//! Catalogers: each reads the files Syft's cataloger of the same name reads and turns them into
//! [`Package`]s. They run on a squashed [`View`] and never fail the scan: a malformed file is a
//! [`Warning`].
use crate::layer::FileData;
use crate::model::{Distro, Location, Package, Warning};
use crate::tree::View;

pub(crate) mod apk;
pub(crate) mod binary;
pub(crate) mod dpkg;
pub(crate) mod java;
pub(crate) mod license;
pub(crate) mod npm;
pub(crate) mod os_release;
pub(crate) mod python;
pub(crate) mod rpm;
pub(crate) mod sqlite;
pub(crate) mod stanza;

/// Packages (without locations) found inside one binary or archive, with `dependency-of`
/// edges as `(dependency index, dependent index)`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Found {
    pub packages: Vec<Package>,
    pub edges: Vec<(usize, usize)>,
}

/// Which cataloger set runs, as Syft's `image` and `directory` tags choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatalogerSet {
    /// Installed packages only (`package.json` files, not lock files).
    #[default]
    Image,
    /// Like `Image` but npm lock files instead of installed `package.json` files.
    Directory,
}

/// What the catalogers share.
pub(crate) struct Ctx<'a> {
    pub view: &'a View,
    pub layers: &'a [String],
    pub distro: Option<&'a Distro>,
}

impl Ctx<'_> {
    pub(crate) fn loc(&self, layer: usize, real: &str) -> Location {
        Location {
            path: format!("/{}", real.trim_start_matches('/')),
            layer: self.layers.get(layer).cloned().unwrap_or_default(),
        }
    }
}

/// Findings of one view.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub packages: Vec<Package>,
    pub edges: Vec<(usize, usize)>,
    pub warnings: Vec<Warning>,
}

impl Out {
    pub(crate) fn push(&mut self, p: Package) -> usize {
        self.packages.push(p);
        self.packages.len() - 1
    }
    pub(crate) fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            path: format!("/{}", path.trim_start_matches('/')),
            message: message.into(),
        });
    }
}

/// Runs every cataloger of `set` over `view`.
pub(crate) fn run(view: &View, layers: &[String], set: CatalogerSet) -> (Option<Distro>, Out) {
    let distro = os_release::identify(view);
    let ctx = Ctx {
        view,
        layers,
        distro: distro.as_ref(),
    };
    let mut out = Out::default();
    apk::catalog(&ctx, &mut out);
    dpkg::catalog(&ctx, &mut out);
    rpm::catalog(&ctx, &mut out);
    python::catalog(&ctx, &mut out);
    match set {
        CatalogerSet::Image => npm::catalog_package_json(&ctx, &mut out),
        CatalogerSet::Directory => npm::catalog_lockfiles(&ctx, &mut out),
    }
    // Binaries and archives were parsed while streaming; attach their locations now.
    for (path, layer, data) in view.files() {
        if let FileData::Found(found) = data.as_ref() {
            let base = out.packages.len();
            for p in &found.packages {
                let mut p = p.clone();
                p.locations.push(ctx.loc(layer, path));
                out.packages.push(p);
            }
            out.edges
                .extend(found.edges.iter().map(|(a, b)| (a + base, b + base)));
        }
    }
    (distro, out)
}
