//! Collects every rule a record breaks, so one error names every offending
//! field at once instead of making an officer fix them one by one.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::common::{MAX_SHORT_LEN, MAX_TEXT_LEN};

/// One broken rule: the field (dotted path, police.uk names) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, uniffi::Record)]
pub struct FieldViolation {
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// Accumulates violations while a record is checked.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            problem: problem.into(),
        });
    }

    /// Free text that must be present.
    pub fn required_text(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.push(field, "required");
        } else {
            self.optional_text(field, value);
        }
    }

    /// Free text that may be empty but not oversized.
    pub fn optional_text(&mut self, field: &str, value: &str) {
        if value.len() > MAX_TEXT_LEN {
            self.push(field, format!("longer than {MAX_TEXT_LEN} bytes"));
        }
    }

    /// A short identifier-like value that must be present.
    pub fn required_short(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.push(field, "required");
        } else if value.len() > MAX_SHORT_LEN {
            self.push(field, format!("longer than {MAX_SHORT_LEN} bytes"));
        }
    }

    /// An RFC 3339 time with offset; returns it parsed when valid.
    pub fn timestamp(&mut self, field: &str, value: &str) -> Option<DateTime<FixedOffset>> {
        match parse_time(value) {
            Some(t) => Some(t),
            None if value.trim().is_empty() => {
                self.push(field, "required");
                None
            }
            None => {
                self.push(
                    field,
                    "not an RFC 3339 time with offset (e.g. 2026-11-28T14:05:00Z)",
                );
                None
            }
        }
    }

    /// Ends the check: Ok when nothing was broken.
    pub fn finish(self) -> Result<(), Vec<FieldViolation>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// Parses an RFC 3339 time (the only time format records carry).
pub fn parse_time(value: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(value.trim()).ok()
}
