//! Helpers for the registry's tests and benchmarks: start `sigil registry serve` as a child
//! process, speak minimal HTTP/1.1 to it without a client library, write OCI image layouts
//! for skopeo, and give skopeo a permissive policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Peer;

/// Starts `<sigil> registry serve --addr 127.0.0.1:0 --root <root>` plus `extra` flags and
/// reads the bound address from its first stdout line.
pub fn start_sigil_registry(sigil: &Path, root: &Path, extra: &[&str]) -> Peer {
    let root = root.to_str().unwrap();
    let mut args = vec!["registry", "serve", "--addr", "127.0.0.1:0", "--root", root];
    args.extend_from_slice(extra);
    crate::start_sigil(sigil, &args, true)
}

/// An HTTP response: status, headers (lowercase names), body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`; the body is read to EOF).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut rest = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        rest = dechunk(&rest)?;
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        // A connection cut mid-body (e.g. the server was killed) is a transport error, not
        // a response: the client knows from Content-Length that it is incomplete.
        if method != "HEAD" && rest.len() < len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("body cut at {} of {len} bytes", rest.len()),
            ));
        }
    }
    Ok(HttpResponse {
        status,
        headers,
        body: rest,
    })
}

fn dechunk(mut b: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| std::io::Error::other("truncated chunk"))?;
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16)
            .map_err(std::io::Error::other)?;
        b = &b[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err(std::io::Error::other("truncated chunk"));
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// A skopeo policy file that accepts everything.
pub fn permissive_policy(dir: &Path) -> PathBuf {
    let p = dir.join("policy.json");
    std::fs::write(&p, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    p
}

/// A `registries.d` directory telling skopeo to use sigstore attachments with `hosts`.
pub fn sigstore_registries_d(dir: &Path, hosts: &[&str]) -> PathBuf {
    let d = dir.join("registries.d");
    std::fs::create_dir_all(&d).unwrap();
    let mut yaml = String::from("docker:\n");
    for h in hosts {
        yaml.push_str(&format!("  {h}:\n    use-sigstore-attachments: true\n"));
    }
    std::fs::write(d.join("sigil-tests.yaml"), yaml).unwrap();
    d
}

fn sha256_hex(data: &[u8]) -> String {
    sigil_core::Digest::sha256(data).hex().to_owned()
}

/// Writes `data` as a blob of an OCI layout; returns its descriptor fields (digest, size).
pub fn layout_blob(layout: &Path, data: &[u8]) -> (String, usize) {
    let hex = sha256_hex(data);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&hex), data).unwrap();
    (format!("sha256:{hex}"), data.len())
}

/// Writes an image (config + uncompressed-tar-typed layers) into an OCI layout and returns the
/// manifest's (digest, size, bytes). Layers are arbitrary bytes: registries and skopeo copy
/// them without unpacking.
pub fn layout_image(layout: &Path, arch: &str, layers: &[Vec<u8>]) -> (String, usize, Vec<u8>) {
    let descs: Vec<(String, usize)> = layers.iter().map(|l| layout_blob(layout, l)).collect();
    let diff_ids: Vec<String> = descs.iter().map(|(d, _)| format!("\"{d}\"")).collect();
    let config = format!(
        r#"{{"architecture":"{arch}","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        diff_ids.join(",")
    );
    let (cd, cs) = layout_blob(layout, config.as_bytes());
    let layer_json: Vec<String> = descs
        .iter()
        .map(|(d, s)| {
            format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{d}","size":{s}}}"#)
        })
        .collect();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cs}}},"layers":[{}]}}"#,
        layer_json.join(",")
    );
    let (md, ms) = layout_blob(layout, manifest.as_bytes());
    (md, ms, manifest.into_bytes())
}

/// Writes `index.json` of an OCI layout with `entries` of (mediaType, digest, size, tag).
pub fn layout_index(layout: &Path, entries: &[(&str, &str, usize, &str)]) {
    std::fs::create_dir_all(layout).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let m: Vec<String> = entries
        .iter()
        .map(|(mt, d, s, tag)| {
            format!(
                r#"{{"mediaType":"{mt}","digest":"{d}","size":{s},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}"#
            )
        })
        .collect();
    std::fs::write(
        layout.join("index.json"),
        format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, m.join(",")),
    )
    .unwrap();
}
