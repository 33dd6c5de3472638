//! Writing the format's chunk headers and LEB128 integers: Automerge's own
//! writer is private, and tests, fuzz targets and [`super::bombs`] build
//! chunks whose checksum holds, so what they exercise is the parse behind it.

use sha2::{Digest, Sha256};

use super::{ChunkType, MAGIC_BYTES};

/// Wraps `data` in a chunk header with a correct checksum. Automerge's own
/// writer is private; tests and fuzz targets use this to build chunks whose
/// checksum holds, so what they exercise is the parse behind it.
pub fn write_chunk(chunk_type: ChunkType, data: &[u8]) -> Vec<u8> {
    let mut out = MAGIC_BYTES.to_vec();
    out.extend_from_slice(&checksum(chunk_type as u8, data));
    out.push(chunk_type as u8);
    write_uleb(&mut out, data.len() as u64);
    out.extend_from_slice(data);
    out
}

/// Appends `value` as unsigned LEB128 (the format's integer encoding).
pub fn write_uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends `value` as signed LEB128.
pub fn write_sleb(out: &mut Vec<u8>, mut value: i64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        let done = (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The chunk checksum: the first four bytes of SHA-256 over the type,
/// the LEB128 length and the data.
pub(super) fn checksum(chunk_type: u8, data: &[u8]) -> [u8; 4] {
    let mut prefix = vec![chunk_type];
    write_uleb(&mut prefix, data.len() as u64);
    let mut hasher = Sha256::new();
    hasher.update(&prefix);
    hasher.update(data);
    let hash = hasher.finalize();
    [hash[0], hash[1], hash[2], hash[3]]
}
