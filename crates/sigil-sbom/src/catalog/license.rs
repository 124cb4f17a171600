//! License values: recognising SPDX identifiers and expressions (with the `spdx` crate's copy
//! of the SPDX license list), a small text classifier for license files, and the
//! `Person:`/`Organization:` strings SPDX wants for suppliers.

/// How a declared license value is written in SPDX: a canonical SPDX id or expression, or a
/// `LicenseRef-…` for anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpdxLicense {
    Expression(String),
    Ref { id: String, text: String },
}

/// Maps one declared value (`MIT`, `apache-2.0`, `GPL-2+`, `BSD License`) as Syft does: an exact
/// (case-insensitive) SPDX id, else a valid SPDX expression, else a `LicenseRef-` with every
/// character outside `[A-Za-z0-9.-]` replaced by `-`.
pub fn to_spdx(value: &str) -> SpdxLicense {
    let v = value.trim();
    if let Some(id) = exact_id(v) {
        return SpdxLicense::Expression(id.to_string());
    }
    if let Some(id) = v.strip_suffix('+').and_then(exact_id) {
        return SpdxLicense::Expression(format!("{id}+"));
    }
    if v.contains(' ') || v.contains('(') {
        if let Ok(e) = spdx::Expression::parse_mode(v, spdx::ParseMode::STRICT) {
            return SpdxLicense::Expression(e.as_ref().to_string());
        }
    }
    let id: String = v
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    SpdxLicense::Ref {
        id: format!("LicenseRef-{id}"),
        text: v.to_string(),
    }
}

/// The canonical SPDX id matching `v` case-insensitively (Syft's `spdxlicense.ID`).
fn exact_id(v: &str) -> Option<&'static str> {
    spdx::identifiers::LICENSES
        .iter()
        .find(|(id, _, _)| id.eq_ignore_ascii_case(v))
        .map(|(id, _, _)| *id)
}

/// Well-known license URLs (as jar manifests' `Bundle-License` and POMs give them) and the
/// SPDX id they stand for; Syft maps these the same way.
const LICENSE_URLS: [(&str, &str); 12] = [
    ("www.apache.org/licenses/license-2.0", "Apache-2.0"),
    ("apache.org/licenses/license-2.0", "Apache-2.0"),
    ("opensource.org/licenses/mit", "MIT"),
    ("opensource.org/license/mit", "MIT"),
    ("opensource.org/licenses/bsd-3-clause", "BSD-3-Clause"),
    ("opensource.org/licenses/bsd-2-clause", "BSD-2-Clause"),
    ("www.eclipse.org/legal/epl-2.0", "EPL-2.0"),
    ("www.eclipse.org/legal/epl-v10", "EPL-1.0"),
    ("www.gnu.org/licenses/lgpl-2.1", "LGPL-2.1-only"),
    ("www.gnu.org/licenses/gpl-2.0", "GPL-2.0-only"),
    ("www.mozilla.org/mpl/2.0", "MPL-2.0"),
    ("www.gnu.org/licenses/lgpl-3.0", "LGPL-3.0-only"),
];

/// The SPDX id of a license URL, if it is a well-known one.
pub(crate) fn from_url(url: &str) -> Option<&'static str> {
    let u = url.trim().to_ascii_lowercase();
    let u = u
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let u = u
        .strip_suffix(".txt")
        .or_else(|| u.strip_suffix(".html"))
        .or_else(|| u.strip_suffix(".php"))
        .unwrap_or(u);
    LICENSE_URLS
        .iter()
        .find(|(prefix, _)| u == *prefix)
        .map(|(_, id)| *id)
}

/// Whether a whole declared value is a valid SPDX expression (Syft keeps such values whole
/// instead of splitting them, e.g. apk's `L:` field).
pub(crate) fn is_expression(v: &str) -> bool {
    spdx::Expression::parse_mode(v, spdx::ParseMode::STRICT).is_ok()
}

/// Recognises the common license texts by their distinctive sentences. Syft runs Google's
/// licensecheck classifier here; this covers the licenses that dominate real images and
/// returns nothing rather than guess.
pub(crate) fn classify_text(text: &str) -> Option<&'static str> {
    let t: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let has = |s: &str| t.contains(s);
    if has("apache license") && has("version 2.0") {
        Some("Apache-2.0")
    } else if has("permission is hereby granted, free of charge") {
        Some("MIT")
    } else if has("redistribution and use in source and binary forms") {
        if has("neither the name")
            || has("names of its contributors")
            || has("name of the copyright holder")
        {
            Some("BSD-3-Clause")
        } else if has("advertising materials") {
            Some("BSD-4-Clause")
        } else {
            Some("BSD-2-Clause")
        }
    } else if has("mozilla public license") && has("2.0") {
        Some("MPL-2.0")
    } else if has(
        "permission to use, copy, modify, and/or distribute this software for any purpose",
    ) {
        Some("ISC")
    } else if has("gnu lesser general public license") && has("version 3") {
        Some("LGPL-3.0-only")
    } else if has("gnu general public license") && has("version 3") {
        Some("GPL-3.0-only")
    } else if has("gnu general public license") && has("version 2") {
        Some("GPL-2.0-only")
    } else if has("python software foundation license") {
        Some("PSF-2.0")
    } else {
        None
    }
}

/// `Name <email>` → `Person: Name (email)`, the form Syft writes. Syft's email pattern
/// (`[^@]+@\w+\.\w+`) only accepts a single-dot domain; like Syft 1.18.1 we return nothing for
/// other addresses so the supplier becomes NOASSERTION rather than a guess.
pub(crate) fn person(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some((name, rest)) = s.split_once('<') {
        let email = rest.trim_end().trim_end_matches('>').trim();
        let name = name.trim();
        if !simple_email(email) {
            return None;
        }
        if name.is_empty() {
            return Some(format!("Person: {email}"));
        }
        return Some(format!("Person: {name} ({email})"));
    }
    Some(format!("Person: {s}"))
}

fn simple_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_alphanumeric() || c == '_');
    match domain.split_once('.') {
        Some((a, b)) => !local.is_empty() && word(a) && word(b),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_values_like_syft() {
        assert_eq!(to_spdx("MIT"), SpdxLicense::Expression("MIT".into()));
        assert_eq!(
            to_spdx("apache-2.0"),
            SpdxLicense::Expression("Apache-2.0".into())
        );
        assert_eq!(
            to_spdx("MIT OR Apache-2.0"),
            SpdxLicense::Expression("MIT OR Apache-2.0".into())
        );
        assert!(
            matches!(to_spdx("GPL2+"), SpdxLicense::Ref { ref id, .. } if id == "LicenseRef-GPL2-")
        );
        assert!(
            matches!(to_spdx("BSD License"), SpdxLicense::Ref { ref id, .. } if id == "LicenseRef-BSD-License")
        );
    }

    #[test]
    fn person_follows_syft_email_quirk() {
        assert_eq!(
            person("Georg Brandl <georg@python.org>").as_deref(),
            Some("Person: Georg Brandl (georg@python.org)")
        );
        assert_eq!(
            person("GNU Libc Maintainers <debian-glibc@lists.debian.org>"),
            None
        );
    }
}
