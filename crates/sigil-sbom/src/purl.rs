//! Package URLs (purl-spec), written the way Syft 1.18.1 writes them through packageurl-go:
//! qualifiers sorted by key, and `+`, `@` and other reserved characters percent-encoded in
//! names, versions and qualifier values while `:`, `/`, `(` and `)` stay literal
//! (`pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12&upstream=glibc`).

/// Percent-encodes everything outside `[A-Za-z0-9.-_~:/()]` (Syft writes Go's `(devel)`
/// versions unescaped: `pkg:golang/./dep@(devel)`).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'.' | b'-' | b'_' | b'~' | b':' | b'/' | b'(' | b')')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH`. Empty parts are left out,
/// qualifiers with empty values are dropped.
pub fn purl(
    ty: &str,
    namespace: &str,
    name: &str,
    version: &str,
    qualifiers: &[(&str, String)],
    subpath: &str,
) -> String {
    let mut s = format!("pkg:{ty}/");
    for seg in namespace.split('/').filter(|s| !s.is_empty()) {
        s.push_str(&escape(seg).replace('/', "%2F"));
        s.push('/');
    }
    s.push_str(&escape(name).replace('/', "%2F"));
    if !version.is_empty() {
        s.push('@');
        s.push_str(&escape(version).replace('/', "%2F"));
    }
    let mut q: Vec<&(&str, String)> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&escape(v));
    }
    let sub: Vec<String> = subpath
        .split('/')
        .filter(|s| !s.is_empty())
        .map(escape)
        .collect();
    if !sub.is_empty() {
        s.push('#');
        s.push_str(&sub.join("/"));
    }
    s
}

/// Go module purl as Syft 1.18.1 builds it: the first two path elements are the namespace, the
/// third the name, the rest a subpath (`github.com/pierrec/lz4/v4` →
/// `pkg:golang/github.com/pierrec/lz4@v4.1.21#v4`; Syft ≥ 1.39 keeps `/v4` in the name).
pub fn golang(module: &str, version: &str) -> String {
    let fields: Vec<&str> = module.split('/').collect();
    match fields.as_slice() {
        [] => String::new(),
        [name] => purl("golang", "", name, version, &[], ""),
        [ns, name] => purl("golang", ns, name, version, &[], ""),
        [a, b, name, rest @ ..] => purl(
            "golang",
            &format!("{a}/{b}"),
            name,
            version,
            &[],
            &rest.join("/"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb_purl_matches_syft() {
        let p = purl(
            "deb",
            "debian",
            "libselinux1",
            "3.4-1+b6",
            &[
                ("distro", "debian-13".into()),
                ("arch", "arm64".into()),
                ("upstream", "libselinux@3.4-1".into()),
            ],
            "",
        );
        assert_eq!(
            p,
            "pkg:deb/debian/libselinux1@3.4-1%2Bb6?arch=arm64&distro=debian-13&upstream=libselinux%403.4-1"
        );
        assert_eq!(
            purl("deb", "debian", "libattr1", "1:2.5.1-4", &[], ""),
            "pkg:deb/debian/libattr1@1:2.5.1-4"
        );
    }

    #[test]
    fn npm_scope_and_pypi_vcs_url() {
        assert_eq!(
            purl("npm", "@types", "react", "18.0.20", &[], ""),
            "pkg:npm/%40types/react@18.0.20"
        );
        assert_eq!(
            purl(
                "pypi",
                "",
                "pygments",
                "2.6.1",
                &[(
                    "vcs_url",
                    "git+https://github.com/python-test/test.git@aaaa".into()
                )],
                ""
            ),
            "pkg:pypi/pygments@2.6.1?vcs_url=git%2Bhttps://github.com/python-test/test.git%40aaaa"
        );
    }

    #[test]
    fn golang_major_version_is_a_subpath() {
        assert_eq!(
            golang("github.com/pierrec/lz4/v4", "v4.1.21"),
            "pkg:golang/github.com/pierrec/lz4@v4.1.21#v4"
        );
        assert_eq!(
            golang("golang.org/x/sys", "v0.1.0"),
            "pkg:golang/golang.org/x/sys@v0.1.0"
        );
        assert_eq!(golang("stdlib", "1.19.8"), "pkg:golang/stdlib@1.19.8");
    }
}
