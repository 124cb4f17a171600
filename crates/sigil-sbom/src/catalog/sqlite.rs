//! A read-only reader for one table of an SQLite database file, enough to read rpm's
//! `rpmdb.sqlite` (`Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`).
//!
//! Hand-written rather than `rusqlite` with `bundled`: that compiles the whole SQLite C
//! amalgamation (a C toolchain and a minute of CI on 2 cores) to read one table, and would
//! want the database on disk; this reads the bytes already in memory. It follows "Database
//! File Format" (sqlite.org/fileformat2.html): the 100-byte header (§1.3), table b-tree pages
//! (§1.6), cell layout with overflow pages (§1.6), varints and the record format (§2.1).
//! Every offset is bounds-checked and page visits are capped, so a hostile file ends in an
//! error, not a panic or a loop. A write-ahead log (`-wal`) is not replayed.

/// Why a database could not be read.
pub(crate) type Result<T> = std::result::Result<T, String>;

/// A column value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
    Other,
}

pub(crate) struct Db<'a> {
    data: &'a [u8],
    page_size: usize,
    usable: usize,
}

/// SQLite varint: big-endian, 7 bits per byte with a continuation bit, the 9th byte whole.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..9 {
        let byte = *b.get(i)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(byte), 9));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn be(b: &[u8], off: usize, len: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(len)?)?;
    Some(s.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// Most pages one scan visits; far above any real rpm database.
const MAX_PAGES: usize = 1_000_000;

impl<'a> Db<'a> {
    pub(crate) fn open(data: &'a [u8]) -> Result<Db<'a>> {
        if data.get(..16) != Some(b"SQLite format 3\0".as_slice()) {
            return Err("not an SQLite 3 database".into());
        }
        let ps = be(data, 16, 2).ok_or("truncated header")?;
        let page_size = if ps == 1 {
            65536
        } else {
            usize::try_from(ps).map_err(|_| "bad page size")?
        };
        if page_size < 512 || !page_size.is_power_of_two() {
            return Err(format!("invalid page size {page_size}"));
        }
        let reserved = usize::from(*data.get(20).ok_or("truncated header")?);
        let usable = page_size
            .checked_sub(reserved)
            .filter(|u| *u >= 480)
            .ok_or("invalid reserved space")?;
        Ok(Db {
            data,
            page_size,
            usable,
        })
    }

    fn page(&self, n: u64) -> Result<&'a [u8]> {
        let n = usize::try_from(n).map_err(|_| "bad page number")?;
        let start = n
            .checked_sub(1)
            .and_then(|i| i.checked_mul(self.page_size))
            .ok_or("page 0 referenced")?;
        self.data
            .get(start..start + self.page_size)
            .ok_or_else(|| format!("page {n} is past the end of the file"))
    }

    /// Every row of the table b-tree rooted at `root`, as record payloads.
    fn rows(&self, root: u64) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut stack = vec![root];
        let mut visited = 0usize;
        while let Some(pn) = stack.pop() {
            visited += 1;
            if visited > MAX_PAGES {
                return Err("too many pages (a loop in the b-tree?)".into());
            }
            let page = self.page(pn)?;
            let hdr = if pn == 1 { 100 } else { 0 };
            let kind = *page.get(hdr).ok_or("truncated page")?;
            let cells = usize::try_from(be(page, hdr + 3, 2).ok_or("truncated page")?).unwrap_or(0);
            let (hsize, interior) = match kind {
                0x0d => (8, false),
                0x05 => (12, true),
                k => return Err(format!("page {pn}: not a table b-tree page (type {k})")),
            };
            if interior {
                stack.push(be(page, hdr + 8, 4).ok_or("truncated page")?);
            }
            for i in 0..cells {
                let ptr = usize::try_from(
                    be(page, hdr + hsize + 2 * i, 2).ok_or("truncated cell pointers")?,
                )
                .unwrap_or(0);
                let cell = page.get(ptr..).ok_or("cell pointer past page end")?;
                if interior {
                    stack.push(be(cell, 0, 4).ok_or("truncated cell")?);
                    continue;
                }
                let (len, n1) = varint(cell).ok_or("truncated cell")?;
                let (_rowid, n2) =
                    varint(cell.get(n1..).ok_or("truncated cell")?).ok_or("truncated cell")?;
                out.push(self.payload(cell.get(n1 + n2..).ok_or("truncated cell")?, len)?);
            }
        }
        Ok(out)
    }

    /// A cell's payload, following overflow pages (§1.6: X = U-35, M = ((U-12)*32/255)-23).
    fn payload(&self, local: &[u8], len: u64) -> Result<Vec<u8>> {
        let u = self.usable as u64;
        let x = u - 35;
        if len > 1 << 30 {
            return Err("record larger than 1 GiB".into());
        }
        if len <= x {
            let n = usize::try_from(len).map_err(|_| "bad length")?;
            return Ok(local.get(..n).ok_or("truncated payload")?.to_vec());
        }
        let m = ((u - 12) * 32 / 255) - 23;
        let k = m + ((len - m) % (u - 4));
        let here = usize::try_from(if k <= x { k } else { m }).map_err(|_| "bad length")?;
        let mut out = local.get(..here).ok_or("truncated payload")?.to_vec();
        let mut next = be(local, here, 4).ok_or("truncated overflow pointer")?;
        let total = usize::try_from(len).map_err(|_| "bad length")?;
        let mut hops = 0;
        while out.len() < total {
            hops += 1;
            if next == 0 || hops > MAX_PAGES {
                return Err("overflow chain ends early or loops".into());
            }
            let page = self.page(next)?;
            next = be(page, 0, 4).ok_or("truncated overflow page")?;
            let take = (total - out.len()).min(self.usable - 4);
            out.extend_from_slice(page.get(4..4 + take).ok_or("truncated overflow page")?);
        }
        Ok(out)
    }

    /// The rows of table `name`, each as its column values.
    pub(crate) fn table(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        for rec in self.rows(1)? {
            let cols = record(&rec)?;
            // sqlite_schema: (type, name, tbl_name, rootpage, sql)
            if let (Some(Value::Text(b"table")), Some(Value::Text(n)), Some(Value::Int(root))) =
                (cols.first(), cols.get(1), cols.get(3))
            {
                if *n == name.as_bytes() {
                    let root = u64::try_from(*root).map_err(|_| "bad root page")?;
                    return self.rows(root);
                }
            }
        }
        Err(format!("no table `{name}`"))
    }
}

/// Decodes a record (§2.1): a header of serial types, then the values.
pub(crate) fn record(rec: &[u8]) -> Result<Vec<Value<'_>>> {
    let (hlen, mut pos) = varint(rec).ok_or("truncated record")?;
    let hlen = usize::try_from(hlen).map_err(|_| "bad record header")?;
    let mut body = hlen;
    let mut out = Vec::new();
    while pos < hlen {
        let (st, n) = varint(rec.get(pos..).ok_or("truncated record header")?)
            .ok_or("truncated record header")?;
        pos += n;
        let (size, v): (usize, fn(&[u8]) -> Value<'_>) = match st {
            0 => (0, |_| Value::Null),
            1..=6 => {
                let size = [0usize, 1, 2, 3, 4, 6, 8]
                    .get(usize::try_from(st).unwrap_or(0))
                    .copied()
                    .unwrap_or(0);
                (size, |b: &[u8]| {
                    let neg = b.first().is_some_and(|x| x & 0x80 != 0);
                    let mut v: i64 = if neg { -1 } else { 0 };
                    for &x in b {
                        v = (v << 8) | i64::from(x);
                    }
                    Value::Int(v)
                })
            }
            7 => (8, |_| Value::Other),
            8 => (0, |_| Value::Int(0)),
            9 => (0, |_| Value::Int(1)),
            n if n >= 12 && n % 2 == 0 => (
                usize::try_from((n - 12) / 2).map_err(|_| "bad size")?,
                |b| Value::Blob(b),
            ),
            n if n >= 13 => (
                usize::try_from((n - 13) / 2).map_err(|_| "bad size")?,
                |b| Value::Text(b),
            ),
            _ => return Err("reserved serial type".into()),
        };
        let bytes = rec
            .get(body..body.checked_add(size).ok_or("bad size")?)
            .ok_or("truncated record body")?;
        body += size;
        out.push(v(bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x7f]), Some((127, 1)));
        assert_eq!(varint(&[0x81, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9]), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x81]), None);
    }

    #[test]
    fn real_rpmdb_and_damaged_copies() {
        let data = include_bytes!("../../testdata/rpm/var/lib/rpm/rpmdb.sqlite");
        let rows = Db::open(data).and_then(|d| d.table("Packages"));
        assert_eq!(rows.map(|r| r.len()), Ok(2));
        for cut in (0..data.len()).step_by(1021) {
            let _ = Db::open(data.get(..cut).unwrap_or_default()).and_then(|d| d.table("Packages"));
        }
        for stride in [509usize, 4096, 4099] {
            let mut d = data.to_vec();
            for b in d.iter_mut().skip(100).step_by(stride) {
                *b ^= 0xff;
            }
            let _ = Db::open(&d).and_then(|db| db.table("Packages"));
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(Db::open(b"not sqlite").is_err());
        let mut h = b"SQLite format 3\0".to_vec();
        h.extend_from_slice(&[0x10, 0x00, 1, 1, 0, 64, 32, 32]);
        h.resize(4096, 0);
        let db = Db::open(&h);
        assert!(db.is_ok_and(|d| d.table("Packages").is_err()));
    }
}
