//! Sends distinct hashedrekord entries to `POST /api/v1/log/entries` at a constant target
//! rate for a duration, from many keep-alive connections, and prints one line per window (by
//! arrival time): answers and 201s per second, non-201 answers, service-time p50/p99 (from
//! the moment the request was written) and p99 from the scheduled time (which includes the
//! wait when the log falls behind the schedule, as wrk2 reports), and the server's RSS. What
//! the schedule asked for but could not be sent before the end is counted at the end.
//!
//! Usage: sigil-soak-load ADDR PID RATE DURATION_S WINDOW_S CONNECTIONS

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use sigil_core::keys::PrivateKey;

struct Sample {
    /// When the answer arrived, from the start.
    done_at: Duration,
    service: Duration,
    corrected: Duration,
    ok: bool,
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> T {
    args.get(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fail(&format!("missing or invalid {name}")))
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}\nusage: sigil-soak-load ADDR PID RATE DURATION_S WINDOW_S CONNECTIONS");
    std::process::exit(2)
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

/// One HTTP/1.1 exchange on a keep-alive connection; returns the status.
fn exchange(conn: &mut BufReader<TcpStream>, addr: &str, body: &[u8]) -> std::io::Result<u16> {
    let head = format!(
        "POST /api/v1/log/entries HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let s = conn.get_mut();
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line `{line}`")))?;
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
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
    }
    if chunked {
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            let mut buf = vec![0u8; n + 2];
            conn.read_exact(&mut buf)?;
            if n == 0 {
                break;
            }
        }
    } else {
        let mut buf = vec![0u8; length];
        conn.read_exact(&mut buf)?;
    }
    Ok(status)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr: String = arg(&args, 1, "ADDR");
    let pid: u32 = arg(&args, 2, "PID");
    let rate: f64 = arg(&args, 3, "RATE");
    let duration: u64 = arg(&args, 4, "DURATION_S");
    let window: u64 = arg(&args, 5, "WINDOW_S");
    let conns: usize = arg(&args, 6, "CONNECTIONS");
    let (tx, rx) = mpsc::channel::<Sample>();
    let start = Instant::now() + Duration::from_millis(200);
    let end = Duration::from_secs(duration);
    let interval = Duration::from_secs_f64(conns as f64 / rate);
    let mut threads = Vec::new();
    for t in 0..conns {
        let (tx, addr) = (tx.clone(), addr.clone());
        threads.push(std::thread::spawn(move || {
            let Ok(key) = PrivateKey::generate_p256() else {
                return;
            };
            let pem = B64.encode(key.public_key().to_pem());
            let connect = || TcpStream::connect(&addr).map(BufReader::new);
            let mut conn = connect().ok();
            let offset = Duration::from_secs_f64(t as f64 / rate);
            for k in 0u64.. {
                let scheduled = offset + interval * (k as u32);
                // Stop at the end of the run even when behind schedule: what was not sent by
                // then is reported as not sent, not sent late.
                if scheduled >= end || start.elapsed() >= end {
                    break;
                }
                let artifact = format!("soak {t} {k} {:?}", start);
                let hash = hex::encode(Sha256::digest(artifact.as_bytes()));
                let Ok(sig) = key.sign(artifact.as_bytes()) else {
                    continue;
                };
                let body = format!(
                    r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{hash}"}}}},"signature":{{"content":"{}","publicKey":{{"content":"{pem}"}}}}}}}}"#,
                    B64.encode(sig)
                );
                let due = start + scheduled;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let sent = Instant::now();
                let ok = match conn.as_mut().map(|c| exchange(c, &addr, body.as_bytes())) {
                    Some(Ok(status)) => status == 201,
                    _ => {
                        conn = connect().ok();
                        false
                    }
                };
                let done = Instant::now();
                let _ = tx.send(Sample {
                    done_at: done.saturating_duration_since(start),
                    service: done - sent,
                    corrected: done - due,
                    ok,
                });
            }
        }));
    }
    drop(tx);
    println!(
        "{:>7} {:>10} {:>10} {:>7} {:>9} {:>9} {:>13} {:>8}",
        "window", "answers/s", "201/s", "non201", "p50_ms", "p99_ms", "p99_sched_ms", "rss_MiB"
    );
    let mut rss = vec![rss_mib(pid)];
    let windows = duration.div_ceil(window);
    let mut buckets: Vec<Vec<Sample>> = (0..windows).map(|_| Vec::new()).collect();
    let mut printed = 0u64;
    let mut worst = 0f64;
    let mut total = (0usize, 0usize);
    let pct = |v: &mut Vec<Duration>, p: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        v.sort();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let mut flush = |upto: u64, buckets: &mut Vec<Vec<Sample>>, printed: &mut u64| {
        while *printed < upto.min(windows) {
            let w = *printed as usize;
            let b = std::mem::take(&mut buckets[w]);
            let non_ok = b.iter().filter(|s| !s.ok).count();
            total.0 += b.len();
            total.1 += non_ok;
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
            *printed += 1;
        }
    };
    // Answers are bucketed by arrival time; a window is printed once the clock has passed
    // its end by a second.
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
    let scheduled = (rate * duration as f64) as usize;
    println!(
        "appends scheduled: {scheduled}, answered: {}, not sent (behind schedule at the end): {}, not 201: {}; worst window p99 (service) {:.2} ms; RSS start {} MiB, end {} MiB",
        total.0,
        scheduled.saturating_sub(total.0),
        total.1,
        worst,
        rss.first().copied().unwrap_or(0),
        rss.last().copied().unwrap_or(0)
    );
}
