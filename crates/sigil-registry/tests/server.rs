//! The embeddable [`Server`]: starts on an ephemeral loopback port, serves, shuts down; and the
//! exposure policy refuses public binds without auth and TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};

use sigil_registry::{Config, Exposure, Server, TlsFiles};

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_serves_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Config::new("127.0.0.1:0".parse().unwrap(), dir.path()))
        .await
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(server.url(), format!("http://{addr}"));
    let resp = tokio::task::spawn_blocking(move || get(addr, "/v2/"))
        .await
        .unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp
        .to_ascii_lowercase()
        .contains("docker-distribution-api-version: registry/2.0"));
    server.shutdown().await;
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer accepting"
    );
}

#[test]
fn public_binds_need_auth_and_tls_unless_insecure() {
    let mut c = Config::new("0.0.0.0:5000".parse().unwrap(), "/nonexistent");
    assert!(c.check_exposure().is_err());
    c.htpasswd = Some("htpasswd".into());
    assert!(
        c.check_exposure().is_err(),
        "basic auth without TLS is refused"
    );
    c.tls = Some(TlsFiles {
        cert: "c".into(),
        key: "k".into(),
    });
    assert!(c.check_exposure().is_ok());
    let mut open = Config::new("0.0.0.0:5000".parse().unwrap(), "/nonexistent");
    open.exposure = Exposure::InsecurePublic;
    assert!(open.check_exposure().is_ok());
    assert!(Config::new("127.0.0.1:0".parse().unwrap(), "/x")
        .check_exposure()
        .is_ok());
    assert!(Config::new("[::1]:0".parse().unwrap(), "/x")
        .check_exposure()
        .is_ok());
}
