//! A cursor over untrusted bytes: every read is bounded by what is there,
//! so running out is a refusal, never a panic or an allocation.

use super::ChunkError;

/// A cursor over bytes that refuses, never panics, when they run out.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], ChunkError> {
        if n > self.bytes.len() {
            return Err(ChunkError::Corrupt("truncated"));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(super) fn byte(&mut self) -> Result<u8, ChunkError> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn uleb(&mut self) -> Result<u64, ChunkError> {
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

    pub(super) fn sleb(&mut self) -> Result<i64, ChunkError> {
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
    pub(super) fn uleb_len(&mut self) -> Result<usize, ChunkError> {
        let n = self.uleb()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.bytes.len() => Ok(n),
            _ => Err(ChunkError::Corrupt("a length runs past the end")),
        }
    }

    pub(super) fn length_prefixed(&mut self) -> Result<&'a [u8], ChunkError> {
        let n = self.uleb_len()?;
        self.take(n)
    }
}
