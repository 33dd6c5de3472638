//! Columns: their metadata, their bytes (inflated under the budget where
//! deflated), and their RLE, delta and boolean runs, counted without
//! allocating what the runs declare (`storage/columns/` in Automerge).

use std::io::Read;

use super::ChunkError;
use super::budget::Budget;
use super::reader::Reader;

/// One column's specification (`storage/columns/column_specification.rs`):
/// the id above bit 4, bit 3 for deflate, the type in the low three bits.
#[derive(Debug, Clone, Copy)]
pub(super) struct RawColumn {
    spec: u32,
    len: usize,
}

impl RawColumn {
    pub(super) fn deflated(&self) -> bool {
        self.spec & 0b1000 != 0
    }

    fn column_type(&self) -> ColumnType {
        match self.spec & 0b111 {
            0 => ColumnType::Group,
            1 => ColumnType::Actor,
            2 => ColumnType::Integer,
            3 => ColumnType::DeltaInteger,
            4 => ColumnType::Boolean,
            5 => ColumnType::String,
            6 => ColumnType::ValueMetadata,
            _ => ColumnType::Value,
        }
    }

    fn id(&self) -> u32 {
        self.spec >> 4
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColumnType {
    Group,
    Actor,
    Integer,
    DeltaInteger,
    Boolean,
    String,
    ValueMetadata,
    Value,
}

/// The action column (id 4, unsigned integers) in change and document ops.
const ACTION_COLUMN_ID: u32 = 4;
/// Actions that create an object: make map, list, text, table
/// (`op_set2/types.rs`).
fn creates_object(action: u64) -> bool {
    matches!(action, 0 | 2 | 4 | 6)
}

/// Column metadata: a count, then (specification, length) pairs. The count
/// is not trusted: each pair must be present in the bytes.
pub(super) fn raw_columns(r: &mut Reader<'_>) -> Result<Vec<RawColumn>, ChunkError> {
    let count = r.uleb_len()?;
    let mut columns = Vec::new();
    for _ in 0..count {
        let spec =
            u32::try_from(r.uleb()?).map_err(|_| ChunkError::Corrupt("column specification"))?;
        let len = r.uleb_len()?;
        columns.push(RawColumn { spec, len });
    }
    Ok(columns)
}

pub(super) fn columns_len(columns: &[RawColumn]) -> Result<usize, ChunkError> {
    columns.iter().try_fold(0usize, |sum, c| {
        sum.checked_add(c.len)
            .ok_or(ChunkError::Corrupt("column lengths overflow"))
    })
}

/// A column with its bytes (inflated where the chunk deflated them).
pub(super) type Column<'d> = (RawColumn, std::borrow::Cow<'d, [u8]>);

/// Each column's bytes, inflated under the budget where deflated.
pub(super) fn inflated_columns<'d>(
    columns: &[RawColumn],
    data: &'d [u8],
    budget: &mut Budget<'_>,
) -> Result<Vec<Column<'d>>, ChunkError> {
    let mut out = Vec::with_capacity(columns.len());
    let mut at = 0usize;
    for column in columns {
        let bytes = &data[at..at + column.len];
        at += column.len;
        if column.deflated() {
            let room = budget.inflate_room();
            let mut inflated = Vec::new();
            flate2::read::DeflateDecoder::new(bytes)
                .take(room.saturating_add(1))
                .read_to_end(&mut inflated)
                .map_err(|_| ChunkError::Corrupt("a compressed column does not inflate"))?;
            budget.inflated(inflated.len() as u64)?;
            out.push((*column, std::borrow::Cow::Owned(inflated)));
        } else {
            out.push((*column, std::borrow::Cow::Borrowed(bytes)));
        }
    }
    Ok(out)
}

/// Rows and created objects of a set of columns.
pub(super) struct Rows {
    pub(super) rows: u64,
    pub(super) objects: u64,
}

pub(super) fn op_columns(
    columns: &[RawColumn],
    data: &[u8],
    budget: &mut Budget<'_>,
) -> Result<Rows, ChunkError> {
    let mut at = 0usize;
    let mut pairs = Vec::with_capacity(columns.len());
    for column in columns {
        pairs.push((
            *column,
            std::borrow::Cow::Borrowed(&data[at..at + column.len]),
        ));
        at += column.len;
    }
    decode_columns(&pairs, budget)
}

/// Decodes every column's runs; the rows of a set of columns is the
/// longest column's (Automerge stops at one column's end, but a document
/// sizes its indexes by another's, so the longest one bounds both).
pub(super) fn decode_columns(
    columns: &[Column<'_>],
    budget: &mut Budget<'_>,
) -> Result<Rows, ChunkError> {
    let mut rows = Rows {
        rows: 0,
        objects: 0,
    };
    for (column, bytes) in columns {
        let decoded = decode_column(*column, bytes, budget)?;
        rows.rows = rows.rows.max(decoded.rows);
        rows.objects += decoded.objects;
    }
    Ok(rows)
}

/// Counts one column's rows from its run lengths, and the bytes it expands
/// to, refusing as soon as either crosses a limit. Never allocates.
fn decode_column(
    column: RawColumn,
    bytes: &[u8],
    budget: &mut Budget<'_>,
) -> Result<Rows, ChunkError> {
    let max_rows = budget.limits.ops.max(budget.limits.changes);
    let mut r = Reader::new(bytes);
    let mut rows = 0u64;
    let mut objects = 0u64;
    let counts_objects =
        column.id() == ACTION_COLUMN_ID && column.column_type() == ColumnType::Integer;
    let mut add_rows = |n: u64, bytes_each: u64, budget: &mut Budget<'_>| {
        rows = rows.saturating_add(n);
        if rows > max_rows {
            return Err(ChunkError::TooLarge {
                what: "rows in one column",
                limit: max_rows,
            });
        }
        budget.expanded(n.saturating_mul(bytes_each))
    };
    match column.column_type() {
        ColumnType::Value => {
            // Raw bytes, read in the lengths the metadata column gives.
            budget.expanded(bytes.len() as u64)?;
        }
        ColumnType::Boolean => {
            while !r.is_empty() {
                let run = r.uleb()?;
                add_rows(run, 1, budget)?;
            }
        }
        column_type => {
            // RLE (`columnar/encoding/rle.rs`): a signed count; > 0 is a
            // run of one value, < 0 a literal run of that many values,
            // 0 a null run whose length follows unsigned.
            while !r.is_empty() {
                let count = r.sleb()?;
                if count > 0 {
                    let (size, value) = rle_value(&mut r, column_type)?;
                    add_rows(count as u64, size, budget)?;
                    if counts_objects && creates_object(value) {
                        objects = objects.saturating_add(count as u64);
                    }
                } else if count < 0 {
                    let n = count.unsigned_abs();
                    if n > max_rows {
                        return Err(ChunkError::TooLarge {
                            what: "rows in one column",
                            limit: max_rows,
                        });
                    }
                    for _ in 0..n {
                        let (size, value) = rle_value(&mut r, column_type)?;
                        add_rows(1, size, budget)?;
                        if counts_objects && creates_object(value) {
                            objects += 1;
                        }
                    }
                } else {
                    let nulls = r.uleb()?;
                    add_rows(nulls, 1, budget)?;
                }
            }
        }
    }
    Ok(Rows { rows, objects })
}

/// One value of an RLE column: the bytes it expands to in memory, and its
/// integer value (0 for strings) for counting created objects.
fn rle_value(r: &mut Reader<'_>, column_type: ColumnType) -> Result<(u64, u64), ChunkError> {
    match column_type {
        ColumnType::String => {
            let s = r.length_prefixed()?;
            if std::str::from_utf8(s).is_err() {
                return Err(ChunkError::Corrupt("a string column holds invalid UTF-8"));
            }
            Ok((s.len() as u64 + 8, 0))
        }
        ColumnType::DeltaInteger => {
            r.sleb()?;
            Ok((8, 0))
        }
        _ => Ok((8, r.uleb()?)),
    }
}
