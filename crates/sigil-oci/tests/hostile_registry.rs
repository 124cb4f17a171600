//! The client against misbehaving registries: error statuses, auth challenges, oversized and
//! mislabelled content, and a registry that never answers. A tiny HTTP/1.1 responder on
//! 127.0.0.1 plays the registry so each misbehaviour is exact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sigil_core::{Digest, ImageRef};
use sigil_oci::{Client, ClientOptions, Credential, Error, Keychain};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A canned answer: status line, headers, body; or silence.
#[derive(Clone)]
enum Answer {
    Respond {
        status: &'static str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Hang,
}

fn respond(status: &'static str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    Answer::Respond {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

type Routes = Arc<dyn Fn(&str, &HashMap<String, String>) -> Answer + Send + Sync>;

/// Serves `routes(request_line, headers)` on an ephemeral port; records request lines.
async fn serve(routes: Routes) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    let n = match sock.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&tmp[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    buf.drain(..end + 4);
                    let mut lines = head.split("\r\n");
                    let request = lines.next().unwrap_or("").to_owned();
                    let headers: HashMap<String, String> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .collect();
                    seen.lock().unwrap().push(format!(
                        "{request} auth={}",
                        headers.get("authorization").cloned().unwrap_or_default()
                    ));
                    match routes(&request, &headers) {
                        Answer::Hang => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                        Answer::Respond {
                            status,
                            headers,
                            body,
                        } => {
                            let mut out = format!("HTTP/1.1 {status}\r\n");
                            let mut has_len = false;
                            for (k, v) in &headers {
                                has_len |= k.eq_ignore_ascii_case("content-length");
                                out.push_str(&format!("{k}: {v}\r\n"));
                            }
                            if !has_len {
                                out.push_str(&format!("Content-Length: {}\r\n", body.len()));
                            }
                            out.push_str("\r\n");
                            let _ = sock.write_all(out.as_bytes()).await;
                            let _ = sock.write_all(&body).await;
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn client(keychain: Keychain) -> Client {
    Client::new(ClientOptions {
        keychain,
        read_timeout: Duration::from_millis(500),
        ..ClientOptions::default()
    })
    .unwrap()
}

fn image(addr: &str) -> ImageRef {
    format!("{addr}/lab/app:v1").parse().unwrap()
}

#[tokio::test]
async fn server_errors_carry_the_registry_error_code() {
    let (addr, _) = serve(Arc::new(|_, _| {
        respond(
            "500 Internal Server Error",
            &[("Content-Type", "application/json")],
            br#"{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}"#,
        )
    }))
    .await;
    let err = client(Keychain::Anonymous)
        .get_manifest(&image(&addr))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Status { status: 500, code: Some(c), .. } if c == "UNKNOWN"),
        "{err}"
    );
    assert!(err.to_string().contains("disk on fire"), "{err}");
}

#[tokio::test]
async fn unauthorized_and_forbidden_are_auth_errors() {
    let (addr, _) = serve(Arc::new(|_, _| respond("401 Unauthorized", &[], b""))).await;
    let err = client(Keychain::Anonymous)
        .get_manifest(&image(&addr))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    let (addr, _) = serve(Arc::new(|_, _| {
        respond(
            "403 Forbidden",
            &[],
            br#"{"errors":[{"code":"DENIED","message":"no"}]}"#,
        )
    }))
    .await;
    let err = client(Keychain::Anonymous)
        .get_manifest(&image(&addr))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
}

#[tokio::test]
async fn bearer_challenge_is_answered_with_a_token() {
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.to_vec();
    let digest = Digest::sha256(&manifest).to_string();
    let addr_cell: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let cell = addr_cell.clone();
    let (addr, seen) = serve(Arc::new(move |req, headers| {
        if req.starts_with("GET /token") {
            assert!(req.contains("scope=repository%3Alab%2Fapp%3Apull"), "{req}");
            assert_eq!(
                headers.get("authorization").map(String::as_str),
                Some("Basic dXNlcjpwdw=="),
                "credentials go to the realm"
            );
            return respond(
                "200 OK",
                &[("Content-Type", "application/json")],
                br#"{"token":"t0k3n"}"#,
            );
        }
        if headers.get("authorization").map(String::as_str) == Some("Bearer t0k3n") {
            return respond(
                "200 OK",
                &[
                    ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                    ("Docker-Content-Digest", &digest),
                ],
                &manifest,
            );
        }
        let realm = format!(
            "Bearer realm=\"http://{}/token\",service=\"test\",scope=\"repository:lab/app:pull\"",
            cell.lock().unwrap()
        );
        respond("401 Unauthorized", &[("WWW-Authenticate", &realm)], b"")
    }))
    .await;
    *addr_cell.lock().unwrap() = addr.clone();
    let mut creds = HashMap::new();
    creds.insert(addr.clone(), Credential::new("user", "pw"));
    let c = client(Keychain::Static(creds));
    let m = c.get_manifest(&image(&addr)).await.unwrap();
    assert_eq!(m.digest.to_string(), Digest::sha256(&m.bytes).to_string());
    // The token is cached: a second fetch goes straight through.
    c.get_manifest(&image(&addr)).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().filter(|l| l.starts_with("GET /token")).count(),
        1,
        "{seen:?}"
    );
}

#[tokio::test]
async fn oversized_and_mislabelled_manifests_are_refused() {
    let (addr, _) = serve(Arc::new(|_, _| {
        respond(
            "200 OK",
            &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            &vec![b' '; 5 << 20],
        )
    }))
    .await;
    let err = client(Keychain::Anonymous)
        .get_manifest(&image(&addr))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    let wrong = Digest::sha256(b"something else").to_string();
    let (addr, _) = serve(Arc::new(move |_, _| {
        respond(
            "200 OK",
            &[
                ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                ("Docker-Content-Digest", &wrong),
            ],
            b"{}",
        )
    }))
    .await;
    let err = client(Keychain::Anonymous)
        .get_manifest(&image(&addr))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    // A blob whose content is not its digest.
    let (addr, _) = serve(Arc::new(|_, _| respond("200 OK", &[], b"tampered"))).await;
    let err = client(Keychain::Anonymous)
        .get_blob(&image(&addr), &Digest::sha256(b"original"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
}

#[tokio::test]
async fn a_registry_that_never_answers_is_an_error_not_a_hang() {
    let (addr, _) = serve(Arc::new(|_, _| Answer::Hang)).await;
    let start = std::time::Instant::now();
    let err = client(Keychain::Anonymous)
        .get_manifest(&image(&addr))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "the read timeout must end the request"
    );
}

#[tokio::test]
async fn missing_manifests_are_not_found() {
    let (addr, _) = serve(Arc::new(|_, _| {
        respond(
            "404 Not Found",
            &[],
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#,
        )
    }))
    .await;
    let c = client(Keychain::Anonymous);
    assert!(c
        .get_manifest(&image(&addr))
        .await
        .unwrap_err()
        .is_not_found());
    assert!(c.head_manifest(&image(&addr)).await.unwrap().is_none());
}

/// Loopback registries are spoken to by a client without root certificates that follows no
/// redirects itself; a redirect (to blob storage) is followed by sending the request again
/// through the full client.
#[tokio::test]
async fn redirected_blob_reads_are_followed() {
    let blob = b"stored elsewhere".to_vec();
    let digest = Digest::sha256(&blob);
    let body = blob.clone();
    let (addr, seen) = serve(Arc::new(move |req, _| {
        if req.starts_with("GET /storage/") {
            respond("200 OK", &[], &body)
        } else {
            respond("307 Temporary Redirect", &[("Location", "/storage/x")], b"")
        }
    }))
    .await;
    let got = client(Keychain::Anonymous)
        .get_blob(&image(&addr), &digest)
        .await
        .unwrap();
    assert_eq!(got, blob);
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|r| r.starts_with("GET /storage/x")));
}

fn pseudo_random(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// `download_blob` streams a multi-buffer blob to the file exactly, and refuses content that
/// does not match its digest or exceeds the limit.
#[tokio::test]
async fn blob_downloads_are_exact_and_checked() {
    let blob = pseudo_random((3 << 20) + 4321);
    let digest = Digest::sha256(&blob);
    let mut corrupt = blob.clone();
    corrupt[2 << 20] ^= 1;
    let (good, bad) = (blob.clone(), corrupt);
    let (addr, _) = serve(Arc::new(move |req, _| {
        if req.contains("/bad/") {
            respond("200 OK", &[], &bad)
        } else {
            respond("200 OK", &[], &good)
        }
    }))
    .await;
    let c = client(Keychain::Anonymous);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    let file = std::fs::File::create(&path).unwrap();
    let n = c
        .download_blob(&image(&addr), &digest, blob.len() as u64, file, &path)
        .await
        .unwrap();
    assert_eq!(n, blob.len() as u64);
    assert!(
        std::fs::read(&path).unwrap() == blob,
        "downloaded file differs"
    );

    let bad_image: ImageRef = format!("{addr}/bad/app:v1").parse().unwrap();
    let file = std::fs::File::create(&path).unwrap();
    let err = c
        .download_blob(&bad_image, &digest, blob.len() as u64, file, &path)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");

    let file = std::fs::File::create(&path).unwrap();
    let err = c
        .download_blob(&image(&addr), &digest, 1 << 20, file, &path)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}
