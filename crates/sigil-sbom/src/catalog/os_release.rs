//! Distro identity from `/etc/os-release`, falling back to `/usr/lib/os-release`
//! (os-release(5); Syft's `syft/linux/identify_release.go`).
use crate::model::Distro;
use crate::tree::View;

/// Parses an os-release file: `KEY=value` lines, values optionally single- or double-quoted.
pub(crate) fn parse(text: &str) -> Distro {
    let mut d = Distro::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            .unwrap_or(v)
            .to_string();
        match k.trim() {
            "ID" => d.id = v,
            "VERSION_ID" => d.version_id = v,
            "PRETTY_NAME" => d.pretty_name = v,
            "NAME" => d.name = v,
            "VERSION_CODENAME" => d.version_codename = v,
            "ID_LIKE" => d.id_like = v.split_whitespace().map(str::to_string).collect(),
            _ => {}
        }
    }
    d
}

pub(crate) fn identify(view: &View) -> Option<Distro> {
    for p in ["etc/os-release", "usr/lib/os-release"] {
        if let Some((_, bytes, _)) = view.text(p) {
            let d = parse(&String::from_utf8_lossy(bytes));
            if !d.id.is_empty() {
                return Some(d);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_quoted_values() {
        let d = super::parse("ID=debian\nVERSION_ID=\"12\"\nID_LIKE='rhel fedora'\n# c\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
        assert_eq!(d.id, "debian");
        assert_eq!(d.version_id, "12");
        assert_eq!(d.id_like, vec!["rhel", "fedora"]);
        assert_eq!(d.qualifier().as_deref(), Some("debian-12"));
    }
}
