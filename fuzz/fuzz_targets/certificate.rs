//! Certificates on the verification path: X.509 DER, Fulcio's identity extensions, embedded
//! SCT lists and the precertificate TBS rebuilt to check them.
#![no_main]
use der::Decode as _;
use libfuzzer_sys::fuzz_target;
use sigil_core::fulcio::{self, CertificateIdentity};
use x509_cert::Certificate;

fuzz_target!(|data: &[u8]| {
    let _ = CertificateIdentity::from_der(data);
    let _ = fulcio::decode_sct_list(data);
    if let Ok(cert) = Certificate::from_der(data) {
        let _ = CertificateIdentity::from_certificate(&cert);
        if let Ok(scts) = fulcio::embedded_scts(&cert) {
            for sct in &scts {
                let _ = sct.digitally_signed();
            }
        }
        let _ = fulcio::precert_tbs(&cert);
    }
    let _ = fulcio::SignedCertificateTimestamp::from_bytes(data);
    let _ = fulcio::SignedCertificateTimestamp::parse_digitally_signed(data);
});
