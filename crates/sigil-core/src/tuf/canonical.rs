//! OLPC canonical JSON as securesystemslib encodes it (`securesystemslib.formats.encode_canonical`),
//! the bytes every TUF signature covers.
//!
//! It differs from RFC 8785 (used for Rekor's signed entry timestamps): strings escape only `\`
//! and `"` and carry every other character raw (control characters included), object keys are
//! sorted by code point, and numbers must be integers (a float is an error, not a shortest
//! round-trip form).

use serde_json::Value;

/// Why a JSON value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("canonical JSON has no non-integer numbers, got {0}")]
pub struct NotCanonical(pub String);

/// Encodes `value` as OLPC canonical JSON.
pub fn encode(value: &Value) -> Result<Vec<u8>, NotCanonical> {
    let mut out = Vec::with_capacity(1024);
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), NotCanonical> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // Python's `str(int)`: plain decimal digits with an optional minus sign.
            if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                return Err(NotCanonical(n.to_string()));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Rust's `str` order is byte order of UTF-8, which is code point order: the order
            // of Python's `sorted()` over `str` keys.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s.as_bytes() {
        if b == b'\\' || b == b'"' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn matches_securesystemslib() {
        // Expected bytes from `securesystemslib.formats.encode_canonical` on the same value.
        let v: Value = serde_json::from_str(
            r#"{"b": [1, -2, true, null], "a": "q\"uo\\te\n\u00e9", "é": {}, "Z": []}"#,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(encode(&v).unwrap()).unwrap(),
            "{\"Z\":[],\"a\":\"q\\\"uo\\\\te\n\u{e9}\",\"b\":[1,-2,true,null],\"\u{e9}\":{}}"
        );
    }

    #[test]
    fn refuses_floats() {
        let v: Value = serde_json::from_str(r#"{"a": 1.5}"#).unwrap();
        assert_eq!(encode(&v), Err(NotCanonical("1.5".into())));
    }
}
