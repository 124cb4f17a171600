//! Two pieces of CPU work side by side: multi-MiB attestations are hashed, encoded and
//! parsed in several independent passes, which two cores can share. Scoped standard threads
//! (no thread pool: a command does this a few times per run, a server only for large
//! entries).

/// Runs `side` on a second thread named `name` while `main` runs on this one, and returns
/// both results. If the thread cannot start, or stops without a result, `side` runs here
/// after `main`: the work is always done once more rather than lost.
pub fn join<A, B>(name: &str, side: impl Fn() -> A + Sync, main: impl FnOnce() -> B) -> (A, B)
where
    A: Send,
{
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn_scoped(scope, &side);
        let b = main();
        let a = match handle.map(|h| h.join()) {
            Ok(Ok(a)) => a,
            _ => side(),
        };
        (a, b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_results_come_back() {
        let data = vec![3u64; 1000];
        let mut written = Vec::new();
        let (sum, ()) = join(
            "sum",
            || data.iter().sum::<u64>(),
            || written.extend_from_slice(&data),
        );
        assert_eq!(sum, 3000);
        assert_eq!(written, data);
    }
}
