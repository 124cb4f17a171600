//! `sigil tlog serve` from the command line: the first stdout line, the kept key, and clear
//! errors for bad invocations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;

use sigil_testkit::start_sigil;
use std::process::Command;

fn sigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
}

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Starts the server, returns its public key PEM, and stops it.
fn serve_once(dir: &std::path::Path, extra: &[&str]) -> String {
    let mut args = vec!["tlog", "serve", "--addr", "127.0.0.1:0", "--data-dir"];
    args.push(dir.to_str().unwrap());
    args.extend_from_slice(extra);
    let log = start_sigil(
        std::path::Path::new(env!("CARGO_BIN_EXE_sigil")),
        &args,
        true,
    );
    let resp = get(&log.addr, "/api/v1/log/publicKey");
    drop(log);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    resp.split("\r\n\r\n").nth(1).unwrap().to_owned()
}

#[test]
fn serve_prints_its_address_and_keeps_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let k1 = serve_once(dir.path(), &["--origin", "log.example"]);
    assert!(k1.starts_with("-----BEGIN PUBLIC KEY-----"));
    let k2 = serve_once(dir.path(), &[]);
    assert_eq!(k1, k2, "the log key must survive a restart");
    let ed = tempfile::tempdir().unwrap();
    let k3 = serve_once(ed.path(), &["--key-type", "ed25519"]);
    assert_ne!(k1, k3);
}

#[test]
fn bad_invocations_fail_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    serve_once(dir.path(), &["--origin", "first"]);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--origin".into(), "second".into()],
            "created with origin `first`",
        ),
        (
            vec!["--max-entry-size".into(), "0".into()],
            "--max-entry-size",
        ),
    ];
    for (extra, want) in cases {
        let out = sigil()
            .args(["tlog", "serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(&extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} succeeded");
        assert!(
            err.contains("error:") && err.contains(want),
            "{extra:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{extra:?} printed an address");
    }
    let fresh = tempfile::tempdir().unwrap();
    let out = sigil()
        .args([
            "tlog",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--origin",
            "has space",
            "--data-dir",
        ])
        .arg(fresh.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without spaces"));
    // A data directory that is a file.
    let file = fresh.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let out = sigil()
        .args(["tlog", "serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error:"));
    // Missing --data-dir is a usage error.
    let out = sigil().args(["tlog", "serve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
