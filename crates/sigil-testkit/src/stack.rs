//! `sigil up` as a test fixture: the embedded registry, log, CA and OIDC issuers on ephemeral
//! loopback ports, their environment (`SIGIL_REGISTRY`, `SIGIL_TRUST_CONFIG`, …) read from its
//! stdout, killed on drop; and the environment of the emulated GitHub workflow
//! (`sigil oidc github-env`), for keyless signing as that workflow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `sigil up`.
#[derive(Debug)]
pub struct Stack {
    child: Child,
    /// The variables it exports.
    pub env: Vec<(String, String)>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Stack {
    /// Starts `sigil` (the binary at `sigil`) `up` with its state in `state`.
    pub fn up(sigil: &Path, state: &Path) -> Stack {
        let mut child = Command::new(sigil)
            .args(["up", "--state-dir"])
            .arg(state)
            .args([
                "--registry-addr",
                "127.0.0.1:0",
                "--tlog-addr",
                "127.0.0.1:0",
            ])
            .args(["--ca-addr", "127.0.0.1:0", "--oidc-addr", "127.0.0.1:0"])
            .args(["--oidc-email-addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut env = Vec::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line.starts_with("# ready") {
                break;
            }
            let (k, v) = line
                .strip_prefix("export ")
                .unwrap_or_else(|| panic!("unexpected line from sigil up: {line}"))
                .split_once('=')
                .unwrap();
            env.push((k.to_owned(), v.to_owned()));
        }
        assert!(
            env.iter().any(|(k, _)| k == "SIGIL_TRUST_CONFIG"),
            "sigil up printed {env:?}"
        );
        // Keep draining stdout so the stack never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Stack { child, env }
    }

    /// One exported variable.
    pub fn get(&self, k: &str) -> String {
        self.env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("sigil up exported no {k}"))
    }

    /// The stack's variables plus the GitHub Actions token variables of the workflow
    /// `repository`/`workflow` at `git_ref` (`sigil oidc github-env`).
    pub fn workflow_env(
        &self,
        sigil: &Path,
        repository: &str,
        workflow: &str,
        git_ref: &str,
    ) -> Vec<(String, String)> {
        let o = Command::new(sigil)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(["oidc", "github-env", "--repository", repository])
            .args(["--workflow", workflow, "--ref", git_ref])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "sigil oidc github-env: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut env = self.env.clone();
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            let (k, v) = line
                .strip_prefix("export ")
                .unwrap()
                .split_once('=')
                .unwrap();
            env.push((k.to_owned(), v.trim_matches('\'').to_owned()));
        }
        env
    }
}
