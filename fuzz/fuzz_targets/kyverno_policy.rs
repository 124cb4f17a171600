//! Kyverno ClusterPolicy / Policy YAML (one or many documents) as `sigil admission serve
//! --policy` and `sigil policy apply` load it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_admission::parse_policies;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = parse_policies(text, "fuzz.yml") {
        for p in &set.policies {
            let _ = p.validate();
            let _ = p.identity();
            let _ = p.failure_policy();
        }
    }
});
