use super::*;
use sigil_core::merkle::MemoryTree;

fn leaf(i: u64) -> NewLeaf {
    NewLeaf {
        data: format!("entry {i}").into_bytes(),
        keys: vec![search_key(&format!("k{i}")), search_key("shared")],
    }
}

fn fill(store: &FileStore, from: u64, to: u64, batch: u64) {
    let mut i = from;
    while i < to {
        let end = (i + batch).min(to);
        let leaves: Vec<NewLeaf> = (i..end).map(leaf).collect();
        assert_eq!(store.append(&leaves, 1000 + i as i64).unwrap(), i);
        i = end;
    }
}

fn reference(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.push(&leaf(i).data);
    }
    t
}

fn check(store: &FileStore, n: u64) {
    assert_eq!(store.size(), n);
    let t = reference(n);
    let nodes = Nodes(store);
    assert_eq!(merkle::root(&nodes, n).unwrap(), t.root_at(n).unwrap());
    for level in 0..12u32 {
        for i in 0..(n >> level) {
            assert_eq!(store.node(level, i).unwrap(), t.node(level, i).unwrap());
        }
    }
    for i in 0..n {
        assert_eq!(store.leaf_data(i).unwrap(), leaf(i).data);
        assert_eq!(
            store.find_leaf(&merkle::leaf_hash(&leaf(i).data)).unwrap(),
            Some(i)
        );
        assert_eq!(store.search(search_key(&format!("k{i}"))).unwrap(), vec![i]);
    }
    assert_eq!(
        store.search(search_key("shared")).unwrap(),
        (0..n).collect::<Vec<_>>()
    );
}

#[test]
fn appends_proofs_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = FileStore::open(dir.path()).unwrap();
        check(&s, 0);
        fill(&s, 0, 37, 5);
        check(&s, 37);
        let nodes = Nodes(&s);
        let t = reference(37);
        for size in 1..=37 {
            for i in 0..size {
                assert_eq!(
                    merkle::inclusion_proof(&nodes, i, size).unwrap(),
                    merkle::inclusion_proof(&t, i, size).unwrap()
                );
            }
        }
    }
    let s = FileStore::open(dir.path()).unwrap();
    check(&s, 37);
    fill(&s, 37, 100, 7);
    check(&s, 100);
    assert_eq!(s.leaf_info(5).unwrap().integrated_time, 1005);
    assert!(matches!(
        s.leaf_info(100),
        Err(StoreError::NoSuchLeaf { .. })
    ));
    assert!(s.node(0, 100).is_err());
    assert_eq!(s.find_leaf(&[0u8; 32]).unwrap(), None);
}

#[test]
fn recovers_from_torn_tails_and_lost_levels() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = FileStore::open(dir.path()).unwrap();
        fill(&s, 0, 50, 8);
    }
    // A torn batch: half an index record, stray data, a garbage level tail.
    let append = |name: &str, bytes: &[u8]| {
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(name))
            .unwrap();
        f.write_all(bytes).unwrap();
    };
    append("index.dat", &[7u8; 40]);
    append("entries.dat", b"half an entry");
    append("level-00.dat", &[9u8; 64]);
    // Levels claimed synced at 20 only: everything after must be recomputed.
    std::fs::write(dir.path().join("levels.synced"), 20u64.to_le_bytes()).unwrap();
    {
        let s = FileStore::open(dir.path()).unwrap();
        check(&s, 50);
        fill(&s, 50, 64, 3);
        check(&s, 64);
    }
    // A record whose data never made it to disk is dropped with everything after it.
    {
        let f = OpenOptions::new()
            .write(true)
            .open(dir.path().join("entries.dat"))
            .unwrap();
        let len = f.metadata().unwrap().len();
        f.write_all_at(b"XXXX", len - 4).unwrap();
    }
    let s = FileStore::open(dir.path()).unwrap();
    check(&s, 63);
    fill(&s, 63, 70, 2);
    check(&s, 70);
    // A deleted level file is rebuilt from the index.
    drop(s);
    std::fs::remove_file(dir.path().join("level-02.dat")).unwrap();
    let s = FileStore::open(dir.path()).unwrap();
    check(&s, 70);
}

#[test]
fn damage_before_the_last_batch_is_refused_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = FileStore::open(dir.path()).unwrap();
        fill(&s, 0, MAX_BATCH as u64 + 600, 1000);
    }
    let index = dir.path().join("index.dat");
    let before = std::fs::metadata(&index).unwrap().len();
    {
        let f = OpenOptions::new().write(true).open(&index).unwrap();
        f.write_all_at(&[0xff], 10 * REC + 3).unwrap();
    }
    let err = FileStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("record 10"), "{err}");
    assert_eq!(std::fs::metadata(&index).unwrap().len(), before);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileStore::open(dir.path()).unwrap();
    assert!(matches!(
        FileStore::open(dir.path()),
        Err(StoreError::Locked(_))
    ));
    drop(s);
    FileStore::open(dir.path()).unwrap();
}

#[test]
fn index_runs_are_written_merged_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1000;
    {
        let s = FileStore::open(dir.path()).unwrap();
        fill(&s, 0, n, 7);
        s.leaves.wait_idle().unwrap();
        s.search.wait_idle().unwrap();
        let runs = s.search.run_ranges();
        assert!(runs.len() >= 2, "{runs:?}");
        // Binary-counter merging keeps few runs.
        assert!(runs.len() <= 8, "{runs:?}");
        assert_eq!(runs[0].0, 0);
        check(&s, n);
    }
    let runs = |name: &str| -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let f = p.file_name().unwrap().to_string_lossy().into_owned();
                f.starts_with(name) && f.ends_with(".run")
            })
            .collect();
        v.sort();
        v
    };
    // Reopen from the runs; then lose the newest run, damage another, and leave the
    // input of an interrupted merge and a half-written run behind: all rebuilt from the
    // records.
    check(&FileStore::open(dir.path()).unwrap(), n);
    let search_runs = runs("search-");
    let last = search_runs.last().unwrap();
    std::fs::remove_file(last).unwrap();
    let leaf_runs = runs("leaves-");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&leaf_runs[0])
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - 1).unwrap();
    std::fs::write(dir.path().join("search-0-3.run"), b"stale input").unwrap();
    std::fs::write(dir.path().join("leaves-0-9.run.tmp"), b"torn").unwrap();
    {
        let s = FileStore::open(dir.path()).unwrap();
        check(&s, n);
        assert!(!dir.path().join("search-0-3.run").exists());
        assert!(!dir.path().join("leaves-0-9.run.tmp").exists());
        fill(&s, n, n + 300, 11);
        check(&s, n + 300);
    }
    check(&FileStore::open(dir.path()).unwrap(), n + 300);
}

/// The newest nodes are served from memory (`Recent`), older ones from the level files: both
/// must give the reference tree's hashes, across the window's edge and after a reopen (when
/// the window starts empty).
#[test]
fn recent_nodes_match_the_level_files() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3 * MAX_BATCH as u64 + 123;
    let t = reference(n);
    let all = |s: &FileStore, n: u64| {
        for level in 0..14u32 {
            for i in 0..(n >> level) {
                assert_eq!(
                    s.node(level, i).unwrap(),
                    t.node(level, i).unwrap(),
                    "{level} {i}"
                );
            }
        }
    };
    {
        let s = FileStore::open(dir.path()).unwrap();
        fill(&s, 0, n - 500, 1500);
        all(&s, n - 500);
    }
    let s = FileStore::open(dir.path()).unwrap();
    fill(&s, n - 500, n, 97);
    all(&s, n);
    let nodes = Nodes(&s);
    for i in [0, 1, n / 2, n - 600, n - 98, n - 1] {
        assert_eq!(
            merkle::inclusion_proof(&nodes, i, n).unwrap(),
            merkle::inclusion_proof(&t, i, n).unwrap()
        );
    }
}
