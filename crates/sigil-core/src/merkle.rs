//! RFC 6962 / RFC 9162 Merkle trees: hashing, proof generation and proof verification.
//!
//! - Hashing (RFC 9162 §2.1.1): leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right),
//!   the empty tree hashes to SHA-256("").
//! - Verification follows the algorithms of RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2
//!   (consistency), which is what Rekor (`transparency-dev/merkle`), sigstore-go and
//!   sigstore-python run.
//! - Generation follows RFC 6962 §2.1.1 (`PATH`) and §2.1.2 (`SUBPROOF`) over a [`NodeSource`]:
//!   anything that can return the hash of a *perfect* subtree (2^level leaves starting at an
//!   index aligned to 2^level). Every subtree the RFC recursion asks for is either such a perfect
//!   subtree or the right edge of the tree, so a store that keeps perfect-subtree hashes answers
//!   a proof with O(log n) reads, whatever the tree size. The transparency log and the CT log
//!   share this code through their storage.

use sha2::{Digest as _, Sha256};

/// A SHA-256 hash of a leaf or an interior node.
pub type Hash = [u8; 32];

/// The hash of the empty tree, SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// A Merkle proof did not verify, or its parameters are impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("first tree size {first} is larger than second tree size {second}")]
    SizesReversed { first: u64, second: u64 },
    #[error("proof has {got} hashes, expected {expected}")]
    WrongLength { expected: usize, got: usize },
    #[error("computed root hash {computed} does not match expected root hash {expected}")]
    RootMismatch { computed: String, expected: String },
    #[error("consistency proof for equal tree sizes must be empty and the roots equal")]
    EqualSizes,
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves with root `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion(index, size, leaf, proof)?;
    if &computed != root {
        return Err(ProofError::RootMismatch {
            computed: hex::encode(computed),
            expected: hex::encode(root),
        });
    }
    Ok(())
}

/// The root hash an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1–5).
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf;
    for p in proof {
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // The length check above guarantees snode reached 0; keep the RFC's final check anyway.
    if snode != 0 {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    Ok(r)
}

/// The number of hashes in an inclusion proof for `index` in a tree of `size` (index < size).
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    // Hashes on the path: one per level where the node has a sibling. The inner part is the
    // levels below the point where index and size-1 diverge, the border part the set bits of
    // the remaining right edge (transparency-dev/merkle `decompInclProof`).
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    inner + border
}

/// Verifies that the tree of `size1` leaves with root `root1` is a prefix of the tree of
/// `size2` leaves with root `root2` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesReversed {
            first: size1,
            second: size2,
        });
    }
    if size1 == size2 {
        if !proof.is_empty() || root1 != root2 {
            return Err(ProofError::EqualSizes);
        }
        return Ok(());
    }
    if size1 == 0 {
        // Every tree extends the empty tree; RFC 9162 defines no proof for it.
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                got: proof.len(),
            });
        }
        return Ok(());
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength {
            expected: 1,
            got: 0,
        });
    };
    let mut fnode = size1 - 1;
    let mut snode = size2 - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = *first;
    let mut sr = *first;
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength {
                expected: path.len() - 1,
                got: proof.len(),
            });
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength {
            expected: proof.len() + 1,
            got: proof.len(),
        });
    }
    if &fr != root1 {
        return Err(ProofError::RootMismatch {
            computed: hex::encode(fr),
            expected: hex::encode(root1),
        });
    }
    if &sr != root2 {
        return Err(ProofError::RootMismatch {
            computed: hex::encode(sr),
            expected: hex::encode(root2),
        });
    }
    Ok(())
}

/// A store of perfect-subtree hashes: `node(level, index)` is the root of leaves
/// `index·2^level .. (index+1)·2^level`. Level 0 holds the leaf hashes.
pub trait NodeSource {
    type Error;
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;

    /// The hash of leaves `start..end` when the source keeps it ready although it is not a
    /// perfect subtree: a log caches its tree's right edge ([`right_edge`]) so that a proof
    /// costs O(log n) node reads instead of O(log² n).
    fn cached_range(&self, _start: u64, _end: u64) -> Option<Hash> {
        None
    }
}

/// The hashes of the right-edge subtrees of the tree of `size` leaves: for each `start` the
/// RFC 6962 recursion reaches, the hash of leaves `start..size`, in increasing `start` (the
/// first is the root, for `size > 0`). O(log n) node reads.
pub fn right_edge<S: NodeSource>(src: &S, size: u64) -> Result<Vec<(u64, Hash)>, S::Error> {
    let mut starts = Vec::new();
    let mut s = 0u64;
    while s < size {
        starts.push(s);
        let len = size - s;
        if len.is_power_of_two() {
            break;
        }
        s += split_point(len);
    }
    let mut out: Vec<(u64, Hash)> = Vec::with_capacity(starts.len());
    let mut next: Option<Hash> = None;
    for &s in starts.iter().rev() {
        let len = size - s;
        let h = match next {
            // A perfect subtree: the last element of the chain.
            None => src.node(len.trailing_zeros(), s / len)?,
            Some(right) => {
                let k = split_point(len);
                node_hash(&src.node(k.trailing_zeros(), s / k)?, &right)
            }
        };
        out.push((s, h));
        next = Some(h);
    }
    out.reverse();
    Ok(out)
}

/// The hash of leaves `start..end` (RFC 6962 MTH). `start` must be aligned as the RFC
/// recursion makes it (a multiple of the largest power of two below `end - start`).
pub fn range_hash<S: NodeSource>(src: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start % n == 0 {
        return src.node(n.trailing_zeros(), start / n);
    }
    if let Some(h) = src.cached_range(start, end) {
        return Ok(h);
    }
    let k = split_point(n);
    let left = range_hash(src, start, start + k)?;
    let right = range_hash(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree made of the first `size` leaves.
pub fn root<S: NodeSource>(src: &S, size: u64) -> Result<Hash, S::Error> {
    range_hash(src, 0, size)
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The inclusion proof (audit path) of leaf `index` in the tree of the first `size` leaves
/// (RFC 6962 §2.1.1 `PATH`), leaf-side hash first. `index < size` is the caller's check.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut out = Vec::new();
    path(src, index, 0, size, &mut out)?;
    Ok(out)
}

fn path<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(src, m, start, start + k, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        path(src, m - k, start + k, end, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof between the trees of the first `size1` and `size2` leaves
/// (RFC 6962 §2.1.2 `PROOF`). `size1 <= size2` is the caller's check; an empty proof is
/// returned when `size1` is 0 or equals `size2`.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut out = Vec::new();
    if size1 == 0 || size1 >= size2 {
        return Ok(out);
    }
    subproof(src, size1, 0, size2, true, &mut out)?;
    Ok(out)
}

fn subproof<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(range_hash(src, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, start, start + k, whole, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// An in-memory tree holding every perfect-subtree hash: for tests, small logs and tools.
/// `levels[l][i]` is `node(l, i)`; appending costs O(1) amortised hashes.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf hash and completes the perfect subtrees it closes.
    pub fn push_leaf_hash(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            let n = row.len();
            if n % 2 == 1 {
                break;
            }
            hash = node_hash(&row[n - 2], &row[n - 1]);
            level += 1;
        }
    }

    /// Appends leaf data.
    pub fn push(&mut self, data: &[u8]) {
        self.push_leaf_hash(leaf_hash(data));
    }

    /// The root of the first `size` leaves (`size <= self.size()`).
    pub fn root_at(&self, size: u64) -> Result<Hash, MissingNode> {
        root(self, size)
    }
}

/// A node was asked of a [`MemoryTree`] that it does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no node at level {level} index {index}")]
pub struct MissingNode {
    pub level: u32,
    pub index: u64,
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;
    fn node(&self, level: u32, index: u64) -> Result<Hash, MissingNode> {
        self.levels
            .get(level as usize)
            .and_then(|row| usize::try_from(index).ok().and_then(|i| row.get(i)))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Reference MTH straight from the RFC's recursive definition over leaf data.
    fn mth(leaves: &[Vec<u8>]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaf_hash(&leaves[0]),
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn tree(n: usize) -> (MemoryTree, Vec<Vec<u8>>) {
        let leaves: Vec<Vec<u8>> = (0..n).map(|i| format!("leaf {i}").into_bytes()).collect();
        let mut t = MemoryTree::new();
        for l in &leaves {
            t.push(l);
        }
        (t, leaves)
    }

    #[test]
    fn rfc6962_known_roots() {
        // Test vectors of the RFC 6962 reference tree (certificate-transparency-go
        // `merkle_test.go`: leaves "", 00, 10, 2021, 3031, 40414243, ...).
        let inputs: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x00],
            vec![0x10],
            vec![0x20, 0x21],
            vec![0x30, 0x31],
            vec![0x40, 0x41, 0x42, 0x43],
            vec![0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            vec![
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f,
            ],
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut t = MemoryTree::new();
        for (i, input) in inputs.iter().enumerate() {
            t.push(input);
            assert_eq!(hex::encode(t.root_at(i as u64 + 1).unwrap()), roots[i]);
        }
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn roots_match_reference_definition() {
        let (t, leaves) = tree(70);
        for n in 0..=70u64 {
            assert_eq!(
                t.root_at(n).unwrap(),
                mth(&leaves[..n as usize]),
                "size {n}"
            );
        }
    }

    #[test]
    fn inclusion_proofs_verify_for_every_index_and_size() {
        let (t, leaves) = tree(40);
        for size in 1..=40u64 {
            let root = t.root_at(size).unwrap();
            for index in 0..size {
                let proof = inclusion_proof(&t, index, size).unwrap();
                let leaf = leaf_hash(&leaves[index as usize]);
                verify_inclusion(index, size, &leaf, &proof, &root).unwrap();
                // Any single bit flip in any proof hash must be caught.
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i][0] ^= 1;
                    assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
                }
                // Wrong index or size fails too.
                if size > 1 {
                    let other = (index + 1) % size;
                    assert!(verify_inclusion(other, size, &leaf, &proof, &root).is_err());
                }
            }
        }
    }

    #[test]
    fn inclusion_rejects_bad_parameters() {
        let (t, leaves) = tree(8);
        let root = t.root_at(8).unwrap();
        let leaf = leaf_hash(&leaves[0]);
        let proof = inclusion_proof(&t, 0, 8).unwrap();
        assert_eq!(
            verify_inclusion(8, 8, &leaf, &proof, &root),
            Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
        );
        let mut long = proof.clone();
        long.push(root);
        assert!(matches!(
            verify_inclusion(0, 8, &leaf, &long, &root),
            Err(ProofError::WrongLength { .. })
        ));
        assert!(verify_inclusion(0, 8, &leaf, &proof[..2], &root).is_err());
    }

    #[test]
    fn consistency_proofs_verify_for_every_pair() {
        let (t, _) = tree(40);
        for size2 in 1..=40u64 {
            let root2 = t.root_at(size2).unwrap();
            for size1 in 1..=size2 {
                let root1 = t.root_at(size1).unwrap();
                let proof = consistency_proof(&t, size1, size2).unwrap();
                verify_consistency(size1, size2, &proof, &root1, &root2).unwrap();
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i][31] ^= 0x80;
                    assert!(
                        verify_consistency(size1, size2, &bad, &root1, &root2).is_err(),
                        "{size1} {size2} {i}"
                    );
                }
                if size1 < size2 {
                    let wrong = t.root_at(size1 - 1).unwrap();
                    assert!(verify_consistency(size1, size2, &proof, &wrong, &root2).is_err());
                }
            }
        }
    }

    /// A source that answers right-edge ranges from a cache and counts node reads.
    struct Cached<'a> {
        tree: &'a MemoryTree,
        size: u64,
        edge: Vec<(u64, Hash)>,
        reads: std::cell::Cell<usize>,
    }
    impl NodeSource for Cached<'_> {
        type Error = MissingNode;
        fn node(&self, level: u32, index: u64) -> Result<Hash, MissingNode> {
            self.reads.set(self.reads.get() + 1);
            self.tree.node(level, index)
        }
        fn cached_range(&self, start: u64, end: u64) -> Option<Hash> {
            if end != self.size {
                return None;
            }
            self.edge.iter().find(|(s, _)| *s == start).map(|(_, h)| *h)
        }
    }

    #[test]
    fn right_edge_cache_gives_the_same_proofs_with_fewer_reads() {
        let (t, _) = tree(100);
        for size in 1..=100u64 {
            let edge = right_edge(&t, size).unwrap();
            assert_eq!(edge[0], (0, t.root_at(size).unwrap()));
            let c = Cached {
                tree: &t,
                size,
                edge,
                reads: std::cell::Cell::new(0),
            };
            for index in 0..size {
                c.reads.set(0);
                let p = inclusion_proof(&c, index, size).unwrap();
                assert_eq!(p, inclusion_proof(&t, index, size).unwrap());
                assert!(
                    c.reads.get() <= 8,
                    "{} reads for {index}/{size}",
                    c.reads.get()
                );
            }
            for first in 1..=size {
                assert_eq!(
                    consistency_proof(&c, first, size).unwrap(),
                    consistency_proof(&t, first, size).unwrap()
                );
            }
        }
    }

    #[test]
    fn consistency_rejects_reversed_sizes() {
        let (t, _) = tree(4);
        let r = t.root_at(4).unwrap();
        assert!(matches!(
            verify_consistency(4, 3, &[], &r, &r),
            Err(ProofError::SizesReversed { .. })
        ));
        assert!(verify_consistency(0, 4, &[], &empty_root(), &r).is_ok());
        assert!(verify_consistency(4, 4, &[r], &r, &r).is_err());
    }
}
