//! Group commit: the records of one push merged and checked first, then
//! the accepted ones committed together ([`Storage::commit_records`]: one
//! transaction with a savepoint per record on SQLite), so a push of many
//! records pays one durable commit, and a record the store refuses
//! refuses only itself. `POCKETBOOK_PUSH_COMMIT=per-record` keeps the
//! previous path, one transaction per record, measurable.

use super::*;

/// How the records of one push are committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitMode {
    /// Every record merged first, then the accepted ones committed together
    /// ([`Storage::commit_records`]: one transaction with a savepoint per
    /// record on SQLite), so a push of many records costs one durable
    /// commit, and a record refused by the store refuses only itself.
    #[default]
    Grouped,
    /// Each record merged and committed in its own transaction, as before
    /// group commit: kept selectable so the difference stays measurable
    /// (`server/benches/push.rs`).
    PerRecord,
}

impl CommitMode {
    /// The environment variable that chooses the mode: `per-record`, or
    /// `grouped` (the default, also when unset or unreadable).
    pub const ENV: &'static str = "POCKETBOOK_PUSH_COMMIT";

    /// The mode this server process was started with ([`Self::ENV`]), read
    /// once.
    pub fn configured() -> Self {
        static MODE: std::sync::OnceLock<CommitMode> = std::sync::OnceLock::new();
        *MODE.get_or_init(|| Self::parse(std::env::var(Self::ENV).ok().as_deref()))
    }

    fn parse(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some("per-record") => CommitMode::PerRecord,
            Some("grouped") | None => CommitMode::Grouped,
            Some(other) => {
                tracing::warn!(value = other, "unknown {}; pushes are grouped", Self::ENV);
                CommitMode::Grouped
            }
        }
    }
}

/// Every record of a push, answered in push order, committed as
/// `arrival.commit` says: one at a time ([`push_record`] each), or grouped:
/// all merged and checked first, the accepted ones committed together,
/// and any that lost a race with another writer merged and committed
/// again on its own. A record the store refuses (a reference another
/// record took meanwhile) refuses only itself; a storage failure fails the
/// request, as on the per-record path.
pub fn push_records(
    storage: &dyn Storage,
    principal: &Principal,
    pushes: &[PushedRecord],
    arrival: &Arrival,
    audit: &mut Vec<NewAuditEvent>,
) -> Result<Vec<PushResult>, StorageError> {
    if arrival.commit == CommitMode::PerRecord {
        return pushes
            .iter()
            .map(|push| push_record(storage, principal, push, arrival, audit))
            .collect();
    }
    let mut answers: Vec<Option<PushResult>> = Vec::with_capacity(pushes.len());
    let mut ready: Vec<(usize, Ready)> = Vec::new();
    for (i, push) in pushes.iter().enumerate() {
        match prepare(storage, principal, push, arrival)? {
            Prepared::Answer(result) => answers.push(Some(result)),
            Prepared::Commit(commit) => {
                answers.push(None);
                ready.push((i, *commit));
            }
        }
    }
    let commits: Vec<RecordCommit> = ready.iter().map(|(_, r)| r.commit.clone()).collect();
    // An idle sync pushes nothing: it costs the store no call at all.
    let results = if commits.is_empty() {
        Vec::new()
    } else {
        storage.commit_records(&commits)?
    };
    if results.len() != ready.len() {
        return Err(StorageError::backend(
            "the store answered a grouped commit with the wrong number of results",
        ));
    }
    for ((i, prepared), result) in ready.into_iter().zip(results) {
        answers[i] = match committed(prepared, result)? {
            Some(answer) => Some(answer),
            // Lost a race: merge again with what the other writer stored.
            None => Some(merge_and_commit(storage, principal, &pushes[i], arrival)?),
        };
    }
    let mut out = Vec::with_capacity(pushes.len());
    for (push, answer) in pushes.iter().zip(answers) {
        let answer =
            answer.ok_or_else(|| StorageError::backend("a pushed record went unanswered"))?;
        audit_refusal(principal, push, &answer, audit);
        out.push(answer);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::CommitMode;

    #[test]
    fn pushes_are_grouped_unless_the_environment_asks_for_one_at_a_time() {
        assert_eq!(CommitMode::parse(None), CommitMode::Grouped);
        assert_eq!(CommitMode::parse(Some("grouped")), CommitMode::Grouped);
        assert_eq!(
            CommitMode::parse(Some(" per-record\n")),
            CommitMode::PerRecord
        );
        assert_eq!(CommitMode::parse(Some("fast")), CommitMode::Grouped);
    }
}
