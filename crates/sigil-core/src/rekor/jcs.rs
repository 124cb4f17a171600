//! RFC 8785 JSON Canonicalization Scheme (JCS), the encoding Rekor signs in SETs and stores
//! entry bodies in (rekor `pkg/types/entries.go` runs `jsoncanonicalizer.Transform`).
//!
//! Hand-written (about sixty lines) rather than pulled in: the crates for it are unmaintained
//! 0.x releases, and everything Rekor canonicalises holds only strings, integers, booleans,
//! arrays and objects. Non-integer numbers are refused instead of risking a formatting that
//! differs from ECMAScript's (RFC 8785 §3.2.2.3).

use serde_json::Value;

/// A value JCS cannot encode here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot canonicalise non-integer number {0}")]
pub struct JcsError(pub String);

/// The canonical encoding of `value`.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JcsError> {
    let mut out = Vec::with_capacity(256);
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), JcsError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            // Integers up to 2^53 print identically in ECMAScript; larger ones would be
            // printed in exponent form there, so refuse them too.
            let ok = n
                .as_i64()
                .map(|i| i.unsigned_abs() <= 1 << 53)
                .or_else(|| n.as_u64().map(|u| u <= 1 << 53))
                .unwrap_or(false);
            if !ok {
                return Err(JcsError(n.to_string()));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(v, out)?;
            }
            out.push(b']');
        }
        Value::Object(m) => {
            // RFC 8785 §3.2.3: members sorted by their names' UTF-16 code units.
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                if let Some(v) = m.get(*k) {
                    write(v, out)?;
                }
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// An integer as JCS writes it; `None` beyond ±2^53, which ECMAScript prints in exponent
/// form (see [`canonicalize`]).
pub(super) fn write_int(n: i64, out: &mut Vec<u8>) -> Result<(), JcsError> {
    if n.unsigned_abs() > 1 << 53 {
        return Err(JcsError(n.to_string()));
    }
    out.extend_from_slice(n.to_string().as_bytes());
    Ok(())
}

/// RFC 8785 §3.2.2.2: only `"`, `\` and control characters are escaped; the short forms
/// are used where JSON has them, `\u00XX` (lowercase hex) otherwise.
pub(super) fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    // Most strings here are base64, hex or PEM: copy them whole when nothing needs escaping.
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_escapes() {
        let v: Value = serde_json::from_str(
            r#"{"b":1,"a":{"z":[true,null,"x\u0001\n\"/é"],"\u20ac":0,"\ud83d\ude00":1,"A":-5}}"#,
        )
        .unwrap();
        let got = String::from_utf8(canonicalize(&v).unwrap()).unwrap();
        // RFC 8785 §3.2.3's example order: U+20AC before U+1F600 (surrogates D83D DE00).
        assert_eq!(
            got,
            "{\"a\":{\"A\":-5,\"z\":[true,null,\"x\\u0001\\n\\\"/é\"],\"€\":0,\"😀\":1},\"b\":1}"
        );
    }

    #[test]
    fn refuses_floats() {
        let v: Value = serde_json::from_str(r#"{"a":1.5}"#).unwrap();
        assert!(canonicalize(&v).is_err());
    }
}
