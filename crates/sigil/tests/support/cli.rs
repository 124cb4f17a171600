//! Running the `sigil` binary in tests on the embedded stack: ambient signing settings
//! removed (identity tokens, `COSIGN_REPOSITORY`), a fixed key password, the stack's
//! environment on top, and outcome checks that print the whole run when they fail.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `sigil ARGS` in `dir` with `env` (e.g. `Stack::env`).
pub fn sigil(dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .current_dir(dir)
        .env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .env_remove("COSIGN_REPOSITORY")
        .env("COSIGN_PASSWORD", "pw")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .output()
        .unwrap()
}

/// The exit status and both streams, for failure messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The run succeeded.
pub fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", text(&o));
    o
}

/// Fails with `code` and a stderr naming `needle`.
pub fn fails(o: Output, code: i32, needle: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(needle),
        "expected `{needle}` in\n{}",
        text(&o)
    );
}
