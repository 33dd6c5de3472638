//! Finding the record a member of the public asks for: the checks of the
//! typed reference and date (no lookup), London days, and the one query by
//! reference whose work is the same whether a record exists or not.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::London;
use pocketbook_core::model::RecordKind;
use pocketbook_core::reference::Reference;

use super::{CopyError, MAX_FIELD_LEN};
use crate::retention::RetentionPolicy;
use crate::storage::{RecordIndex, Storage, StorageError, StoredRecord};

/// The kinds a member of the public may get a copy of.
pub(super) const COPY_KINDS: [RecordKind; 2] = [RecordKind::StopSearch, RecordKind::StopAccount];

/// The canonical reference, or [`CopyError::BadReference`] (no lookup).
pub fn check_reference(text: &str) -> Result<String, CopyError> {
    if text.len() > MAX_FIELD_LEN {
        return Err(CopyError::BadReference);
    }
    Reference::parse(text.trim())
        .map(|r| r.to_string())
        .map_err(|_| CopyError::BadReference)
}

/// The day of the stop: a real date, not in the future, and not before
/// the retention window (both in London time).
pub fn check_date(
    text: &str,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<NaiveDate, CopyError> {
    let text = text.trim();
    let date = (text.len() == 10)
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| {
            CopyError::BadDate(
                "That is not a date we can read: give the date of the stop as year-month-day, \
                 for example 2026-11-28."
                    .into(),
            )
        })?;
    if date > london_date(now) {
        return Err(CopyError::BadDate(
            "That date is in the future: give the date of the stop as shown on your receipt."
                .into(),
        ));
    }
    if let Some(start) = policy.encounter_window_start(now)
        && date < london_date(start)
    {
        return Err(CopyError::BadDate(format!(
            "Records of a stop are kept for {} months and then erased, so there is no record \
             from that date any more.",
            policy.encounter_months
        )));
    }
    Ok(date)
}

/// The calendar day in London of an instant.
pub fn london_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&London).date_naive()
}

/// The London day of an RFC 3339 time, `None` if it is not one.
pub(super) fn london_date_of(rfc3339: &str) -> Option<NaiveDate> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| london_date(t.with_timezone(&Utc)))
}

/// The stop or account with this reference on this London day, not yet
/// due for erasure at `now` under `policy` (a record past its period is
/// gone to the public from that second, whenever the retention job runs).
/// Reads the index only: whether a record exists, was erased, is due or
/// never was, the work is this one query.
pub(super) fn find_by_reference(
    storage: &dyn Storage,
    reference: &str,
    date: NaiveDate,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<Option<StoredRecord>, StorageError> {
    Ok(storage
        .records_by_reference(reference)?
        .into_iter()
        .find(|r| {
            COPY_KINDS.contains(&r.index.kind)
                && !is_due(&r.index, policy, now)
                && london_date_of(&r.index.occurred_at) == Some(date)
        }))
}

/// Whether a record is past its retention period at `now` (an index time
/// that does not read counts as past): gone to anyone asking for a copy
/// from that second, whenever the retention job erases it.
pub(super) fn is_due(index: &RecordIndex, policy: &RetentionPolicy, now: DateTime<Utc>) -> bool {
    policy.due_before(index.kind, now).is_some_and(|cutoff| {
        DateTime::parse_from_rfc3339(&index.occurred_at).map_or(true, |at| at < cutoff)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn dates_are_london_days_within_the_window() {
        let policy = RetentionPolicy::default();
        let now = at("2026-11-29T00:30:00Z");
        assert!(check_date("2026-11-29", &policy, now).is_ok());
        assert!(matches!(
            check_date("2026-11-30", &policy, now),
            Err(CopyError::BadDate(m)) if m.contains("future")
        ));
        assert!(matches!(
            check_date("2025-11-28", &policy, now),
            Err(CopyError::BadDate(m)) if m.contains("12 months")
        ));
        assert!(check_date("2025-11-29", &policy, now).is_ok());
        for bad in ["", "29/11/2026", "2026-02-30", "2026-1-5", "tomorrow"] {
            assert!(
                matches!(check_date(bad, &policy, now), Err(CopyError::BadDate(_))),
                "{bad}"
            );
        }
        // 23:30 UTC on 30 June is already 1 July in London (summer time).
        assert_eq!(
            london_date(at("2026-06-30T23:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 7, 1).unwrap()
        );
    }

    #[test]
    fn references_are_checked_without_a_lookup() {
        let good = Reference::generate().to_string();
        assert_eq!(check_reference(&good.to_lowercase()).unwrap(), good);
        let mut typo: Vec<char> = good.chars().collect();
        typo[0] = if typo[0] == '1' { '2' } else { '1' };
        let typo: String = typo.into_iter().collect();
        assert!(matches!(
            check_reference(&typo),
            Err(CopyError::BadReference)
        ));
        assert!(matches!(
            check_reference(&"A".repeat(500)),
            Err(CopyError::BadReference)
        ));
    }
}
