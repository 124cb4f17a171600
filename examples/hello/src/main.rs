//! The lab's application, in Rust with the standard library only: an HTTP server on
//! `0.0.0.0:8080` (or `$HELLO_ADDR`) answering every request with
//! `Hello from a signed container!`, like the lab's `main.go`.
//!
//! `sigil lab` packs this binary as the lab's image (`ENTRYPOINT ["/server"]`, port 8080).
//! It is statically simple on purpose: one thread per connection, the request read up to
//! the end of its headers (bounded), one fixed answer.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

const BODY: &str = "Hello from a signed container!";
/// Requests larger than this (headers) are answered without reading further.
const MAX_REQUEST: usize = 16 * 1024;

fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = [0u8; 1024];
    let mut seen = Vec::new();
    // Read the request head so the client is not reset before it finishes sending.
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < MAX_REQUEST {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        seen.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

fn main() -> std::process::ExitCode {
    let addr = std::env::var("HELLO_ADDR").unwrap_or_else(|_| "0.0.0.0:8080".to_owned());
    let listener = match TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: listening on {addr}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Ok(local) = listener.local_addr() {
        eprintln!("listening on {local}");
    }
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                std::thread::spawn(move || {
                    if let Err(e) = answer(s) {
                        eprintln!("connection: {e}");
                    }
                });
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
    std::process::ExitCode::SUCCESS
}
