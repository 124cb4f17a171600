//! Sigstore bundles (v0.1–v0.3) through the whole verification pipeline: certificates, SCTs,
//! SETs, inclusion proofs and checkpoints, against the public-good trusted root.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigil_core::bundle::Bundle;
use sigil_core::trust_root::TrustedRoot;
use sigil_verify::{
    verify_bundle, Artifact, BundleSigner, IdentityPolicy, Matcher, SctPolicy, TlogPolicy,
};

fn root() -> &'static TrustedRoot {
    static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
    ROOT.get_or_init(|| TrustedRoot::from_json(sigil_fuzz::PRODUCTION_ROOT).expect("root"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = Bundle::from_json(data) else {
        return;
    };
    let _ = bundle.version();
    let _ = bundle.certificates();
    let _ = Bundle::from_json(&bundle.to_json());
    let signer = BundleSigner::Identity(IdentityPolicy {
        identity: Matcher::regex(".*").expect("regex"),
        issuer: Matcher::regex(".*").expect("regex"),
        github: Default::default(),
    });
    for (tlog, sct) in [
        (TlogPolicy::Required, SctPolicy::Required),
        (TlogPolicy::Ignore, SctPolicy::Ignore),
    ] {
        let _ = verify_bundle(&bundle, Artifact::Bytes(b"a\n"), &signer, root(), tlog, sct);
    }
});
