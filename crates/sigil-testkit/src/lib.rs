//! The test harness for interoperability tests: finds and starts the real peers that
//! `scripts/install-peers.sh` installs, on 127.0.0.1 with ephemeral ports, and stops them when
//! the handle drops. A test that needs a missing peer fails with the command that installs it;
//! it never passes silently.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod image;
pub mod registry;
pub mod stack;
pub mod tuf;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str =
    "run `bash scripts/install-peers.sh` (as root) to install the test peers";

/// The workspace root (where `Cargo.lock` is).
pub fn workspace_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("Cargo.lock").exists() {
        if !dir.pop() {
            panic!("no Cargo.lock above {}", env!("CARGO_MANIFEST_DIR"));
        }
    }
    dir
}

/// The peers' Python venv: `$SIGIL_PEERS_VENV`, else `<workspace>/.venv-peers`.
pub fn peers_venv() -> PathBuf {
    std::env::var_os("SIGIL_PEERS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-peers"))
}

/// A program from the peers' venv (`sigstore`, `syft`, `pyspdxtools`, `python`), or a panic
/// saying how to install it.
pub fn venv_bin(name: &str) -> PathBuf {
    let p = peers_venv().join("bin").join(name);
    assert!(
        p.exists(),
        "peer `{}` is missing: {INSTALL_HINT}",
        p.display()
    );
    p
}

/// A program on PATH (`docker-registry`, `skopeo`, `umoci`), or a panic saying how to install it.
pub fn system_bin(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("peer `{name}` is not on PATH: {INSTALL_HINT}");
}

/// A free TCP port on 127.0.0.1 (bound, then released: for peers that cannot take port 0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_for_port(addr: &str, timeout: Duration) {
    let start = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < timeout,
            "nothing listens on {addr} after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running child process, killed when dropped.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    /// `127.0.0.1:PORT` it listens on.
    pub addr: String,
    /// Temporary directories that live as long as the peer.
    dirs: Vec<tempfile::TempDir>,
}

impl Peer {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and reap: a crash, for crash tests.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Starts `<sigil> ARGS` (a `… serve` command), reads the bound address from its first
/// stdout line (`listening on ADDR`) and waits until the port accepts connections. The
/// server's stderr goes to the test's stderr when `show_stderr`, else nowhere.
pub fn start_sigil(sigil: &Path, args: &[&str], show_stderr: bool) -> Peer {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(sigil)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if show_stderr {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", sigil.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?} from sigil {args:?}"))
        .to_owned();
    wait_for_port(&addr, Duration::from_secs(10));
    Peer {
        child,
        addr,
        dirs: Vec::new(),
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Debian's `docker-registry` (distribution 2.8) on an ephemeral loopback port with a
/// temporary storage root and deletes enabled.
pub fn start_distribution() -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut peer = start_distribution_at(&data, false);
    peer.dirs.push(dir);
    peer
}

/// Starts `docker-registry` over the storage root `data` (kept after the peer stops, so a
/// test can restart the registry on the same data), read-only when `readonly` (every write
/// then fails, as on a registry in maintenance).
pub fn start_distribution_at(data: &Path, readonly: bool) -> Peer {
    let bin = system_bin("docker-registry");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\n  maintenance: {{readonly: {{enabled: {readonly}}}}}\nhttp:\n  addr: {addr}\n",
            data.display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(&addr, Duration::from_secs(20));
    Peer {
        child,
        addr,
        dirs: vec![dir],
    }
}

/// Runs `cmd`, panicking with its output unless it exits 0; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies a file or directory tree (for building test layouts).
pub fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}
