//! Hostile inputs of a few KB that Automerge 0.12 would expand to
//! gigabytes, for the tests that show they are refused (core, server) and
//! as seeds of the fuzz targets. `RELIABILITY.md` describes both.

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
