//! AdmissionReview requests as the webhook receives them (`/validate`, `/mutate`), through
//! the router with the lab's verifyImages policy; the registry is a stub that finds no image,
//! so every path ends in a verdict without network.
#![no_main]
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use sigil_admission::{
    parse_policies, router, AppState, Engine, EngineOptions, Fetcher, ImageVerifier,
    VerifierOptions, VerifyError,
};
use sigil_core::{Digest, ImageRef};
use sigil_verify::SignatureCandidate;

const POLICY: &str =
    include_str!("../../crates/sigil-admission/testdata/require-signed-images.yml");

struct NoRegistry;

#[async_trait::async_trait]
impl Fetcher for NoRegistry {
    async fn resolve(&self, image: &ImageRef) -> Result<Digest, VerifyError> {
        Err(VerifyError::Failed(format!("image not found: {image}")))
    }
    async fn signatures(
        &self,
        _repository: &ImageRef,
        _digest: &Digest,
    ) -> Result<Option<Vec<SignatureCandidate>>, VerifyError> {
        Ok(None)
    }
}

fn app() -> &'static axum::Router {
    static APP: OnceLock<axum::Router> = OnceLock::new();
    APP.get_or_init(|| {
        let policies = parse_policies(POLICY, "require-signed-images.yml").expect("policy");
        let verifier = ImageVerifier::new(Arc::new(NoRegistry), VerifierOptions::default());
        let engine = Engine::new(policies.policies, verifier, EngineOptions::default());
        router(AppState::new(Arc::new(engine)))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let path = if selector & 1 == 0 {
        "/validate"
    } else {
        "/mutate"
    };
    let (status, answer) = sigil_fuzz::call(
        app(),
        "POST",
        path,
        &[("content-type", "application/json")],
        body.to_vec(),
    );
    assert!(status != 500, "a review answered 500");
    if status == 200 {
        serde_json::from_slice::<serde_json::Value>(&answer).expect("the answer is JSON");
    }
});
