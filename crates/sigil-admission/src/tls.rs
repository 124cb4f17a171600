//! `--tls-self-signed DIR`: a CA and a serving certificate for the webhook Service's DNS
//! names, as Kyverno generates its own (K:`pkg/tls`): the CA goes into the webhook
//! configurations' `caBundle`. Files already in DIR are reused, so restarts and the
//! manifests keep one CA.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::Error;

/// Paths of the generated material.
#[derive(Clone, Debug)]
pub struct SelfSigned {
    pub ca_cert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn tls(detail: impl std::fmt::Display) -> Error {
    Error::Tls {
        detail: detail.to_string(),
    }
}

/// Writes (or reuses) `ca.crt`, `tls.crt` and `tls.key` in `dir`, the serving certificate
/// valid for `dns_names` (e.g. `sigil-admission.sigil.svc`) and 127.0.0.1.
pub fn self_signed(dir: &Path, dns_names: &[String]) -> Result<SelfSigned, Error> {
    let out = SelfSigned {
        ca_cert: dir.join("ca.crt"),
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    };
    if out.ca_cert.exists() && out.cert.exists() && out.key.exists() {
        return Ok(out);
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Io {
        path: dir.to_owned(),
        source: e,
    })?;
    let ca_key = KeyPair::generate().map_err(tls)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    ca.distinguished_name
        .push(DnType::CommonName, "sigil-admission CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = time_now();
    ca.not_before = now;
    ca.not_after = now + rcgen_days(365);
    let ca_cert = ca.self_signed(&ca_key).map_err(tls)?;

    let mut names = dns_names.to_vec();
    names.push("127.0.0.1".into());
    names.push("localhost".into());
    let leaf_key = KeyPair::generate().map_err(tls)?;
    let mut leaf = CertificateParams::new(names).map_err(tls)?;
    leaf.distinguished_name.push(
        DnType::CommonName,
        dns_names
            .first()
            .cloned()
            .unwrap_or_else(|| "localhost".into()),
    );
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = now;
    leaf.not_after = now + rcgen_days(150);
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(tls)?;

    write(&out.ca_cert, ca_cert.pem().as_bytes(), false)?;
    write(&out.cert, leaf_cert.pem().as_bytes(), false)?;
    write(&out.key, leaf_key.serialize_pem().as_bytes(), true)?;
    Ok(out)
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn rcgen_days(d: i64) -> time::Duration {
    time::Duration::days(d)
}

fn write(path: &Path, bytes: &[u8], private: bool) -> Result<(), Error> {
    let io = |e| Error::Io {
        path: path.to_owned(),
        source: e,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    use std::io::Write as _;
    opts.open(path).map_err(io)?.write_all(bytes).map_err(io)
}
