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

use std::io::Read;

use sha2::{Digest, Sha256};

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

impl From<ChunkError> for crate::document::DocumentError {
    fn from(e: ChunkError) -> Self {
        crate::document::DocumentError::Corrupt(e.to_string())
    }
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
    fn from_byte(b: u8) -> Result<Self, ChunkError> {
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

fn checksum(chunk_type: u8, data: &[u8]) -> [u8; 4] {
    let mut prefix = vec![chunk_type];
    write_uleb(&mut prefix, data.len() as u64);
    let mut hasher = Sha256::new();
    hasher.update(&prefix);
    hasher.update(data);
    let hash = hasher.finalize();
    [hash[0], hash[1], hash[2], hash[3]]
}

/// The running totals of one pre-parse, checked against the limits as
/// they grow, so a refusal comes as soon as a bound is crossed.
struct Budget<'l> {
    limits: &'l Limits,
    census: Census,
}

impl Budget<'_> {
    fn add(
        counter: &mut u64,
        amount: u64,
        limit: u64,
        what: &'static str,
    ) -> Result<(), ChunkError> {
        *counter = counter.saturating_add(amount);
        if *counter > limit {
            Err(ChunkError::TooLarge { what, limit })
        } else {
            Ok(())
        }
    }

    fn changes(&mut self, n: u64) -> Result<(), ChunkError> {
        Self::add(&mut self.census.changes, n, self.limits.changes, "changes")
    }

    fn ops(&mut self, n: u64) -> Result<(), ChunkError> {
        Self::add(&mut self.census.ops, n, self.limits.ops, "operations")
    }

    fn objects(&mut self, n: u64) -> Result<(), ChunkError> {
        Self::add(&mut self.census.objects, n, self.limits.objects, "objects")
    }

    fn expanded(&mut self, n: u64) -> Result<(), ChunkError> {
        Self::add(
            &mut self.census.expanded_bytes,
            n,
            self.limits.expanded_bytes,
            "bytes once decoded",
        )
    }

    fn inflated(&mut self, n: u64) -> Result<(), ChunkError> {
        Self::add(
            &mut self.census.inflated_bytes,
            n,
            self.limits.inflated_bytes,
            "bytes once inflated",
        )
    }

    /// What is left of the inflate budget.
    fn inflate_room(&self) -> u64 {
        self.limits
            .inflated_bytes
            .saturating_sub(self.census.inflated_bytes)
    }
}

fn walk(bytes: &[u8], limits: &Limits, accepted: &[ChunkType]) -> Result<Census, ChunkError> {
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

/// One column's specification (`storage/columns/column_specification.rs`):
/// the id above bit 4, bit 3 for deflate, the type in the low three bits.
#[derive(Debug, Clone, Copy)]
struct RawColumn {
    spec: u32,
    len: usize,
}

impl RawColumn {
    fn deflated(&self) -> bool {
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
enum ColumnType {
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
fn raw_columns(r: &mut Reader<'_>) -> Result<Vec<RawColumn>, ChunkError> {
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

fn columns_len(columns: &[RawColumn]) -> Result<usize, ChunkError> {
    columns.iter().try_fold(0usize, |sum, c| {
        sum.checked_add(c.len)
            .ok_or(ChunkError::Corrupt("column lengths overflow"))
    })
}

/// A column with its bytes (inflated where the chunk deflated them).
type Column<'d> = (RawColumn, std::borrow::Cow<'d, [u8]>);

/// Each column's bytes, inflated under the budget where deflated.
fn inflated_columns<'d>(
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
struct Rows {
    rows: u64,
    objects: u64,
}

fn op_columns(
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
fn decode_columns(columns: &[Column<'_>], budget: &mut Budget<'_>) -> Result<Rows, ChunkError> {
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

/// A cursor over bytes that refuses, never panics, when they run out.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ChunkError> {
        if n > self.bytes.len() {
            return Err(ChunkError::Corrupt("truncated"));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, ChunkError> {
        Ok(self.take(1)?[0])
    }

    fn uleb(&mut self) -> Result<u64, ChunkError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.byte()?;
            let part = u64::from(byte & 0x7f);
            if i == 9 && part > 1 {
                return Err(ChunkError::Corrupt("an integer overflows 64 bits"));
            }
            value |= part << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ChunkError::Corrupt("an integer overflows 64 bits"))
    }

    fn sleb(&mut self) -> Result<i64, ChunkError> {
        let mut value = 0i64;
        let mut shift = 0u32;
        for _ in 0..10 {
            let byte = self.byte()?;
            if shift == 63 && byte & 0x7f != 0 && byte & 0x7f != 0x7f {
                return Err(ChunkError::Corrupt("an integer overflows 64 bits"));
            }
            value |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    value |= -1i64 << shift;
                }
                return Ok(value);
            }
        }
        Err(ChunkError::Corrupt("an integer overflows 64 bits"))
    }

    /// An unsigned length, which must fit the bytes that are left: a count
    /// or a length larger than the input cannot be honest.
    fn uleb_len(&mut self) -> Result<usize, ChunkError> {
        let n = self.uleb()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.bytes.len() => Ok(n),
            _ => Err(ChunkError::Corrupt("a length runs past the end")),
        }
    }

    fn length_prefixed(&mut self) -> Result<&'a [u8], ChunkError> {
        let n = self.uleb_len()?;
        self.take(n)
    }
}

/// Hostile inputs of a few KB that Automerge 0.12 would expand to
/// gigabytes, for the tests that show they are refused (core, server) and
/// as seeds of the fuzz targets. `RELIABILITY.md` describes both.
pub mod bombs {
    use super::{ChunkType, MAGIC_BYTES, write_chunk, write_sleb, write_uleb};

    /// A compressed change chunk (type 2) whose deflate stream inflates to
    /// `inflated` zero bytes. Automerge inflates it in full, then copies it
    /// (`storage/chunk.rs`), before any check. About `inflated / 1032`
    /// bytes long, and periodic, so a gzip request body carrying it in
    /// base64 is a few KB.
    pub fn compressed_change(inflated: u64) -> Vec<u8> {
        let deflate = zeros_deflate(inflated);
        let mut out = MAGIC_BYTES.to_vec();
        // The checksum would be of the inflated bytes: Automerge inflates
        // before it compares, so any value does.
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.push(ChunkType::Compressed as u8);
        write_uleb(&mut out, deflate.len() as u64);
        out.extend_from_slice(&deflate);
        out
    }

    /// A raw deflate stream of `len` zero bytes in about `len / 1032`
    /// bytes, deflate's densest: one dynamic-Huffman block whose codes are
    /// literal 0 (`10`), end of block (`11`), length 258 (`0`) and
    /// distance 1 (`0`), so each copy of 258 zeros costs two bits.
    pub fn zeros_deflate(len: u64) -> Vec<u8> {
        let mut w = BitWriter::default();
        w.bits(1, 1); // BFINAL
        w.bits(2, 2); // BTYPE = dynamic Huffman
        w.bits(286 - 257, 5); // HLIT: literal/length codes up to 285
        w.bits(0, 5); // HDIST: one distance code
        w.bits(18 - 4, 4); // HCLEN: code length codes sent
        // Code length code lengths, in the format's order
        // 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1: 18 gets 1 bit, 1
        // and 2 get 2 bits (canonical codes 18 = `0`, 1 = `10`, 2 = `11`).
        for length in [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2] {
            w.bits(length, 3);
        }
        let zeros = |w: &mut BitWriter, n: u32| {
            w.code(0, 1); // 18: repeat zero 11..=138 times
            w.bits(n - 11, 7);
        };
        w.code(0b11, 2); // literal 0: length 2
        zeros(&mut w, 138); // literals 1..=138
        zeros(&mut w, 117); // literals 139..=255
        w.code(0b11, 2); // 256 (end of block): length 2
        zeros(&mut w, 28); // lengths 257..=284
        w.code(0b10, 2); // 285 (length 258): length 1
        w.code(0b10, 2); // distance code 0 (distance 1): length 1
        if len > 0 {
            w.code(0b10, 2); // literal 0
            let mut left = len - 1;
            while left >= 258 {
                w.code(0, 1); // length 258
                w.code(0, 1); // distance 1
                left -= 258;
            }
            for _ in 0..left {
                w.code(0b10, 2);
            }
        }
        w.code(0b11, 2); // end of block
        w.finish()
    }

    #[derive(Default)]
    struct BitWriter {
        out: Vec<u8>,
        acc: u32,
        n: u32,
    }

    impl BitWriter {
        /// `count` bits of `value`, least significant first (headers, extras).
        fn bits(&mut self, value: u32, count: u32) {
            for i in 0..count {
                self.push((value >> i) & 1);
            }
        }

        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            for i in (0..len).rev() {
                self.push((code >> i) & 1);
            }
        }

        fn push(&mut self, bit: u32) {
            self.acc |= bit << self.n;
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }

        fn finish(mut self) -> Vec<u8> {
            if self.n > 0 {
                self.out.push(self.acc as u8);
            }
            self.out
        }
    }

    /// A plain change chunk, checksum correct, of `rows` operations that
    /// each set the root's key "k" to null, in about 60 bytes: every
    /// column is one RLE run of `rows`. Automerge iterates and stores every
    /// operation.
    pub fn rle_change(rows: u64) -> Vec<u8> {
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        let mut columns: Vec<(u32, Vec<u8>)> = Vec::new();
        // key strings (id 1, string): a run of "k"
        let mut key = Vec::new();
        write_sleb(&mut key, rows);
        write_uleb(&mut key, 1);
        key.push(b'k');
        columns.push(((1 << 4) | 5, key));
        // insert (id 3, boolean): `rows` times false
        let mut insert = Vec::new();
        write_uleb(&mut insert, rows as u64);
        columns.push(((3 << 4) | 4, insert));
        // action (id 4, integer): a run of "set" (1)
        columns.push(((4 << 4) | 2, run(rows, 1)));
        // value metadata (id 5): a run of null (type 0, length 0)
        columns.push(((5 << 4) | 6, run(rows, 0)));
        // pred count (id 7, group): a run of 0
        columns.push((7 << 4, run(rows, 0)));

        let mut body = Vec::new();
        write_uleb(&mut body, 0); // no dependencies
        write_uleb(&mut body, 16); // actor
        body.extend_from_slice(&[0xab; 16]);
        write_uleb(&mut body, 1); // seq
        write_uleb(&mut body, 1); // start op
        write_sleb(&mut body, 0); // time
        write_uleb(&mut body, 0); // message
        write_uleb(&mut body, 0); // other actors
        write_uleb(&mut body, columns.len() as u64);
        for (spec, data) in &columns {
            write_uleb(&mut body, u64::from(*spec));
            write_uleb(&mut body, data.len() as u64);
        }
        for (_, data) in &columns {
            body.extend_from_slice(data);
        }
        write_chunk(ChunkType::Change, &body)
    }

    fn run(rows: i64, value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_sleb(&mut out, rows);
        write_uleb(&mut out, value);
        out
    }
}

#[cfg(test)]
mod tests {
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
