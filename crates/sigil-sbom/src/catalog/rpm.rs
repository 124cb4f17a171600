//! rpm databases. Placeholder: see `docs/sbom.md` for status.
use super::{Ctx, Out};

pub(crate) fn catalog(ctx: &Ctx, out: &mut Out) {
    for (p, _, _) in ctx.view.files() {
        if p.ends_with("rpm/rpmdb.sqlite") {
            out.warn(
                p,
                "rpm databases are not cataloged yet; rpm packages are missing from this SBOM",
            );
        }
    }
}
