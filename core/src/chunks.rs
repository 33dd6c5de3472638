//! A bounded pre-parse of Automerge's binary format, run before Automerge
//! sees any byte that came from outside.
//!
//! Why it exists: Automerge 0.12 trusts the sizes its bytes declare.
//! A compressed chunk is inflated in full with no limit. A column encoding
//! can declare a run of billions of rows in a few bytes, and Automerge then
//! iterates or reserves that many. A push of 18 KB took the server down with
//! `memory allocation of 4000000014 bytes failed` (see `RELIABILITY.md`).
//! This module walks the same layout Automerge parses
//! (`automerge-0.12.0/src/storage/{chunk,change,document}.rs` and
//! `storage/columns/`): chunk headers (magic bytes, checksum, type,
//! LEB128 length), the change and document headers, the column metadata,
//! then every column's RLE, delta or boolean runs. It counts rows and the
//! bytes each column expands to from the run lengths, so it never allocates
//! what the bytes declare. Deflated document columns are inflated here
//! under a cap this module enforces, before Automerge inflates them again.
//!
//! Two entry points, each with its [`Limits`]:
//! - [`check_changes`]: what a device pushes and what a device applies from
//!   the feed. Only plain change chunks (`save_after`, a change's
//!   `raw_bytes`) are accepted: honest devices never send anything else.
//! - [`check_document`]: a whole saved document (`save()`: a document
//!   chunk with deflated columns, optionally followed by change chunks), as
//!   an import or a stored snapshot.
//!
//! A refusal is a [`ChunkError`]; [`crate::document::RecordDoc`] turns it
//! into `DocumentError::Corrupt`, which the server returns as a per-record
//! rejection and the device API as `ApiError::BadInput`.

pub mod bombs;
mod budget;
mod columns;
mod reader;
mod walk;
mod write;

use walk::walk;
pub use write::{write_chunk, write_sleb, write_uleb};

/// The four bytes every Automerge chunk starts with.
pub const MAGIC_BYTES: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Bounds for one pre-parse. Each is far above what honest records reach
/// (a scene with 2,000 actions, each its own change, stays below a tenth of
/// every one: about 9 operations, 3 objects and 385 change bytes per
/// action; see `core/tests/api/bounded.rs`). What Automerge builds from an
/// accepted input is then bounded by these numbers, not by the gigabytes a
/// few declared bytes can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the input as given.
    pub bytes: usize,
    /// Bytes of all deflated columns once inflated (documents only).
    pub inflated_bytes: u64,
    /// Changes: change chunks, plus the rows of a document's change columns.
    pub changes: u64,
    /// Operations: rows of any operation column (the longest one, so an
    /// attacker cannot hide rows in a column Automerge reads first).
    pub ops: u64,
    /// Objects (maps, lists, texts, tables) the operations create.
    pub objects: u64,
    /// What all columns expand to when decoded: 8 bytes per integer row,
    /// the repeated bytes of string runs, raw value bytes.
    pub expanded_bytes: u64,
}

/// One pushed record (a push's `changes`), and one feed entry a device
/// applies. A feed entry may carry a record's whole history (an officer
/// added late), so it has the same bounds as a whole record's changes.
pub const CHANGES: Limits = Limits {
    bytes: 16 * 1024 * 1024,
    inflated_bytes: 0,
    changes: 100_000,
    ops: 500_000,
    objects: 100_000,
    expanded_bytes: 128 * 1024 * 1024,
};

/// One stored document (an import, a snapshot, a record after a merge).
pub const DOCUMENT: Limits = Limits {
    bytes: 16 * 1024 * 1024,
    inflated_bytes: 32 * 1024 * 1024,
    changes: 200_000,
    ops: 1_000_000,
    objects: 200_000,
    expanded_bytes: 256 * 1024 * 1024,
};

/// Why bytes were refused before Automerge saw them. Messages name what
/// was wrong and the limit, never content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Well formed so far, but larger than the [`Limits`] allow.
    #[error("the Automerge bytes are too large: more than {limit} {what}")]
    TooLarge { what: &'static str, limit: u64 },
    /// A chunk type or encoding honest devices never send (compressed
    /// change chunks, bundles, a document where changes are expected,
    /// compressed columns in a change).
    #[error("the Automerge bytes hold {0}, which is not accepted here")]
    NotAccepted(&'static str),
    /// Not Automerge's format: truncated, a bad checksum, a bad encoding.
    #[error("the Automerge bytes are malformed: {0}")]
    Corrupt(&'static str),
}

/// Checks a document Automerge has loaded against `limits`, from its own
/// counts: the pre-parse bounds what Automerge expands, this bounds what
/// it built (a merge can grow a record past what one push carried).
pub fn check_loaded(doc: &impl automerge::ReadDoc, limits: &Limits) -> Result<(), ChunkError> {
    let stats = doc.stats();
    if stats.num_ops > limits.ops {
        return Err(ChunkError::TooLarge {
            what: "operations",
            limit: limits.ops,
        });
    }
    if stats.num_changes > limits.changes {
        return Err(ChunkError::TooLarge {
            what: "changes",
            limit: limits.changes,
        });
    }
    Ok(())
}

/// Runs an Automerge decode, turning a panic into a refusal. Automerge 0.12
/// panics on some malformed bytes the pre-parse lets through (found by the
/// fuzz targets: `fuzz/regressions/`); on a device that would take the app
/// down and poison the store's lock. The caller must drop the document the
/// closure was mutating.
pub fn no_panic<T>(decode: impl FnOnce() -> T) -> Result<T, ChunkError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode))
        .map_err(|_| ChunkError::Corrupt("Automerge could not decode the bytes"))
}

/// What a pre-parse counted (all within the limits it was given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    pub chunks: u64,
    pub changes: u64,
    pub ops: u64,
    pub objects: u64,
    pub expanded_bytes: u64,
    pub inflated_bytes: u64,
}

/// The chunk types of the format (the byte after the checksum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkType {
    Document = 0,
    Change = 1,
    Compressed = 2,
    Bundle = 3,
}

impl ChunkType {
    pub(super) fn from_byte(b: u8) -> Result<Self, ChunkError> {
        match b {
            0 => Ok(ChunkType::Document),
            1 => Ok(ChunkType::Change),
            2 => Ok(ChunkType::Compressed),
            3 => Ok(ChunkType::Bundle),
            _ => Err(ChunkError::Corrupt("unknown chunk type")),
        }
    }
}

/// Checks change chunks (a push, a feed entry) against `limits`: only
/// uncompressed change chunks, each well formed, all of them together
/// within the bounds.
pub fn check_changes(bytes: &[u8], limits: &Limits) -> Result<Census, ChunkError> {
    walk(bytes, limits, &[ChunkType::Change])
}

/// Checks a saved document (a document chunk, then any change chunks)
/// against `limits`, inflating its deflated columns under the cap.
pub fn check_document(bytes: &[u8], limits: &Limits) -> Result<Census, ChunkError> {
    walk(bytes, limits, &[ChunkType::Document, ChunkType::Change])
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::reader::Reader;
    use super::*;

    #[test]
    fn leb128_round_trips() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            write_uleb(&mut out, v);
            assert_eq!(Reader::new(&out).uleb().unwrap(), v);
        }
        for v in [0i64, 1, -1, 63, -64, 64, -65, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            write_sleb(&mut out, v);
            assert_eq!(Reader::new(&out).sleb().unwrap(), v, "{v}");
        }
    }

    #[test]
    fn the_deflate_bomb_inflates_to_what_it_declares() {
        for len in [0u64, 1, 257, 258, 259, 1_000_000] {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(&bombs::zeros_deflate(len)[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out.len() as u64, len);
            assert!(out.iter().all(|b| *b == 0));
        }
    }

    #[test]
    fn the_rle_bomb_is_a_change_automerge_reads() {
        // Small enough to load: the same layout is what is refused when large.
        let mut doc = automerge::AutoCommit::new();
        doc.load_incremental(&bombs::rle_change(3)).unwrap();
        assert_eq!(automerge::ReadDoc::stats(&doc).num_ops, 3);
    }

    #[test]
    fn a_length_past_the_end_is_refused_without_allocating() {
        let mut out = Vec::new();
        write_uleb(&mut out, u64::MAX);
        assert!(Reader::new(&out).uleb_len().is_err());
    }
}
