//! Record references: made offline on any device, unique without asking
//! anyone, unguessable, short enough to read aloud, and self-checking.
//!
//! A reference is 64 random bits written as 13 Crockford base32 characters
//! (no I, L, O or U, so nothing is misread) plus one Luhn mod 32 check
//! character, grouped in fours: `K3F9-QW2H-M4XT-C7`. The check character
//! catches every single mistyped character and most swaps of neighbours,
//! so a wrong reference is refused before any lookup. 64 bits make a
//! collision among a force's lifetime of records negligible, and guessing
//! one impractical once attempts are rate limited.

use rand::RngCore;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DATA_CHARS: usize = 13;

/// A validated record reference in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference(String);

/// Why a typed reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("a reference has 14 characters (13 and a check character), this has {0}")]
    Length(usize),
    #[error("{0:?} is not a reference character")]
    Character(char),
    #[error("the check character does not match: a character is mistyped")]
    Check,
}

impl Reference {
    /// A new random reference.
    pub fn generate() -> Self {
        let bits = rand::rng().next_u64();
        Self::from_bits(bits)
    }

    fn from_bits(bits: u64) -> Self {
        let mut digits = [0u8; DATA_CHARS];
        for (i, digit) in digits.iter_mut().rev().enumerate() {
            *digit = ((bits >> (5 * i)) & 31) as u8;
        }
        let check = luhn_check_digit(&digits);
        let mut all = digits.to_vec();
        all.push(check);
        Reference(format_groups(&all))
    }

    /// Parses what a person typed or read: case-insensitive, hyphens and
    /// spaces ignored, I/L read as 1 and O as 0 (Crockford's rules).
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let mut digits = Vec::with_capacity(DATA_CHARS + 1);
        for c in text.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            if digits.len() > DATA_CHARS + 1 {
                return Err(ReferenceError::Length(text.len()));
            }
            digits.push(decode_char(c).ok_or(ReferenceError::Character(c))?);
        }
        if digits.len() != DATA_CHARS + 1 {
            return Err(ReferenceError::Length(digits.len()));
        }
        if !luhn_valid(&digits) || digits[0] > 15 {
            return Err(ReferenceError::Check);
        }
        Ok(Reference(format_groups(&digits)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn decode_char(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| a as char == c)
        .map(|p| p as u8)
}

fn format_groups(digits: &[u8]) -> String {
    let mut out = String::with_capacity(digits.len() + 4);
    for (i, d) in digits.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(ALPHABET[*d as usize] as char);
    }
    out
}

fn luhn_sum(digits: &[u8], mut factor: u32) -> u32 {
    let mut sum = 0;
    for &d in digits.iter().rev() {
        let addend = factor * u32::from(d);
        sum += addend / 32 + addend % 32;
        factor = if factor == 2 { 1 } else { 2 };
    }
    sum
}

fn luhn_check_digit(digits: &[u8]) -> u8 {
    ((32 - luhn_sum(digits, 2) % 32) % 32) as u8
}

fn luhn_valid(digits: &[u8]) -> bool {
    luhn_sum(digits, 1).is_multiple_of(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_references_parse_back() {
        for _ in 0..1000 {
            let r = Reference::generate();
            assert_eq!(r.as_str().len(), 17, "{r}");
            assert_eq!(Reference::parse(r.as_str()).unwrap(), r);
            let loose = r.as_str().replace('-', " ").to_lowercase();
            assert_eq!(Reference::parse(&loose).unwrap(), r);
        }
    }

    #[test]
    fn every_single_substitution_is_caught() {
        let r = Reference::from_bits(0x0123_4567_89AB_CDEF);
        let chars: Vec<char> = r.as_str().chars().collect();
        for (i, original) in chars.iter().enumerate() {
            if *original == '-' {
                continue;
            }
            for &replacement in ALPHABET {
                let replacement = replacement as char;
                if replacement == *original {
                    continue;
                }
                let mut typo = chars.clone();
                typo[i] = replacement;
                let typo: String = typo.into_iter().collect();
                assert!(Reference::parse(&typo).is_err(), "{typo} accepted");
            }
        }
    }

    #[test]
    fn malformed_references_say_what_is_wrong() {
        assert_eq!(Reference::parse("ABC"), Err(ReferenceError::Length(3)));
        assert_eq!(
            Reference::parse("K3F9-QW2H-M4XT-CU"),
            Err(ReferenceError::Character('U'))
        );
        assert!(matches!(
            Reference::parse(&"1".repeat(500)),
            Err(ReferenceError::Length(_))
        ));
    }

    #[test]
    fn crockford_look_alikes_are_read_as_digits() {
        let r = Reference::from_bits(0x1111_0000_1111_0000);
        let typed = r.as_str().replace('1', "l").replace('0', "o");
        assert_eq!(Reference::parse(&typed).unwrap(), r);
    }
}
