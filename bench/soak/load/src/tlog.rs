//! The `tlog` mode's request bodies: distinct hashedrekord entries, each with its own
//! signature, which the log verifies.

use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use sigil_core::keys::PrivateKey;

/// One connection's entries. Entry `k` is the artifact `soak <run> <conn> <k>`, its SHA-256
/// and a P-256 signature by the connection's key, in a request body of which only the hash and
/// the signature change from one entry to the next.
///
/// The first entries' signatures are made in [`Entries::new`], before the clock starts:
/// signing (~17 µs per P-256 signature) was a third of the generator's CPU during a run,
/// taken from the cores the log needs (~55 s on two threads for a 600 s run at 10,000/s,
/// ~96 bytes held per entry). Entries past those are signed when they are written.
pub struct Entries {
    key: PrivateKey,
    run: u64,
    conn: usize,
    /// `{"apiVersion":…"value":"`
    head: &'static [u8],
    /// `"}},"signature":{"content":"`
    middle: &'static [u8],
    /// `","publicKey":{"content":"<base64 PEM>"}}}}`
    tail: Vec<u8>,
    /// base64 signatures of the first entries, one after another; entry `k` ends at `ends[k]`.
    sigs: String,
    ends: Vec<usize>,
}

impl Entries {
    /// Connection `conn`'s entries for `run`, with a fresh key and the first `presigned`
    /// signatures made now.
    pub fn new(run: u64, conn: usize, presigned: usize) -> Option<Entries> {
        let key = PrivateKey::generate_p256().ok()?;
        let pem = B64.encode(key.public_key().to_pem());
        let mut entries = Entries {
            key,
            run,
            conn,
            head: br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":""#,
            middle: br#""}},"signature":{"content":""#,
            tail: format!(r#"","publicKey":{{"content":"{pem}"}}}}}}}}"#).into_bytes(),
            sigs: String::with_capacity(presigned * 96),
            ends: Vec::with_capacity(presigned),
        };
        let mut artifact = String::with_capacity(64);
        for k in 0..presigned {
            entries.artifact(k as u64, &mut artifact);
            let sig = entries.key.sign(artifact.as_bytes()).ok()?;
            B64.encode_string(sig, &mut entries.sigs);
            entries.ends.push(entries.sigs.len());
        }
        Some(entries)
    }

    fn artifact(&self, k: u64, out: &mut String) {
        use std::fmt::Write as _;
        out.clear();
        let _ = write!(out, "soak {:016x} {} {k}", self.run, self.conn);
    }

    fn presigned(&self, k: u64) -> Option<&str> {
        let k = usize::try_from(k).ok()?;
        let end = *self.ends.get(k)?;
        let begin = k.checked_sub(1).map_or(0, |i| self.ends[i]);
        self.sigs.get(begin..end)
    }

    /// Writes entry `k`'s request body into `out` (`artifact` is scratch space).
    pub fn write(&self, k: u64, artifact: &mut String, out: &mut Vec<u8>) -> Option<()> {
        self.artifact(k, artifact);
        let fresh;
        let sig = match self.presigned(k) {
            Some(s) => s,
            None => {
                fresh = B64.encode(self.key.sign(artifact.as_bytes()).ok()?);
                fresh.as_str()
            }
        };
        let mut hex_buf = [0u8; 64];
        hex::encode_to_slice(Sha256::digest(artifact.as_bytes()), &mut hex_buf).ok()?;
        out.extend_from_slice(self.head);
        out.extend_from_slice(&hex_buf);
        out.extend_from_slice(self.middle);
        out.extend_from_slice(sig.as_bytes());
        out.extend_from_slice(&self.tail);
        Some(())
    }
}

/// Every connection's [`Entries`] for `run`, `presigned` signatures each, made on all cores;
/// says how long the signing took on stderr. `None` if a key or a signature failed.
pub fn presign(run: u64, conns: usize, presigned: usize) -> Option<Vec<Entries>> {
    let began = Instant::now();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(conns.max(1));
    let per_thread = conns.div_ceil(threads).max(1);
    let mut out: Vec<Option<Entries>> = (0..conns).map(|_| None).collect();
    std::thread::scope(|scope| {
        for (i, chunk) in out.chunks_mut(per_thread).enumerate() {
            scope.spawn(move || {
                for (j, slot) in chunk.iter_mut().enumerate() {
                    *slot = Entries::new(run, i * per_thread + j, presigned);
                }
            });
        }
    });
    let out: Option<Vec<Entries>> = out.into_iter().collect();
    if presigned > 0 {
        eprintln!(
            "presigned {} entries in {:.1} s on {threads} threads",
            presigned * conns,
            began.elapsed().as_secs_f64()
        );
    }
    out
}
