//! The running totals of one pre-parse against its [`Limits`], so a
//! refusal comes as soon as a bound is crossed, never after the work.

use super::{Census, ChunkError, Limits};

/// The running totals of one pre-parse, checked against the limits as
/// they grow, so a refusal comes as soon as a bound is crossed.
pub(super) struct Budget<'l> {
    pub(super) limits: &'l Limits,
    pub(super) census: Census,
}

impl Budget<'_> {
    pub(super) fn add(
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

    pub(super) fn changes(&mut self, n: u64) -> Result<(), ChunkError> {
        Self::add(&mut self.census.changes, n, self.limits.changes, "changes")
    }

    pub(super) fn ops(&mut self, n: u64) -> Result<(), ChunkError> {
        Self::add(&mut self.census.ops, n, self.limits.ops, "operations")
    }

    pub(super) fn objects(&mut self, n: u64) -> Result<(), ChunkError> {
        Self::add(&mut self.census.objects, n, self.limits.objects, "objects")
    }

    pub(super) fn expanded(&mut self, n: u64) -> Result<(), ChunkError> {
        Self::add(
            &mut self.census.expanded_bytes,
            n,
            self.limits.expanded_bytes,
            "bytes once decoded",
        )
    }

    pub(super) fn inflated(&mut self, n: u64) -> Result<(), ChunkError> {
        Self::add(
            &mut self.census.inflated_bytes,
            n,
            self.limits.inflated_bytes,
            "bytes once inflated",
        )
    }

    /// What is left of the inflate budget.
    pub(super) fn inflate_room(&self) -> u64 {
        self.limits
            .inflated_bytes
            .saturating_sub(self.census.inflated_bytes)
    }
}
