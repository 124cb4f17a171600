//! One `index.dat` record: where a leaf's data and keys are, when it was integrated, its
//! leaf hash, and a CRC-32 so recovery can tell a torn record from a good one.

use sigil_core::merkle::Hash;

/// Bytes per record.
pub(super) const REC: u64 = 72;

#[derive(Debug, Clone, Copy)]
pub(super) struct Record {
    pub offset: u64,
    pub keys_offset: u64,
    pub time: i64,
    pub len: u32,
    pub nkeys: u32,
    pub leaf: Hash,
}

impl Record {
    pub fn encode(&self) -> [u8; REC as usize] {
        let mut b = [0u8; REC as usize];
        b[0..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..16].copy_from_slice(&self.keys_offset.to_le_bytes());
        b[16..24].copy_from_slice(&self.time.to_le_bytes());
        b[24..28].copy_from_slice(&self.len.to_le_bytes());
        b[28..32].copy_from_slice(&self.nkeys.to_le_bytes());
        b[32..64].copy_from_slice(&self.leaf);
        let crc = crc32fast::hash(&b[0..64]);
        b[64..68].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8; REC as usize]) -> Option<Record> {
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let u32_at = |i: usize| {
            let mut a = [0u8; 4];
            a.copy_from_slice(&b[i..i + 4]);
            u32::from_le_bytes(a)
        };
        if crc32fast::hash(&b[0..64]) != u32_at(64) {
            return None;
        }
        let mut leaf = [0u8; 32];
        leaf.copy_from_slice(&b[32..64]);
        Some(Record {
            offset: u64_at(0),
            keys_offset: u64_at(8),
            time: u64_at(16) as i64,
            len: u32_at(24),
            nkeys: u32_at(28),
            leaf,
        })
    }
}
