//! Kyverno's wildcard patterns (`ext/wildcard/match.go` over IGLOU-EU/go-wildcard v1.0.3):
//! whole-string, case-sensitive; `*` matches any run of characters including `/`, `:` and `@`
//! and the empty run; `?` matches exactly one character; an empty pattern matches only the
//! empty string. Used for image references, kinds, names, namespaces, subjects and issuers.
//!
//! Hand-written (a dozen lines) because the glob crates give `*` path semantics (`*` stops at
//! `/`), which is policy-controller's dialect, not Kyverno's.

/// Whether `pattern` matches all of `text`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let states = run(pattern, text);
    let p: Vec<char> = pattern.chars().collect();
    states.iter().any(|&s| accepts_from(&p, s))
}

/// Whether some continuation of `prefix` is matched by `pattern`: `pattern` matches
/// `prefix + s` for at least one string `s`. Used to decide whether a digest-pinned image,
/// whose tag is unknown, could be one of the tags a `repo:*` or `repo:v1.*` pattern names.
pub fn matches_some_extension(pattern: &str, prefix: &str) -> bool {
    // Every remaining pattern suffix matches some string, so any live state suffices.
    !run(pattern, prefix).is_empty()
}

/// The set of pattern positions reachable after consuming `text` (an NFA simulation:
/// linear in pattern × text, no backtracking blow-up on `*a*a*a*…`).
fn run(pattern: &str, text: &str) -> Vec<usize> {
    let p: Vec<char> = pattern.chars().collect();
    let mut states = closure(&p, vec![0]);
    for c in text.chars() {
        let mut next = Vec::new();
        for &s in &states {
            match p.get(s) {
                Some('*') => next.push(s),
                Some('?') => next.push(s + 1),
                Some(&pc) if pc == c => next.push(s + 1),
                _ => {}
            }
        }
        states = closure(&p, next);
        if states.is_empty() {
            break;
        }
    }
    states
}

/// Adds the positions after each `*` (a star may match the empty run).
fn closure(p: &[char], mut states: Vec<usize>) -> Vec<usize> {
    let mut i = 0;
    while i < states.len() {
        let s = states[i];
        if p.get(s) == Some(&'*') && !states.contains(&(s + 1)) {
            states.push(s + 1);
        }
        i += 1;
    }
    states.sort_unstable();
    states.dedup();
    states
}

fn accepts_from(p: &[char], s: usize) -> bool {
    s == p.len()
}

/// Whether `pattern` contains a wildcard.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kyverno_semantics() {
        assert!(matches("ghcr.io/*", "ghcr.io/a/b/c:1"));
        assert!(matches("*", ""));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(!matches("Pod", "pod"), "case-sensitive");
        let s = "https://github.com/u/r/.github/workflows/sign.yml@refs/tags/*";
        assert!(matches(
            s,
            "https://github.com/u/r/.github/workflows/sign.yml@refs/tags/v1.0.0"
        ));
        assert!(!matches(
            s,
            "https://github.com/u/r/.github/workflows/sign.yml@refs/heads/main"
        ));
        assert!(matches(
            "ghcr.io/kyverno/test-verify-image*",
            "ghcr.io/kyverno/test-verify-image-evil:1"
        ));
        assert!(!matches("ghcr.io/u/app:*", "ghcr.io/u/app@sha256:00"));
    }

    #[test]
    fn extensions() {
        assert!(matches_some_extension("ghcr.io/u/app:*", "ghcr.io/u/app:"));
        assert!(matches_some_extension(
            "ghcr.io/u/app:v1.*",
            "ghcr.io/u/app:"
        ));
        assert!(!matches_some_extension(
            "ghcr.io/u/other:*",
            "ghcr.io/u/app:"
        ));
        assert!(!matches_some_extension("ghcr.io/u/app", "ghcr.io/u/app:"));
    }

    #[test]
    fn no_exponential_backtracking() {
        let p = "*a".repeat(30);
        assert!(!matches(&p, &"a".repeat(29)));
    }
}
