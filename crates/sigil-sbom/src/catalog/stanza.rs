//! RFC 822-style stanzas as dpkg's status file writes them (deb-control(5)): `Key: value`
//! lines, continuation lines starting with a space or tab, stanzas separated by blank lines.
//! Also used for Python's METADATA/PKG-INFO headers (core metadata is RFC 822 too).

/// One stanza: keys in order of appearance with their (continuation-joined) values.
pub(crate) type Stanza = Vec<(String, String)>;

/// Looks a key up case-insensitively.
pub(crate) fn field<'a>(s: &'a Stanza, key: &str) -> Option<&'a str> {
    s.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// All values of a repeatable key.
pub(crate) fn fields<'a>(s: &'a Stanza, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    s.iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// Splits `text` into stanzas. With `headers_only`, parsing stops at the first blank line
/// (the body of a METADATA file is free text).
pub(crate) fn parse(text: &str, headers_only: bool) -> Vec<Stanza> {
    let mut out = Vec::new();
    let mut cur: Stanza = Vec::new();
    for line in text.lines() {
        let continuation = !line.is_empty() && (line.starts_with(' ') || line.starts_with('\t'));
        if !continuation && line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                if headers_only {
                    return out;
                }
            }
            continue;
        }
        if continuation {
            if let Some((_, v)) = cur.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
