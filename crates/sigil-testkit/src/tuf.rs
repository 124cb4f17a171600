//! The python-tuf generated TUF repository of sigil-core's testdata, and a minimal HTTP/1.1
//! file server to play its mirror (one request per connection), for the TUF client tests of
//! sigil-sign and of the `sigil initialize` command.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The mirror's files by path; a test edits them to play an attacking mirror.
pub type Files = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// `crates/sigil-core/testdata/tuf` (the repository, its bootstrap root, the attack files).
pub fn testdata() -> PathBuf {
    crate::workspace_root().join("crates/sigil-core/testdata/tuf")
}

/// Every file of the repository (`testdata()/repo`), by path relative to it.
pub fn repo_files() -> HashMap<String, Vec<u8>> {
    fn walk(dir: &Path, base: &Path, out: &mut HashMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let base = testdata().join("repo");
    let mut out = HashMap::new();
    walk(&base, &base, &mut out);
    out
}

/// Serves `files` on an ephemeral loopback port from a thread living as long as the test
/// process (404 for a missing path); returns the base URL.
pub fn serve(files: Files) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut sock in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            let path = text
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let body = files.lock().unwrap().get(path).cloned();
            let (status, body) = match body {
                Some(b) => ("200 OK", b),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes());
            let _ = sock.write_all(&body);
        }
    });
    format!("http://{addr}")
}
