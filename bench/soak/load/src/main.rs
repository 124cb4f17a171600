//! A constant-rate (wrk2-style) HTTP load generator for sigil's benchmarks and soaks.
//!
//! Requests are sent on a fixed schedule from many keep-alive connections (one thread each);
//! a slow answer never causes a later request to be skipped, so latency is measured both from
//! the moment a request was written (service time) and from the moment it was scheduled
//! (which includes the wait when the server falls behind, as wrk2 reports). One line is
//! printed per window (by arrival time): answers and expected answers per second, other
//! answers, service p50/p99, scheduled p99 and the server's RSS; then totals, whole-run
//! percentiles and what the schedule asked for but could not be sent before the end.
//!
//! Modes:
//! - `tlog`: distinct hashedrekord entries (one P-256 key per connection, a fresh signature
//!   per request, which the log verifies) to `POST {URL}/api/v1/log/entries`; expects 201.
//!   Over plain HTTP the signatures are made before the clock starts (see [`tlog::Entries`];
//!   `--sign-live` signs each request as it is sent).
//!   Over plain HTTP the connections are driven by one thread (a tokio current-thread
//!   runtime; `--threads N` for more) rather than one OS thread each: at 10,000 requests/s,
//!   128 blocking threads spent most of the generator's CPU switching between threads (two
//!   switches per request: the sleep until the scheduled time and the wait for the answer).
//!   tokio's timers have a 1 ms resolution, so a request may leave up to 1 ms after its
//!   scheduled time: the scheduled-time latency includes that, the service time does not.
//! - `get`: `GET URL`; expects 200. Each `{random:N}` in the URL's path becomes a number
//!   below N, fresh for every request.
//! - `post`: `POST URL` with `--body FILE` and `--content-type`; expects 200.
//!
//! Set `LOAD_DEBUG=1` to print each failed exchange's error on stderr.
//!
//! `https://` URLs are sent over TLS (rustls), trusting `--cacert FILE` (PEM).
//!
//! Why not wrk2 or oha: wrk2 is not packaged for Debian and oha's build is heavier than this
//! file; the `tlog` mode needs a fresh signature per request anyway.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

mod tlog;

use tlog::Entries;

const USAGE: &str = "usage: sigil-soak-load MODE URL --pid PID --rate R --duration S [--window S] \
[--connections N] [--threads N] [--body FILE] [--content-type T] [--cacert FILE] \
[--expect STATUS] [--header 'Name: value']... [--sign-live]
  MODE: tlog | get | post
  (legacy form: sigil-soak-load ADDR PID RATE DURATION_S WINDOW_S CONNECTIONS = tlog mode)";

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Tlog,
    Get,
    Post,
}

struct Opts {
    mode: Mode,
    host: String,
    port: u16,
    path: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    pid: u32,
    rate: f64,
    duration: u64,
    window: u64,
    conns: usize,
    body: Arc<Vec<u8>>,
    content_type: String,
    expect: u16,
    /// Extra request header lines (`--header`, repeatable), each ending in CRLF.
    headers: String,
    /// Runtime threads of the `tlog` mode over plain HTTP.
    threads: usize,
    /// `tlog` mode over plain HTTP: sign each entry when it is sent (`--sign-live`) instead of
    /// before the clock starts.
    sign_live: bool,
}

struct Sample {
    /// When the answer arrived, from the start.
    done_at: Duration,
    service: Duration,
    corrected: Duration,
    ok: bool,
}

impl Sample {
    /// The answer that arrived now to a request scheduled at `due` and written at `sent`.
    fn now(start: Instant, due: Instant, sent: Instant, ok: bool) -> Sample {
        let done = Instant::now();
        Sample {
            done_at: done.saturating_duration_since(start),
            service: done - sent,
            corrected: done - due,
            ok,
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}\n{USAGE}");
    std::process::exit(2)
}

fn parse<T: std::str::FromStr>(v: Option<&String>, name: &str) -> T {
    v.and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fail(&format!("missing or invalid {name}")))
}

fn tls_config(cacert: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(cacert)
        .unwrap_or_else(|e| fail(&format!("--cacert {cacert}: {e}")));
    for c in certs {
        let c = c.unwrap_or_else(|e| fail(&format!("--cacert {cacert}: {e}")));
        roots
            .add(c)
            .unwrap_or_else(|e| fail(&format!("--cacert {cacert}: {e}")));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| fail(&format!("TLS: {e}")))
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn parse_args() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args.first().map(String::as_str) {
        Some("tlog") => Mode::Tlog,
        Some("get") => Mode::Get,
        Some("post") => Mode::Post,
        // The first form of this tool, still used by older scripts.
        Some(_) if args.len() == 6 => {
            return Opts {
                mode: Mode::Tlog,
                host: parse::<String>(args.first(), "ADDR"),
                port: 0,
                path: "/api/v1/log/entries".into(),
                tls: None,
                pid: parse(args.get(1), "PID"),
                rate: parse(args.get(2), "RATE"),
                duration: parse(args.get(3), "DURATION_S"),
                window: parse(args.get(4), "WINDOW_S"),
                conns: parse(args.get(5), "CONNECTIONS"),
                body: Arc::new(Vec::new()),
                content_type: "application/json".into(),
                expect: 201,
                headers: String::new(),
                threads: 1,
                sign_live: false,
            }
            .split_addr();
        }
        _ => fail("missing MODE"),
    };
    let url: String = parse(args.get(1), "URL");
    let mut o = Opts {
        mode,
        host: String::new(),
        port: 0,
        path: String::new(),
        tls: None,
        pid: 0,
        rate: 0.0,
        duration: 0,
        window: 30,
        conns: 64,
        body: Arc::new(Vec::new()),
        content_type: "application/json".into(),
        expect: if mode == Mode::Tlog { 201 } else { 200 },
        headers: String::new(),
        threads: 1,
        sign_live: false,
    };
    let mut cacert = None;
    let mut i = 2;
    while i < args.len() {
        let v = args.get(i + 1);
        if args[i] == "--sign-live" {
            o.sign_live = true;
            i += 1;
            continue;
        }
        match args[i].as_str() {
            "--pid" => o.pid = parse(v, "--pid"),
            "--rate" => o.rate = parse(v, "--rate"),
            "--duration" => o.duration = parse(v, "--duration"),
            "--window" => o.window = parse(v, "--window"),
            "--connections" => o.conns = parse(v, "--connections"),
            "--threads" => o.threads = parse(v, "--threads"),
            "--content-type" => o.content_type = parse(v, "--content-type"),
            "--expect" => o.expect = parse(v, "--expect"),
            "--cacert" => cacert = Some(parse::<String>(v, "--cacert")),
            "--header" => {
                let h: String = parse(v, "--header");
                if !h.contains(':') || h.contains('\r') || h.contains('\n') {
                    fail(&format!("--header `{h}` is not `Name: value`"));
                }
                o.headers.push_str(&h);
                o.headers.push_str("\r\n");
            }
            "--body" => {
                let f: String = parse(v, "--body");
                o.body = Arc::new(
                    std::fs::read(&f).unwrap_or_else(|e| fail(&format!("--body {f}: {e}"))),
                );
            }
            other => fail(&format!("unknown option {other}")),
        }
        i += 2;
    }
    if o.rate <= 0.0 || o.duration == 0 || o.window == 0 || o.conns == 0 || o.threads == 0 {
        fail("--rate, --duration, --window, --connections and --threads must be positive");
    }
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        fail("URL must start with http:// or https://")
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    o.host = authority.to_string();
    o.path = match (mode, path) {
        (Mode::Tlog, p) => format!("{}/api/v1/log/entries", p.trim_end_matches('/')),
        (_, "") => "/".into(),
        (_, p) => p.to_string(),
    };
    if tls {
        o.tls = Some(tls_config(
            cacert
                .as_deref()
                .unwrap_or_else(|| fail("https:// needs --cacert")),
        ));
    }
    o.split_addr()
}

impl Opts {
    /// Splits `host:port` (port 80/443 by default) for connecting and for SNI.
    fn split_addr(mut self) -> Opts {
        let default = if self.tls.is_some() { 443 } else { 80 };
        let split = if self.host.starts_with('[') {
            self.host
                .find("]:")
                .map(|i| (&self.host[..=i], &self.host[i + 2..]))
        } else {
            self.host.rsplit_once(':')
        };
        let (h, p) = match split {
            Some((h, p)) => (h.to_string(), parse(Some(&p.to_string()), "port")),
            None => (self.host.clone(), default),
        };
        self.host = h;
        self.port = p;
        self
    }
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

fn connect(o: &Opts) -> std::io::Result<BufReader<Box<dyn Stream>>> {
    let tcp = TcpStream::connect((o.host.trim_matches(['[', ']']), o.port))?;
    tcp.set_nodelay(true)?;
    let stream: Box<dyn Stream> = match &o.tls {
        None => Box::new(tcp),
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(o.host.trim_matches(['[', ']']))
                .map_err(std::io::Error::other)?
                .to_owned();
            let conn = rustls::ClientConnection::new(config.clone(), name)
                .map_err(std::io::Error::other)?;
            Box::new(rustls::StreamOwned::new(conn, tcp))
        }
    };
    Ok(BufReader::with_capacity(64 << 10, stream))
}

/// One HTTP/1.1 exchange on a keep-alive connection; returns the status and whether the
/// server keeps the connection open.
fn exchange(
    conn: &mut BufReader<Box<dyn Stream>>,
    head: &[u8],
    body: &[u8],
) -> std::io::Result<(u16, bool)> {
    let s = conn.get_mut();
    if body.is_empty() {
        s.write_all(head)?;
    } else {
        let mut req = Vec::with_capacity(head.len() + body.len());
        req.extend_from_slice(head);
        req.extend_from_slice(body);
        s.write_all(&req)?;
    }
    s.flush()?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line `{line}`")))?;
    let mut length = 0usize;
    let mut chunked = false;
    let mut keep_alive = line.starts_with("HTTP/1.1");
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
        if lower.starts_with("connection:") && lower.contains("close") {
            keep_alive = false;
        }
    }
    if chunked {
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            std::io::copy(&mut (&mut *conn).take(n as u64 + 2), &mut std::io::sink())?;
            if n == 0 {
                break;
            }
        }
    } else {
        std::io::copy(&mut (&mut *conn).take(length as u64), &mut std::io::sink())?;
    }
    Ok((status, keep_alive))
}

/// This process's CPU time so far, user and system, in seconds (`/proc/self/stat`, in
/// USER_HZ ticks, which Linux fixes at 100 for user space).
fn own_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let field = |i: usize| {
        rest.split_whitespace()
            .nth(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    // utime and stime are the 14th and 15th fields of the whole line, 12th and 13th here.
    (field(11), field(12))
}

fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// One connection on its own thread; `entries` in the `tlog` mode.
fn client(
    o: Arc<Opts>,
    t: usize,
    entries: Option<Entries>,
    start: Instant,
    tx: mpsc::Sender<Sample>,
) {
    let end = Duration::from_secs(o.duration);
    let interval = Duration::from_secs_f64(o.conns as f64 / o.rate);
    let mut artifact = String::with_capacity(64);
    let method = if o.mode == Mode::Get { "GET" } else { "POST" };
    let host = if o.port == 80 || o.port == 443 {
        o.host.clone()
    } else {
        format!("{}:{}", o.host, o.port)
    };
    let mut conn = None;
    let debug = std::env::var_os("LOAD_DEBUG").is_some();
    let offset = Duration::from_secs_f64(t as f64 / o.rate);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    for k in 0u64.. {
        let scheduled = offset + interval * (k as u32);
        // Stop at the end of the run even when behind schedule: what was not sent by then is
        // reported as not sent, not sent late.
        if scheduled >= end || start.elapsed() >= end {
            break;
        }
        let mut fresh = Vec::new();
        let body: &[u8] = match &entries {
            Some(e) => {
                if e.write(k, &mut artifact, &mut fresh).is_none() {
                    continue;
                }
                &fresh
            }
            None => &o.body,
        };
        let path = random_in(&o.path, &mut rng);
        let head = if o.mode == Mode::Get {
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{}\r\n", o.headers)
        } else {
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n",
                o.content_type,
                body.len(),
                o.headers
            )
        };
        let due = start + scheduled;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let sent = Instant::now();
        if conn.is_none() {
            conn = connect(&o).ok();
        }
        let ok = match conn.as_mut().map(|c| exchange(c, head.as_bytes(), body)) {
            Some(Ok((status, keep_alive))) => {
                if !keep_alive {
                    conn = None;
                }
                status == o.expect
            }
            Some(Err(e)) => {
                if debug {
                    eprintln!("connection {t}: {e}");
                }
                conn = None;
                false
            }
            None => {
                if debug {
                    eprintln!("connection {t}: could not connect");
                }
                false
            }
        };
        let _ = tx.send(Sample::now(start, due, sent, ok));
    }
}

/// The `tlog` mode over plain HTTP: every connection is a task on `o.threads` runtime threads
/// (see the module docs for why).
fn run_tlog_async(o: Arc<Opts>, entries: Vec<Entries>, start: Instant, tx: mpsc::Sender<Sample>) {
    let rt = if o.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(o.threads)
            .enable_all()
            .build()
    };
    let rt = rt.unwrap_or_else(|e| fail(&format!("starting the runtime: {e}")));
    rt.block_on(async move {
        let tasks: Vec<_> = entries
            .into_iter()
            .enumerate()
            .map(|(t, e)| tokio::spawn(client_async(o.clone(), t, e, start, tx.clone())))
            .collect();
        drop(tx);
        for h in tasks {
            let _ = h.await;
        }
    });
}

async fn client_async(
    o: Arc<Opts>,
    t: usize,
    entries: Entries,
    start: Instant,
    tx: mpsc::Sender<Sample>,
) {
    let end = Duration::from_secs(o.duration);
    let interval = Duration::from_secs_f64(o.conns as f64 / o.rate);
    let host = format!("{}:{}", o.host, o.port);
    let head_start = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {}\r\n{}Content-Length: ",
        o.path, o.content_type, o.headers
    );
    let debug = std::env::var_os("LOAD_DEBUG").is_some();
    let offset = Duration::from_secs_f64(t as f64 / o.rate);
    let mut conn: Option<tokio::io::BufReader<tokio::net::TcpStream>> = None;
    let mut body = Vec::with_capacity(1024);
    let mut req = Vec::with_capacity(2048);
    let mut artifact = String::with_capacity(64);
    let mut line = String::with_capacity(128);
    for k in 0u64.. {
        let scheduled = offset + interval * (k as u32);
        if scheduled >= end || start.elapsed() >= end {
            break;
        }
        body.clear();
        if entries.write(k, &mut artifact, &mut body).is_none() {
            continue;
        }
        req.clear();
        req.extend_from_slice(head_start.as_bytes());
        req.extend_from_slice(body.len().to_string().as_bytes());
        req.extend_from_slice(b"\r\n\r\n");
        req.extend_from_slice(&body);
        let due = start + scheduled;
        tokio::time::sleep_until(due.into()).await;
        let sent = Instant::now();
        if conn.is_none() {
            conn = match tokio::net::TcpStream::connect((o.host.trim_matches(['[', ']']), o.port))
                .await
            {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    Some(tokio::io::BufReader::with_capacity(64 << 10, s))
                }
                Err(e) => {
                    if debug {
                        eprintln!("connection {t}: {e}");
                    }
                    None
                }
            };
        }
        let ok = match conn.as_mut() {
            Some(c) => match exchange_async(c, &req, &mut line).await {
                Ok((status, keep_alive)) => {
                    if !keep_alive {
                        conn = None;
                    }
                    status == o.expect
                }
                Err(e) => {
                    if debug {
                        eprintln!("connection {t}: {e}");
                    }
                    conn = None;
                    false
                }
            },
            None => false,
        };
        let _ = tx.send(Sample::now(start, due, sent, ok));
    }
}

/// [`exchange`] on a tokio stream, with the request already in one buffer.
async fn exchange_async(
    conn: &mut tokio::io::BufReader<tokio::net::TcpStream>,
    req: &[u8],
    line: &mut String,
) -> std::io::Result<(u16, bool)> {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
    conn.get_mut().write_all(req).await?;
    line.clear();
    conn.read_line(line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line `{line}`")))?;
    let mut keep_alive = line.starts_with("HTTP/1.1");
    let mut length = 0u64;
    let mut chunked = false;
    loop {
        line.clear();
        if conn.read_line(line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().unwrap_or(0);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked |= value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            keep_alive &= !value.to_ascii_lowercase().contains("close");
        }
    }
    if chunked {
        loop {
            line.clear();
            conn.read_line(line).await?;
            let n = u64::from_str_radix(line.trim(), 16).unwrap_or(0);
            tokio::io::copy(&mut (&mut *conn).take(n + 2), &mut tokio::io::sink()).await?;
            if n == 0 {
                break;
            }
        }
    } else {
        tokio::io::copy(&mut (&mut *conn).take(length), &mut tokio::io::sink()).await?;
    }
    Ok((status, keep_alive))
}

/// `path` with each `{random:N}` replaced by a fresh number below N (xorshift on `state`), so
/// that e.g. `/api/v1/log/entries?logIndex={random:10000000}` reads a different entry each time.
fn random_in(path: &str, state: &mut u64) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(i) = rest.find("{random:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "{random:".len()..];
        let Some(j) = after.find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let n: u64 = after[..j].parse().unwrap_or(1).max(1);
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        out.push_str(&(*state % n).to_string());
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn main() {
    let o = Arc::new(parse_args());
    let (tx, rx) = mpsc::channel::<Sample>();
    let async_tlog = o.mode == Mode::Tlog && o.tls.is_none();
    let mut entries = Vec::new();
    if o.mode == Mode::Tlog {
        // Entries differ from one run to the next, so a log kept between runs takes them.
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let presigned = if async_tlog && !o.sign_live {
            (o.rate * o.duration as f64 / o.conns as f64).ceil() as usize + 1
        } else {
            0
        };
        entries = tlog::presign(run, o.conns, presigned)
            .unwrap_or_else(|| fail("making the entries' keys and signatures failed"));
    }
    let start = Instant::now() + Duration::from_millis(300);
    let cpu_before = own_cpu();
    let mut threads = Vec::new();
    if async_tlog {
        let (o, tx) = (o.clone(), tx.clone());
        threads.push(std::thread::spawn(move || {
            run_tlog_async(o, entries, start, tx)
        }));
    } else {
        let mut entries = entries.into_iter();
        for t in 0..o.conns {
            let (o, tx, e) = (o.clone(), tx.clone(), entries.next());
            threads.push(std::thread::spawn(move || client(o, t, e, start, tx)));
        }
    }
    drop(tx);
    let expected = format!("{}/s", o.expect);
    println!(
        "{:>7} {:>10} {:>10} {:>7} {:>9} {:>9} {:>13} {:>8}",
        "window", "answers/s", expected, "other", "p50_ms", "p99_ms", "p99_sched_ms", "rss_MiB"
    );
    let (pid, window, duration) = (o.pid, o.window, o.duration);
    let mut rss = vec![rss_mib(pid)];
    let windows = duration.div_ceil(window);
    let mut buckets: Vec<Vec<Sample>> = (0..windows).map(|_| Vec::new()).collect();
    let mut printed = 0u64;
    let mut worst = 0f64;
    let (mut answered, mut other) = (0usize, 0usize);
    let mut all_service = Vec::new();
    let mut all_corrected = Vec::new();
    let mut flush = |upto: u64, buckets: &mut Vec<Vec<Sample>>, printed: &mut u64| {
        while *printed < upto.min(windows) {
            let w = *printed as usize;
            let b = std::mem::take(&mut buckets[w]);
            let non_ok = b.iter().filter(|s| !s.ok).count();
            answered += b.len();
            other += non_ok;
            let mut service: Vec<Duration> = b.iter().map(|s| s.service).collect();
            let mut corrected: Vec<Duration> = b.iter().map(|s| s.corrected).collect();
            let p99 = pct(&mut service, 0.99);
            worst = worst.max(p99);
            let r = rss_mib(pid);
            rss.push(r);
            println!(
                "{:>7} {:>10.0} {:>10.0} {:>7} {:>9.2} {:>9.2} {:>13.2} {:>8}",
                w + 1,
                b.len() as f64 / window as f64,
                (b.len() - non_ok) as f64 / window as f64,
                non_ok,
                pct(&mut service, 0.5),
                p99,
                pct(&mut corrected, 0.99),
                r
            );
            all_service.extend(service);
            all_corrected.extend(corrected);
            *printed += 1;
        }
    };
    // Answers are bucketed by arrival time; a window is printed once the clock has passed its
    // end by a second.
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(s) => {
                let w = (s.done_at.as_secs() / window).min(windows - 1) as usize;
                buckets[w].push(s);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let elapsed = Instant::now().saturating_duration_since(start);
        let complete = elapsed.saturating_sub(Duration::from_secs(1)).as_secs() / window;
        flush(complete, &mut buckets, &mut printed);
    }
    flush(windows, &mut buckets, &mut printed);
    for t in threads {
        let _ = t.join();
    }
    // Before the summary: other scripts read the summary as the last line.
    let cpu = own_cpu();
    let (user, sys) = (cpu.0 - cpu_before.0, cpu.1 - cpu_before.1);
    println!(
        "load generator CPU during the run: user {user:.1} s, sys {sys:.1} s ({:.0} us per answer)",
        if answered > 0 {
            (user + sys) / answered as f64 * 1e6
        } else {
            0.0
        }
    );
    let scheduled = (o.rate * duration as f64) as usize;
    println!(
        "requests scheduled: {scheduled}, answered: {answered}, not sent (behind schedule at the end): {}, not {}: {other}; whole run: service p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, scheduled p99 {:.2} ms; worst window p99 (service) {worst:.2} ms; RSS start {} MiB, end {} MiB",
        scheduled.saturating_sub(answered),
        o.expect,
        pct(&mut all_service, 0.5),
        pct(&mut all_service, 0.99),
        pct(&mut all_service, 0.999),
        pct(&mut all_corrected, 0.99),
        rss.first().copied().unwrap_or(0),
        rss.last().copied().unwrap_or(0)
    );
}
