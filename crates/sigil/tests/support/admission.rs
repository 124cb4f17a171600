//! Shared by the admission tests (`admission.rs`, `admission_keyless.rs`): the webhook as a
//! child process over TLS, and Pod/Deployment objects as kubectl makes them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use sigil_testkit::{free_port, system_bin, wait_for_port};

/// A file of sigil-admission's testdata.
pub fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sigil-admission/testdata")
        .join(p)
}

/// The webhook as a child process, killed on drop.
pub struct Webhook {
    pub child: Child,
    pub addr: String,
    /// The CA of its self-signed serving certificate.
    pub ca: PathBuf,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sigil admission serve --policy POLICY --tls-self-signed DIR/tls` on an ephemeral
/// loopback port, with `env` on top of ours less `SIGIL_TRUST_CONFIG` (so trust comes only
/// from what `env` says).
pub fn start_webhook(dir: &Path, env: &[(String, String)], policy: &Path) -> Webhook {
    let tls = dir.join("tls");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .current_dir(dir)
        .env_remove("SIGIL_TRUST_CONFIG")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["admission", "serve", "--policy"])
        .arg(policy)
        .args(["--addr", "127.0.0.1:0", "--tls-self-signed"])
        .arg(&tls)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("webhook exited before serving:\n{seen}");
        };
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.split("serving https://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Webhook {
        child,
        addr,
        ca: tls.join("ca.crt"),
    }
}

/// Runs kubectl (no kubeconfig) with `args` and `-o json --dry-run=client`.
fn kubectl(args: &[&str]) -> Output {
    Command::new(system_bin("kubectl"))
        .args(args)
        .args(["--dry-run=client", "-o", "json"])
        .env("KUBECONFIG", "/dev/null")
        .output()
        .unwrap()
}

/// The object kubectl printed, failing the test if kubectl failed.
fn object(out: Output) -> Value {
    assert!(
        out.status.success(),
        "kubectl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `kubectl run NAME --image IMG --restart=Never --dry-run=client -o json` (kubectl run
/// needs API discovery: the stub of testdata/fake_discovery.py answers it; see
/// testdata/SOURCE.md).
pub fn kubectl_run(name: &str, image: &str) -> Value {
    let port = free_port();
    let mut stub = Command::new(system_bin("python3"))
        .arg(testdata("fake_discovery.py"))
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(&format!("127.0.0.1:{port}"), Duration::from_secs(10));
    let out = kubectl(&[
        &format!("--server=http://127.0.0.1:{port}"),
        "run",
        name,
        &format!("--image={image}"),
        "--restart=Never",
    ]);
    let _ = stub.kill();
    let _ = stub.wait();
    object(out)
}

/// `kubectl create deployment NAME --image IMG --dry-run=client -o json`.
pub fn kubectl_create_deployment(name: &str, image: &str) -> Value {
    object(kubectl(&[
        "create",
        "deployment",
        name,
        &format!("--image={image}"),
    ]))
}
