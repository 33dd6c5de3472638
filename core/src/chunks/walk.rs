//! The walk over a sequence of chunks: each chunk header (magic bytes,
//! checksum, type, length), then a change or document chunk's body, as
//! Automerge's `storage/{chunk,change,document}.rs` read them.

use super::budget::Budget;
use super::columns::{columns_len, decode_columns, inflated_columns, op_columns, raw_columns};
use super::reader::Reader;
use super::write::checksum;
use super::{Census, ChunkError, ChunkType, Limits, MAGIC_BYTES};

/// Walks `bytes` as chunks of the `accepted` types within `limits`.
pub(super) fn walk(
    bytes: &[u8],
    limits: &Limits,
    accepted: &[ChunkType],
) -> Result<Census, ChunkError> {
    if bytes.len() > limits.bytes {
        return Err(ChunkError::TooLarge {
            what: "bytes",
            limit: limits.bytes as u64,
        });
    }
    let mut budget = Budget {
        limits,
        census: Census::default(),
    };
    let mut input = Reader::new(bytes);
    while !input.is_empty() {
        let magic = input.take(4)?;
        if magic != MAGIC_BYTES {
            return Err(ChunkError::Corrupt("no Automerge magic bytes"));
        }
        let declared: [u8; 4] = input
            .take(4)?
            .try_into()
            .map_err(|_| ChunkError::Corrupt("truncated checksum"))?;
        let type_byte = input.byte()?;
        let chunk_type = ChunkType::from_byte(type_byte)?;
        let len = input.uleb_len()?;
        let data = input.take(len)?;
        match chunk_type {
            ChunkType::Compressed => return Err(ChunkError::NotAccepted("a compressed chunk")),
            ChunkType::Bundle => return Err(ChunkError::NotAccepted("a bundle chunk")),
            t if !accepted.contains(&t) => {
                return Err(ChunkError::NotAccepted("a document chunk"));
            }
            _ => {}
        }
        if checksum(type_byte, data) != declared {
            return Err(ChunkError::Corrupt("a chunk's checksum does not match"));
        }
        budget.census.chunks += 1;
        match chunk_type {
            ChunkType::Change => change_chunk(data, &mut budget)?,
            ChunkType::Document => document_chunk(data, &mut budget)?,
            ChunkType::Compressed | ChunkType::Bundle => unreachable!("refused above"),
        }
    }
    Ok(budget.census)
}

/// A change chunk's body (after the chunk header), as
/// `storage/change.rs` `Change::parse_following_header` reads it.
fn change_chunk(data: &[u8], budget: &mut Budget<'_>) -> Result<(), ChunkError> {
    budget.changes(1)?;
    let mut r = Reader::new(data);
    let deps = r.uleb_len()?;
    r.take(
        deps.checked_mul(32)
            .ok_or(ChunkError::Corrupt("dependencies"))?,
    )?;
    r.length_prefixed()?; // actor
    r.uleb()?; // seq
    if r.uleb()? == 0 {
        return Err(ChunkError::Corrupt("start op is zero"));
    }
    r.sleb()?; // timestamp
    let message = r.length_prefixed()?;
    if std::str::from_utf8(message).is_err() {
        return Err(ChunkError::Corrupt("message is not UTF-8"));
    }
    let other_actors = r.uleb_len()?;
    for _ in 0..other_actors {
        r.length_prefixed()?;
    }
    let columns = raw_columns(&mut r)?;
    if columns.iter().any(|c| c.deflated()) {
        return Err(ChunkError::NotAccepted("compressed columns in a change"));
    }
    let total = columns_len(&columns)?;
    let column_data = r.take(total)?;
    // Whatever follows is the change's "extra bytes": kept as given,
    // already bounded by the input size.
    let ops = op_columns(&columns, column_data, budget)?;
    budget.ops(ops.rows)?;
    budget.objects(ops.objects)?;
    Ok(())
}

/// A document chunk's body, as `storage/document.rs` `Document::parse`
/// reads it: actors, heads, change and operation column metadata, the
/// column data, then the head indexes.
fn document_chunk(data: &[u8], budget: &mut Budget<'_>) -> Result<(), ChunkError> {
    let mut r = Reader::new(data);
    let actors = r.uleb_len()?;
    for _ in 0..actors {
        r.length_prefixed()?;
    }
    let heads = r.uleb_len()?;
    r.take(heads.checked_mul(32).ok_or(ChunkError::Corrupt("heads"))?)?;
    let change_columns = raw_columns(&mut r)?;
    let op_columns_meta = raw_columns(&mut r)?;
    let change_data = r.take(columns_len(&change_columns)?)?;
    let op_data = r.take(columns_len(&op_columns_meta)?)?;
    for _ in 0..heads {
        if r.is_empty() {
            break;
        }
        r.uleb()?;
    }
    if !r.is_empty() {
        return Err(ChunkError::Corrupt("bytes left over after a document"));
    }
    let changes = inflated_columns(&change_columns, change_data, budget)?;
    let change_rows = decode_columns(&changes, budget)?;
    budget.changes(change_rows.rows)?;
    let ops = inflated_columns(&op_columns_meta, op_data, budget)?;
    let op_rows = decode_columns(&ops, budget)?;
    budget.ops(op_rows.rows)?;
    budget.objects(op_rows.objects)?;
    Ok(())
}
