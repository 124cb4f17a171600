//! Running and reporting the lab's steps: child `sigil` processes with the stack's
//! environment, expectations on their exit codes and messages, ✓/✗ lines, a spinner while a
//! step runs (on a terminal only), and the summary table.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::BreakLink;

/// Variables a caller's shell may hold that would change what the lab's commands do: the lab
/// sets what it needs itself.
const CLEARED_ENV: &[&str] = &[
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "SIGSTORE_ID_TOKEN",
    "COSIGN_REPOSITORY",
    "COSIGN_PASSWORD",
    "SIGIL_TRUST_CONFIG",
    "SOURCE_DATE_EPOCH",
];

/// What a command must do for its step to pass.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// Exit 0.
    Success,
    /// Exit `code`, with `text` in its output (the lab's error message).
    Failure { code: i32, text: &'static str },
}

/// A finished child process.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug)]
struct Record {
    exercise: &'static str,
    title: String,
    ok: bool,
    elapsed: Duration,
}

/// The lab's state: where its files are, the stack's environment, what ran.
#[derive(Debug)]
pub struct Lab {
    pub exe: PathBuf,
    pub work: PathBuf,
    pub app: PathBuf,
    pub broken: Option<BreakLink>,
    pub env: Vec<(String, String)>,
    exercise: &'static str,
    title: String,
    records: Vec<Record>,
    started: Instant,
    color: bool,
    spinner: bool,
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '@' | '=' | ',')
        });
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `sigil ARGS…` as a shell would read it.
pub fn command_line(args: &[String]) -> String {
    std::iter::once("sigil".to_owned())
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn indent(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = all.len().saturating_sub(lines);
    all.get(start..)
        .unwrap_or_default()
        .iter()
        .map(|l| format!("    {l}\n"))
        .collect()
}

impl Lab {
    pub fn new(exe: PathBuf, work: PathBuf, app: PathBuf, broken: Option<BreakLink>) -> Lab {
        Lab {
            exe,
            work,
            app,
            broken,
            env: Vec::new(),
            exercise: "",
            title: String::new(),
            records: Vec::new(),
            started: Instant::now(),
            color: std::io::stdout().is_terminal(),
            spinner: std::io::stderr().is_terminal(),
        }
    }

    /// A variable of the stack's environment.
    pub fn var(&self, name: &str) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// A path in the lab's work directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    /// Starts a group of steps (one exercise of the lab).
    pub fn exercise(&mut self, name: &'static str) {
        self.exercise = name;
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Prints a step's title, the lab's command and sigil's.
    pub fn header(&mut self, title: &str, lab: &str, sigil: &str) {
        self.title = title.to_owned();
        println!("\n{}", self.paint("1", &format!("== {title}")));
        println!("   lab:   {lab}");
        println!("   sigil: {sigil}");
        let _ = std::io::stdout().flush();
    }

    /// Records the current step's outcome and prints ✓ or ✗.
    pub fn record(&mut self, what: &str, ok: bool, elapsed: Duration, note: &str) {
        let ms = elapsed.as_millis();
        if ok {
            println!("{}", self.paint("32", &format!("✓ {note} ({ms} ms)")));
        } else {
            println!("{}", self.paint("31", &format!("✗ {note} ({ms} ms)")));
        }
        let _ = std::io::stdout().flush();
        let title = if self.title.is_empty() {
            what.to_owned()
        } else {
            self.title.clone()
        };
        self.records.push(Record {
            exercise: self.exercise,
            title,
            ok,
            elapsed,
        });
    }

    /// A spinner on stderr while `fut` runs (only when stderr is a terminal).
    pub async fn spin<T>(&self, fut: impl std::future::Future<Output = T>) -> T {
        if !self.spinner {
            return fut.await;
        }
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_message(self.title.clone());
        pb.enable_steady_tick(Duration::from_millis(80));
        let out = fut.await;
        pb.finish_and_clear();
        out
    }

    /// Runs `sigil ARGS…` in the work directory with the stack's environment plus `extra`.
    /// `stdout_to`: write standard output to this file instead of capturing it.
    pub async fn sigil(
        &self,
        args: &[String],
        extra: &[(String, String)],
        stdout_to: Option<&Path>,
    ) -> Output {
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.args(args)
            .current_dir(&self.work)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for k in CLEARED_ENV {
            cmd.env_remove(k);
        }
        cmd.env("COSIGN_PASSWORD", "lab-pass");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.envs(extra.iter().map(|(k, v)| (k, v)));
        match stdout_to {
            Some(path) => match std::fs::File::create(path) {
                Ok(f) => {
                    cmd.stdout(Stdio::from(f));
                }
                Err(e) => {
                    return Output {
                        code: None,
                        stdout: String::new(),
                        stderr: format!("error: creating `{}`: {e}", path.display()),
                    }
                }
            },
            None => {
                cmd.stdout(Stdio::piped());
            }
        }
        // `spawn` + `wait_with_output` rather than `output`, which would pipe stdout even
        // when it was set to a file.
        let run = async { cmd.spawn()?.wait_with_output().await };
        match self.spin(run).await {
            Ok(o) => Output {
                code: o.status.code(),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            },
            Err(e) => Output {
                code: None,
                stdout: String::new(),
                stderr: format!("error: running `{}`: {e}", self.exe.display()),
            },
        }
    }

    /// One step: prints its header, runs `sigil ARGS…`, checks `expect`, records ✓/✗.
    /// Returns whether it passed and the command's output.
    pub async fn step(
        &mut self,
        title: &str,
        lab: &str,
        args: &[String],
        extra: &[(String, String)],
        expect: Expect,
        success: &str,
    ) -> (bool, Output) {
        self.header(title, lab, &command_line(args));
        let t = Instant::now();
        let out = self.sigil(args, extra, None).await;
        let elapsed = t.elapsed();
        let ok = self.judge(&out, expect, success, elapsed);
        (ok, out)
    }

    /// Checks a finished command against `expect`, prints its messages and records the step.
    pub fn judge(
        &mut self,
        out: &Output,
        expect: Expect,
        success: &str,
        elapsed: Duration,
    ) -> bool {
        match expect {
            Expect::Success => {
                let ok = out.code == Some(0);
                if ok {
                    print!("{}", indent(&out.stderr, 8));
                    self.record(success, true, elapsed, success);
                } else {
                    print!("{}", indent(&out.stderr, 40));
                    let code = out
                        .code
                        .map(|c| format!("exit {c}"))
                        .unwrap_or_else(|| "killed".into());
                    self.record(
                        success,
                        false,
                        elapsed,
                        &format!("expected success, got {code}"),
                    );
                }
                ok
            }
            Expect::Failure { code, text } => {
                print!("{}", indent(&out.stderr, 4));
                let said = out.stdout.contains(text) || out.stderr.contains(text);
                let ok = out.code == Some(code) && said;
                let note = if ok {
                    format!("failed as expected (exit {code}: {text})")
                } else {
                    format!(
                        "expected exit {code} with `{text}`, got {}{}",
                        out.code
                            .map(|c| format!("exit {c}"))
                            .unwrap_or_else(|| "no exit code".into()),
                        if said { "" } else { " without that message" }
                    )
                };
                self.record(text, ok, elapsed, &note);
                ok
            }
        }
    }

    /// Prints the summary table; true when every step passed.
    pub fn summary(&self) -> bool {
        println!("\n{}", self.paint("1", "Summary"));
        println!("  {:<34} {:>7} {:>10}", "exercise", "steps", "time");
        let mut groups: Vec<(&str, usize, usize, Duration)> = Vec::new();
        for r in &self.records {
            match groups.iter_mut().find(|g| g.0 == r.exercise) {
                Some(g) => {
                    g.1 += usize::from(r.ok);
                    g.2 += 1;
                    g.3 += r.elapsed;
                }
                None => groups.push((r.exercise, usize::from(r.ok), 1, r.elapsed)),
            }
        }
        for (name, ok, n, t) in &groups {
            let mark = if ok == n { "✓" } else { "✗" };
            println!(
                "  {mark} {:<32} {:>7} {:>7} ms",
                name,
                format!("{ok}/{n}"),
                t.as_millis()
            );
        }
        let failed: Vec<&Record> = self.records.iter().filter(|r| !r.ok).collect();
        println!(
            "  {:<34} {:>7} {:>7} ms (wall)",
            "total",
            format!(
                "{}/{}",
                self.records.len() - failed.len(),
                self.records.len()
            ),
            self.started.elapsed().as_millis()
        );
        println!();
        if failed.is_empty() {
            println!("{}", self.paint("1;32", "All steps held."));
            true
        } else {
            println!(
                "{}",
                self.paint("1;31", &format!("{} step(s) failed:", failed.len()))
            );
            for r in failed {
                println!("  ✗ {}", r.title);
            }
            false
        }
    }
}
