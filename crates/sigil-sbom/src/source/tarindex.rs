//! Random access into an uncompressed tar file (oci-archive, docker-archive): one pass records
//! where each regular file's bytes start, later reads seek straight there.
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::Error;

#[derive(Debug)]
pub(crate) struct TarIndex {
    path: PathBuf,
    entries: HashMap<String, (u64, u64)>,
}

/// Normalises an archive member name: no leading `./` or `/`.
fn clean(name: &str) -> String {
    let mut n = name;
    loop {
        if let Some(r) = n.strip_prefix("./") {
            n = r;
        } else if let Some(r) = n.strip_prefix('/') {
            n = r;
        } else {
            break;
        }
    }
    n.to_string()
}

impl TarIndex {
    pub(crate) fn open(path: &Path) -> Result<TarIndex, Error> {
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut ar = tar::Archive::new(BufReader::new(f));
        let mut entries = HashMap::new();
        for e in ar.entries().map_err(|e| Error::io(path, e))? {
            let e = e.map_err(|e| Error::io(path, e))?;
            if !e.header().entry_type().is_file() {
                continue;
            }
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            entries.insert(clean(&name), (e.raw_file_position(), e.size()));
        }
        Ok(TarIndex {
            path: path.to_path_buf(),
            entries,
        })
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(&clean(name))
    }

    /// A reader over one member's bytes.
    pub(crate) fn open_member(&self, name: &str) -> Result<impl Read + Send + 'static, Error> {
        let (off, size) = *self.entries.get(&clean(name)).ok_or_else(|| {
            Error::invalid(
                self.path.display().to_string(),
                format!("no member `{name}`"),
            )
        })?;
        let mut f = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        f.seek(SeekFrom::Start(off))
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(f.take(size))
    }

    /// A small member read whole (JSON documents), bounded to 16 MiB.
    pub(crate) fn read_small(&self, name: &str) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.open_member(name)?
            .take(16 << 20)
            .read_to_end(&mut out)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(out)
    }
}
