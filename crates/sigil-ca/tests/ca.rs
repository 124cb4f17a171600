//! The CA and the dev OIDC issuer over real loopback sockets: certificates on Fulcio's profile
//! with a valid embedded SCT, every identity kind, restarts. Bad input: `bad_input.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use common::*;
use der::{Decode, Encode};
use ring::signature::KeyPair as _;
use serde_json::{json, Value};
use sigil_ca::{CaConfig, DevIssuer};
use sigil_core::fulcio::{self, CertificateIdentity, Extension, SubjectAltName};
use x509_cert::Certificate;

#[tokio::test]
async fn github_workflow_certificate_on_fulcio_profile_with_valid_sct() {
    let s = stack().await;
    let p = profile();
    let token = s.github_token(&p);
    let key = Key::new();
    let sub = format!("repo:{}:ref:{}", p.repository, p.git_ref);
    let (status, resp) = s.post(&key_request(&token, &key, &sub)).await;
    assert_eq!(status, 201, "{resp}");
    let chain = chain_of(&resp);
    assert_eq!(chain.len(), 3, "leaf, intermediate, root");
    let leaf = Certificate::from_der(&chain[0]).unwrap();
    let inter = Certificate::from_der(&chain[1]).unwrap();
    let root = Certificate::from_der(&chain[2]).unwrap();

    // Profile.
    let tbs = &leaf.tbs_certificate;
    assert!(tbs.subject.0.is_empty(), "empty subject");
    let validity =
        tbs.validity.not_after.to_unix_duration() - tbs.validity.not_before.to_unix_duration();
    assert_eq!(validity.as_secs(), 600);
    assert_eq!(tbs.serial_number.as_bytes().len(), 20);
    assert!(ext(&leaf, "2.5.29.17").unwrap().critical, "SAN critical");
    let ku = ext(&leaf, "2.5.29.15").unwrap();
    assert!(ku.critical);
    assert_eq!(
        ku.extn_value.as_bytes(),
        [0x03, 0x02, 0x07, 0x80],
        "digitalSignature only"
    );
    let eku = ext(&leaf, "2.5.29.37").unwrap();
    assert!(eku
        .extn_value
        .as_bytes()
        .ends_with(&[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03]));
    assert!(
        ext(&leaf, "2.5.29.14").is_some() && ext(&leaf, "2.5.29.35").is_some(),
        "SKI and AKI"
    );
    assert!(
        ext(&leaf, "1.3.6.1.4.1.11129.2.4.3").is_none(),
        "no poison in the final leaf"
    );
    assert_eq!(
        leaf.tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
        key.pair.public_key().as_ref()
    );

    // Identity and extensions, through the parser verifiers use.
    let id = CertificateIdentity::from_der(&chain[0]).unwrap();
    let workflow = "https://github.com/octo/hello/.github/workflows/release.yml@refs/tags/v1.2.3";
    assert_eq!(id.san, SubjectAltName::Uri(workflow.into()));
    assert_eq!(id.sans.len(), 1);
    assert_eq!(id.issuer.as_deref(), Some(GITHUB));
    assert_eq!(id.get(Extension::Issuer), Some(GITHUB));
    assert_eq!(id.get(Extension::GithubWorkflowTrigger), Some("push"));
    assert_eq!(id.get(Extension::GithubWorkflowName), Some("release"));
    assert_eq!(
        id.get(Extension::GithubWorkflowRepository),
        Some("octo/hello")
    );
    assert_eq!(
        id.get(Extension::GithubWorkflowRef),
        Some("refs/tags/v1.2.3")
    );
    assert_eq!(id.get(Extension::GithubWorkflowSha), Some(p.sha.as_str()));
    assert_eq!(id.get(Extension::BuildSignerUri), Some(workflow));
    assert_eq!(
        id.get(Extension::SourceRepositoryUri),
        Some("https://github.com/octo/hello")
    );
    assert_eq!(
        id.get(Extension::SourceRepositoryOwnerUri),
        Some("https://github.com/octo")
    );
    assert_eq!(
        id.get(Extension::SourceRepositoryIdentifier),
        Some(p.repository_id.as_str())
    );
    assert_eq!(
        id.get(Extension::RunInvocationUri).unwrap(),
        format!(
            "https://github.com/octo/hello/actions/runs/{}/attempts/1",
            p.run_id
        )
    );
    assert_eq!(id.get(Extension::TokenSubject), Some(sub.as_str()));
    assert_eq!(id.get(Extension::DeploymentEnvironment), None);
    assert_eq!(id.extensions.len(), 22, "1-6, 8-22 and 24");
    // Encodings: raw for 1-6, DER UTF8String for 8-24.
    assert_eq!(
        ext(&leaf, "1.3.6.1.4.1.57264.1.1")
            .unwrap()
            .extn_value
            .as_bytes(),
        GITHUB.as_bytes()
    );
    assert_eq!(
        ext(&leaf, "1.3.6.1.4.1.57264.1.8")
            .unwrap()
            .extn_value
            .as_bytes()[0],
        0x0c
    );

    // Chain signatures.
    let verify = |child: &Certificate, parent: &Certificate| {
        let key = parent
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        let k =
            ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, key);
        k.verify(
            &child.tbs_certificate.to_der().unwrap(),
            child.signature.raw_bytes(),
        )
        .is_ok()
    };
    assert!(verify(&leaf, &inter) && verify(&inter, &root) && verify(&root, &root));

    // SCT, exactly as sigstore-go / ct-go check it.
    let log = s.ca_state.ct_log.as_ref().unwrap();
    let inter_spki = inter
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let sct = fulcio::verify_embedded_sct(&leaf, &inter_spki, log.public_key_spki()).unwrap();
    assert_eq!(sct.log_id, log.log_id());
    // The precert entry was stored durably before the SCT was returned, and the log proves it:
    // the leaf is the RFC 6962 MerkleTreeLeaf of the precert, its audit path leads to the
    // signed tree head's root, and the STH signature verifies with the log key.
    let leaves = log.entries().unwrap();
    assert_eq!(leaves.len(), 1);
    assert_eq!(&leaves[0][..2], [0, 0], "v1 timestamped_entry");
    assert_eq!(&leaves[0][2..10], sct.timestamp.to_be_bytes());
    assert_eq!(&leaves[0][10..12], [0, 1], "precert_entry");
    let pems: Vec<String> = resp["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        sigil_ca::certificate_leaf(&pems[0], &pems[1]).unwrap(),
        leaves[0]
    );
    let sth: Value = s
        .http
        .get(format!("{}/ct/v1/get-sth", s.ca.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sth["tree_size"], 1);
    let root_hash = B64
        .decode(sth["sha256_root_hash"].as_str().unwrap())
        .unwrap();
    let leaf_hash = sigil_core::merkle::leaf_hash(&leaves[0]);
    assert_eq!(root_hash, leaf_hash.to_vec(), "one-leaf tree");
    let mut signed = vec![0u8, 1];
    signed.extend_from_slice(&sth["timestamp"].as_u64().unwrap().to_be_bytes());
    signed.extend_from_slice(&1u64.to_be_bytes());
    signed.extend_from_slice(&root_hash);
    let ds = B64
        .decode(sth["tree_head_signature"].as_str().unwrap())
        .unwrap();
    assert_eq!(&ds[..2], [4, 3], "sha256 + ecdsa");
    let log_key = &log.public_key_spki()[26..];
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, log_key)
        .verify(&signed, &ds[4..])
        .unwrap();
    let proof: Value = s
        .http
        .get(format!("{}/ct/v1/get-proof-by-hash", s.ca.url()))
        .query(&[("hash", B64.encode(leaf_hash)), ("tree_size", "1".into())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(proof["leaf_index"], 0);
    let entries: Value = s
        .http
        .get(format!("{}/ct/v1/get-entries?start=0&end=5", s.ca.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(entries["entries"][0]["leaf_input"], B64.encode(&leaves[0]));

    // trustBundle and rootCert carry the same chain.
    let tb: Value = s
        .http
        .get(format!("{}/api/v2/trustBundle", s.ca.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tb["chains"][0]["certificates"].as_array().unwrap().len(), 2);
    let root_pem = s
        .http
        .get(format!("{}/api/v1/rootCert", s.ca.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(root_pem.matches("BEGIN CERTIFICATE").count(), 2);
}

#[tokio::test]
async fn email_identity_by_csr_and_by_bearer_header() {
    let s = stack().await;
    let token = s
        .email
        .mint_email(&s.email_iss, "alice@example.com", "sigstore")
        .unwrap();
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&kp)
        .unwrap();
    let csr_pem = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", csr.der().to_vec()));
    let body = json!({"certificateSigningRequest": B64.encode(csr_pem)});
    let resp = s
        .http
        .post(format!("{}/api/v2/signingCert", s.ca.url()))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let chain = chain_of(&resp.json().await.unwrap());
    let id = CertificateIdentity::from_der(&chain[0]).unwrap();
    assert_eq!(id.san, SubjectAltName::Email("alice@example.com".into()));
    assert_eq!(id.issuer.as_deref(), Some(s.email_iss.as_str()));
    assert_eq!(id.extensions.len(), 2, "issuer v1 and v2 only");
}

#[tokio::test]
async fn runner_token_protocol_and_discovery() {
    let s = stack().await;
    let p = profile();
    let settings = s.gh.settings().unwrap();
    let request_token = s.gh.request_token(&p).unwrap();
    let url = format!("{}/token?api-version=2.0", settings.url);
    let resp: Value = s
        .http
        .get(format!("{url}&audience=sigstore"))
        .header("Authorization", format!("bearer {request_token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = resp["value"].as_str().unwrap();
    let claims: Value =
        serde_json::from_slice(&B64URL.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["iss"], GITHUB);
    assert_eq!(claims["aud"], "sigstore");
    assert_eq!(
        claims["job_workflow_ref"],
        "octo/hello/.github/workflows/release.yml@refs/tags/v1.2.3"
    );
    assert_eq!(claims["repository_owner"], "octo");
    assert_eq!(claims["runner_environment"], "github-hosted");
    let key = Key::new();
    let (status, _) = s
        .post(&key_request(jwt, &key, claims["sub"].as_str().unwrap()))
        .await;
    assert_eq!(status, 201);

    // A forged or missing request token gets nothing.
    let forged = format!("{}x", request_token);
    for auth in [format!("bearer {forged}"), String::new()] {
        let r = s
            .http
            .get(format!("{url}&audience=sigstore"))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    let disco: Value = s
        .http
        .get(format!("{}/.well-known/openid-configuration", settings.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disco["issuer"], GITHUB);
    assert_eq!(disco["id_token_signing_alg_values_supported"][0], "RS256");
}

#[tokio::test]
async fn uri_spiffe_and_username_identities() {
    let s = stack().await;
    // Three issuers sharing the email issuer's key (same data directory), each with its URL.
    let key_dir = s._dir.path().join("oidc-email");
    let (uri_iss, _a, uri_url) = issuer_server(&key_dir, Some("https://ci.example.com")).await;
    let (spiffe_iss, _b, spiffe_url) =
        issuer_server(&key_dir, Some("https://spire.example.org")).await;
    let (user_iss, _c, user_url) = issuer_server(&key_dir, Some("https://login.example.com")).await;
    let disco = |i: &DevIssuer| {
        format!(
            "{}/.well-known/openid-configuration",
            i.settings().unwrap().url
        )
    };
    let config = CaConfig::from_yaml(&format!(
        "oidc-issuers:
  {uri_url}:
    issuer-url: {uri_url}
    type: uri
    subject-domain: https://ci.example.com
    discovery-url: {}
  {spiffe_url}:
    issuer-url: {spiffe_url}
    type: spiffe
    spiffe-trust-domain: example.org
    discovery-url: {}
  {user_url}:
    issuer-url: {user_url}
    type: username
    subject-domain: example.com
    discovery-url: {}
",
        disco(&uri_iss),
        disco(&spiffe_iss),
        disco(&user_iss)
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = sigil_ca::open_ca(dir.path(), &config).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ca = sigil_ca::spawn(l, sigil_ca::router(state)).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let key = Key::new();
    let issue = |issuer: &DevIssuer, iss: &str, sub: &str| {
        let claims =
            json!({"iss": iss, "sub": sub, "aud": "sigstore", "iat": now, "exp": now + 300});
        let token = issuer.mint(claims.as_object().unwrap()).unwrap();
        let req = s
            .http
            .post(format!("{}/api/v2/signingCert", ca.url()))
            .json(&key_request(&token, &key, sub));
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, resp) = issue(&uri_iss, &uri_url, "https://ci.example.com/jobs/42").await;
    assert_eq!(status, 201, "{resp}");
    let id = CertificateIdentity::from_der(&chain_of(&resp)[0]).unwrap();
    assert_eq!(
        id.san,
        SubjectAltName::Uri("https://ci.example.com/jobs/42".into())
    );
    assert_eq!(id.issuer.as_deref(), Some(uri_url.as_str()));
    assert_eq!(
        issue(&uri_iss, &uri_url, "https://evil.example.com/jobs/42")
            .await
            .0,
        400
    );

    let (status, resp) = issue(
        &spiffe_iss,
        &spiffe_url,
        "spiffe://example.org/ns/ci/sa/builder",
    )
    .await;
    assert_eq!(status, 201, "{resp}");
    let id = CertificateIdentity::from_der(&chain_of(&resp)[0]).unwrap();
    assert_eq!(
        id.san,
        SubjectAltName::Uri("spiffe://example.org/ns/ci/sa/builder".into())
    );
    assert_eq!(
        issue(&spiffe_iss, &spiffe_url, "spiffe://example.org.evil/x")
            .await
            .0,
        400
    );
    assert_eq!(
        issue(&spiffe_iss, &spiffe_url, "spiffe://other.org/x")
            .await
            .0,
        400
    );

    let (status, resp) = issue(&user_iss, &user_url, "alice").await;
    assert_eq!(status, 201, "{resp}");
    let leaf = chain_of(&resp).remove(0);
    let id = CertificateIdentity::from_der(&leaf).unwrap();
    assert_eq!(
        id.san,
        SubjectAltName::OtherName("alice!example.com".into())
    );
    let cert = Certificate::from_der(&leaf).unwrap();
    assert!(ext(&cert, "2.5.29.17").unwrap().critical);
    assert_eq!(issue(&user_iss, &user_url, "a!b").await.0, 400);
}

#[test]
fn racing_first_starts_agree_on_one_key_set() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let opened: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (dir, client) = (dir.path(), client.clone());
                scope.spawn(move || {
                    let ct = sigil_ca::CtSubmitter::Remote {
                        url: "http://127.0.0.1:9".into(),
                        client,
                    };
                    let ca = sigil_ca::Authority::open(dir, ct).unwrap();
                    let ct_key =
                        sigil_ca::FileSigner::load_or_generate(&dir.join("ct.key")).unwrap();
                    let oidc = DevIssuer::open(&dir.join("oidc")).unwrap();
                    use sigil_ca::Signer as _;
                    (
                        ca.chain_der(),
                        ct_key.public_key_spki().to_vec(),
                        oidc.jwks(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &opened[1..] {
        assert_eq!(
            o, &opened[0],
            "every racer ends up with the same chain and keys"
        );
    }
    let again = sigil_ca::Authority::open(
        dir.path(),
        sigil_ca::CtSubmitter::Remote {
            url: "http://127.0.0.1:9".into(),
            client,
        },
    )
    .unwrap();
    assert_eq!(again.chain_der(), opened[0].0, "and it is what is on disk");
}
