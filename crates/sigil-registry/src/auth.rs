//! HTTP basic authentication against an htpasswd file with bcrypt hashes, the only kind
//! distribution's `htpasswd` auth accepts (`registry/auth/htpasswd`).
//!
//! bcrypt is slow on purpose (tens of milliseconds per check), and clients send credentials
//! with every request, so a successful check is remembered as a SHA-256 of the credentials
//! for the life of the process; a failed one is checked again every time.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
use base64::Engine;

use crate::Error;

/// Users and bcrypt hashes from an htpasswd file.
pub struct Htpasswd {
    users: HashMap<String, String>,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl std::fmt::Debug for Htpasswd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Htpasswd")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl Htpasswd {
    /// Reads `user:bcrypt-hash` lines; blank lines and `#` comments are skipped.
    pub fn load(path: &Path) -> Result<Htpasswd, Error> {
        let text = std::fs::read_to_string(path).map_err(Error::io("reading", path))?;
        Htpasswd::parse(&text, path)
    }

    fn parse(text: &str, path: &Path) -> Result<Htpasswd, Error> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason| Error::Htpasswd {
                path: path.to_owned(),
                line: i + 1,
                reason,
            };
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| err("expected `user:hash`"))?;
            if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
                return Err(err(
                    "only bcrypt hashes are supported (create them with `htpasswd -B`)",
                ));
            }
            users.insert(user.to_owned(), hash.to_owned());
        }
        if users.is_empty() {
            return Err(Error::Htpasswd {
                path: path.to_owned(),
                line: 0,
                reason: "no users",
            });
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// Whether an `Authorization` header carries valid basic credentials.
    pub async fn check(self: &Arc<Self>, header: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = header.and_then(basic_credentials) else {
            return false;
        };
        let Some(hash) = self.users.get(&user).cloned() else {
            return false;
        };
        let key: [u8; 32] = {
            let d = ring::digest::digest(
                &ring::digest::SHA256,
                format!("{user}\0{password}\0{hash}").as_bytes(),
            );
            let mut k = [0u8; 32];
            k.copy_from_slice(d.as_ref());
            k
        };
        if self
            .verified
            .lock()
            .map(|v| v.contains(&key))
            .unwrap_or(false)
        {
            return true;
        }
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        if ok {
            if let Ok(mut v) = self.verified.lock() {
                v.insert(key);
            }
        }
        ok
    }
}

fn basic_credentials(v: &HeaderValue) -> Option<(String, String)> {
    let s = v.to_str().ok()?;
    let (scheme, b64) = s.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn header(user: &str, pass: &str) -> HeaderValue {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        HeaderValue::from_str(&format!("Basic {b}")).unwrap()
    }

    #[tokio::test]
    async fn bcrypt_users_are_checked() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let h =
            Arc::new(Htpasswd::parse(&format!("# users\nalice:{hash}\n"), Path::new("x")).unwrap());
        assert!(h.check(Some(&header("alice", "s3cret"))).await);
        assert!(h.check(Some(&header("alice", "s3cret"))).await); // cached
        assert!(!h.check(Some(&header("alice", "wrong"))).await);
        assert!(!h.check(Some(&header("bob", "s3cret"))).await);
        assert!(!h.check(None).await);
        assert!(!h.check(Some(&HeaderValue::from_static("Bearer x"))).await);
    }

    #[test]
    fn non_bcrypt_hashes_are_refused() {
        let e = Htpasswd::parse("bob:{SHA}abc\n", Path::new("p")).unwrap_err();
        assert!(e.to_string().contains("bcrypt"), "{e}");
        assert!(Htpasswd::parse("\n", Path::new("p")).is_err());
    }
}
