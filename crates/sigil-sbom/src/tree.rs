//! Squashing layers into the tree a container would see (stereoscope's `FileTree.Merge`, as
//! Syft uses it): an upper layer's `.wh.NAME` deletes `NAME` below, `.wh..wh..opq` empties a
//! directory of everything below, and any upper non-directory hides the lower entry at that
//! path and, if the lower entry was a directory, its children. Whiteout entries never appear.
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::layer::{resolve_link, FileData, FileDigest, LayerContents, Node};

/// The squashed tree: for every kept path, the layer it comes from and its node.
#[derive(Debug, Clone, Default)]
pub(crate) struct View {
    files: BTreeMap<String, (usize, Node)>,
    /// Digests of every visible regular file (when the layers were hashed).
    digests: BTreeMap<String, (usize, Arc<FileDigest>)>,
}

fn remove_tree_in<V>(map: &mut BTreeMap<String, V>, prefix: &str) {
    map.remove(prefix);
    let dir = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    let doomed: Vec<String> = map
        .range(dir.clone()..)
        .take_while(|(k, _)| k.starts_with(&dir))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        map.remove(&k);
    }
}

/// Symlink hops allowed in one lookup (Linux allows 40); a loop ends here, not in a hang.
const MAX_HOPS: usize = 40;

impl View {
    fn remove_tree(&mut self, prefix: &str) {
        remove_tree_in(&mut self.files, prefix);
        if !self.digests.is_empty() {
            remove_tree_in(&mut self.digests, prefix);
        }
    }

    /// Lays layer `index` on top of the tree.
    pub(crate) fn apply(&mut self, index: usize, layer: &LayerContents) {
        for d in &layer.opaque {
            let keep_self = self.files.remove(d.as_str());
            self.remove_tree(d);
            if let Some(v) = keep_self {
                self.files.insert(d.clone(), v);
            }
        }
        for w in &layer.whiteouts {
            self.remove_tree(w);
        }
        for p in &layer.nondirs {
            self.remove_tree(p);
        }
        for (p, n) in &layer.nodes {
            self.files.insert(p.clone(), (index, n.clone()));
        }
        for (p, d) in &layer.digests {
            self.digests.insert(p.clone(), (index, d.clone()));
        }
    }

    /// The digests of a visible regular file (following symlinks).
    pub(crate) fn digest(&self, path: &str) -> Option<(usize, &Arc<FileDigest>, String)> {
        let real = self.resolve(path)?;
        let (l, d) = self.digests.get(&real)?;
        Some((*l, d, real))
    }

    /// Follows symlinks in every component of `path` (bounded), returning the real path.
    pub(crate) fn resolve(&self, path: &str) -> Option<String> {
        let mut current = path.trim_start_matches('/').to_string();
        let mut hops = 0;
        'outer: loop {
            let comps: Vec<&str> = current.split('/').collect();
            for i in 1..=comps.len() {
                let prefix = comps.get(..i)?.join("/");
                if let Some((_, Node::Symlink(t))) = self.files.get(&prefix) {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return None;
                    }
                    let mut next = resolve_link(&prefix, t);
                    for rest in comps.get(i..)? {
                        next.push('/');
                        next.push_str(rest);
                    }
                    current = next.trim_start_matches('/').to_string();
                    continue 'outer;
                }
            }
            return Some(current);
        }
    }

    /// A kept file's data and layer, following symlinks.
    pub(crate) fn get(&self, path: &str) -> Option<(usize, &Arc<FileData>, String)> {
        let real = self.resolve(path)?;
        match self.files.get(&real) {
            Some((layer, Node::File(d))) => Some((*layer, d, real)),
            _ => None,
        }
    }

    /// A kept text file's bytes, layer and real path.
    pub(crate) fn text(&self, path: &str) -> Option<(usize, &[u8], String)> {
        let (l, d, real) = self.get(path)?;
        match d.as_ref() {
            FileData::Text(b) => Some((l, b.as_slice(), real)),
            FileData::Found(_) => None,
        }
    }

    /// Kept files whose path starts with `prefix`, in path order.
    pub(crate) fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, usize)> + 'a {
        self.files
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .filter_map(|(p, (l, n))| matches!(n, Node::File(_)).then_some((p.as_str(), *l)))
    }

    /// All kept regular files (not symlinks), in path order.
    pub(crate) fn files(&self) -> impl Iterator<Item = (&str, usize, &Arc<FileData>)> {
        self.files.iter().filter_map(|(p, (l, n))| match n {
            Node::File(d) => Some((p.as_str(), *l, d)),
            Node::Symlink(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Node {
        Node::File(Arc::new(FileData::Text(s.as_bytes().to_vec())))
    }

    fn layer(nodes: &[(&str, Node)]) -> LayerContents {
        let mut l = LayerContents::default();
        for (p, n) in nodes {
            l.nondirs.push(p.to_string());
            l.nodes.insert(p.to_string(), n.clone());
        }
        l
    }

    #[test]
    fn whiteouts_and_opaque_dirs_delete_lower_entries() {
        let mut v = View::default();
        v.apply(
            0,
            &layer(&[
                ("a/x", text("1")),
                ("a/y", text("2")),
                ("b/z", text("3")),
                ("c", text("4")),
            ]),
        );
        let mut l1 = layer(&[("a/new", text("5"))]);
        l1.opaque.push("a".into());
        l1.whiteouts.push("b".into());
        v.apply(1, &l1);
        assert!(v.get("a/x").is_none());
        assert!(v.get("b/z").is_none());
        assert_eq!(v.get("a/new").map(|g| g.0), Some(1));
        assert_eq!(v.get("c").map(|g| g.0), Some(0));
    }

    #[test]
    fn upper_file_hides_lower_directory() {
        let mut v = View::default();
        v.apply(0, &layer(&[("d/f", text("1"))]));
        let mut l1 = LayerContents::default();
        l1.nondirs.push("d".into());
        v.apply(1, &l1);
        assert!(v.get("d/f").is_none());
    }

    #[test]
    fn symlink_loops_end() {
        let mut v = View::default();
        v.apply(
            0,
            &layer(&[
                ("a", Node::Symlink("b".into())),
                ("b", Node::Symlink("a".into())),
                ("real/f", text("x")),
                ("l", Node::Symlink("/real".into())),
            ]),
        );
        assert!(v.get("a/f").is_none());
        assert_eq!(v.text("l/f").map(|t| t.1.to_vec()), Some(b"x".to_vec()));
        let mut v2 = View::default();
        v2.apply(
            0,
            &layer(&[
                ("up", Node::Symlink("../../../../real".into())),
                ("real/f", text("y")),
            ]),
        );
        assert_eq!(v2.text("up/f").map(|t| t.1.to_vec()), Some(b"y".to_vec()));
    }
}
