//! Each record's promise terms kept beside its row, so the promises
//! screen and the promise watch list every promise on the device with one
//! read of one small table, not by loading and reading every scene and
//! burglary document (0.35 ms a record). The terms are what judging a
//! promise needs apart from the clock (`pledge::PromiseTerms`: start, due
//! and due-soon times, what kept it, per promise and occurrence); only
//! the status of an open promise is computed when they are read.
//!
//! They are written in the same transaction as the record's row, by every
//! write of `store/writes.rs` (a new record, a local edit, a merge, a
//! feed entry applied), by a rollback (`store/rollback.rs`) and by the
//! migration to schema version 6, and removed with the record (erasure,
//! wipe: `store/retention.rs`, and `ON DELETE CASCADE`). A compaction
//! changes no document, so no terms.
//!
//! Why a table of their own and not columns of the record's row: the row
//! holds the record's snapshot inline, and a column added to it comes
//! after the snapshot, in its overflow chain. Reading it would walk the
//! chain (every page of the snapshot, for every record listed), and a
//! value of another size would make SQLite rewrite the whole row, chain
//! included, where an edit now overwrites the row in place (schema 5:
//! 2.65 pages an edit, `core/tests/api/edit_pages.rs`). This table is
//! written only when a record's terms change (arrival, leaving, an
//! offence category, a promise entry, a tick, an agreement: not a scene
//! action or a note, the edits made most), and then its one leaf page; a
//! listing reads it alone (kind and reference are kept with the terms:
//! neither ever changes).
//!
//! The terms are one compact serialised column, [`encode`]d as: a format
//! byte (1), then per promise the promise's vocabulary string (length
//! byte, bytes), the occurrence (u32), four times (a presence byte, then
//! seconds i64 and nanoseconds u32, big-endian) and the settled status (0
//! for open, else 1 + its place in `PromiseStatus::ALL`).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError};
use crate::document::{DocumentError, RecordDoc};
use crate::model::{RecordBody, RecordKind};
use crate::pledge::{PromiseId, PromiseStatus, PromiseTerms, terms};

/// The serialised form's version.
const FORMAT: u8 = 1;

/// One record's promise terms as the store keeps them.
#[derive(Debug, Clone)]
pub struct RecordTerms {
    pub record_id: String,
    pub kind: RecordKind,
    pub reference: String,
    pub terms: Vec<PromiseTerms>,
}

fn put_time(out: &mut Vec<u8>, at: Option<DateTime<Utc>>) {
    match at {
        None => out.push(0),
        Some(at) => {
            out.push(1);
            out.extend_from_slice(&at.timestamp().to_be_bytes());
            out.extend_from_slice(&at.timestamp_subsec_nanos().to_be_bytes());
        }
    }
}

/// The terms in their stored form.
pub fn encode(terms: &[PromiseTerms]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + terms.len() * 48);
    out.push(FORMAT);
    for t in terms {
        let id = t.promise.as_str().as_bytes();
        out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&id[..id.len().min(usize::from(u8::MAX))]);
        out.extend_from_slice(&t.occurrence.to_be_bytes());
        put_time(&mut out, Some(t.started_at));
        put_time(&mut out, t.due_at);
        put_time(&mut out, t.due_soon_at);
        put_time(&mut out, t.kept_at);
        out.push(match t.settled {
            None => 0,
            Some(status) => {
                let at = PromiseStatus::ALL.iter().position(|s| *s == status);
                1 + u8::try_from(at.unwrap_or_default()).unwrap_or_default()
            }
        });
    }
    out
}

/// Reads stored bytes one field at a time; `None` where they end early.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn time(&mut self) -> Option<Option<DateTime<Utc>>> {
        match self.byte()? {
            0 => Some(None),
            1 => {
                let secs = i64::from_be_bytes(self.take(8)?.try_into().ok()?);
                let nanos = self.u32()?;
                Some(Some(DateTime::from_timestamp(secs, nanos)?))
            }
            _ => None,
        }
    }

    fn terms(&mut self) -> Option<PromiseTerms> {
        let len = usize::from(self.byte()?);
        let promise = PromiseId::parse(std::str::from_utf8(self.take(len)?).ok()?)?;
        let occurrence = self.u32()?;
        let started_at = self.time()??;
        let due_at = self.time()?;
        let due_soon_at = self.time()?;
        let kept_at = self.time()?;
        let settled = match self.byte()? {
            0 => None,
            n => Some(*PromiseStatus::ALL.get(usize::from(n) - 1)?),
        };
        Some(PromiseTerms {
            promise,
            occurrence,
            started_at,
            due_at,
            due_soon_at,
            kept_at,
            settled,
        })
    }
}

/// The terms of their stored form; a store that holds something else is
/// damaged (a typed error, never a panic).
pub fn decode(bytes: &[u8]) -> Result<Vec<PromiseTerms>, StoreError> {
    let damaged = || StoreError::Document(DocumentError::Corrupt("stored promise terms".into()));
    let mut reader = Reader(bytes);
    if reader.byte() != Some(FORMAT) {
        return Err(damaged());
    }
    let mut out = Vec::new();
    while !reader.0.is_empty() {
        out.push(reader.terms().ok_or_else(damaged)?);
    }
    Ok(out)
}

/// Writes a record's terms inside the caller's transaction: a row while
/// it has any, none otherwise. A row already holding them is not written
/// (so its page is not), which makes this safe to call on every merge.
pub(super) fn write_terms(
    conn: &Connection,
    doc: &RecordDoc,
    terms: &[PromiseTerms],
) -> Result<(), StoreError> {
    let header = doc.header();
    if terms.is_empty() {
        conn.prepare_cached("DELETE FROM promise_terms WHERE record_id = ?1")?
            .execute([&header.id])?;
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO promise_terms (record_id, kind, reference, terms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (record_id) DO UPDATE SET terms = excluded.terms
         WHERE terms IS NOT excluded.terms",
    )?
    .execute(params![
        header.id,
        header.kind.as_str(),
        header.reference,
        encode(terms)
    ])?;
    Ok(())
}

/// [`write_terms`] of the record's body as the document holds it.
pub(super) fn write_terms_of(
    conn: &Connection,
    doc: &RecordDoc,
    body: Option<&RecordBody>,
) -> Result<(), StoreError> {
    if !matches!(
        doc.kind(),
        RecordKind::SceneAttendance | RecordKind::HomeBurglary
    ) {
        // No other kind triggers a promise.
        return Ok(());
    }
    let terms = match body {
        Some(body) => terms(body),
        None => terms(&doc.body()?),
    };
    write_terms(conn, doc, &terms)
}

/// Schema version 6: the terms of every record already stored, read from
/// its snapshot and changes (inside the migration's transaction).
pub(super) fn fill(conn: &Connection) -> Result<(), StoreError> {
    let actor = automerge::ActorId::random();
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM records WHERE kind IN (?1, ?2) ORDER BY id")?
        .query_map(
            [
                RecordKind::SceneAttendance.as_str(),
                RecordKind::HomeBurglary.as_str(),
            ],
            |r| r.get(0),
        )?
        .collect::<Result<_, _>>()?;
    for id in ids {
        // A record whose document cannot be read here has no terms (it
        // could not be listed before either), and does not stop the store
        // from opening; its next write that reads it gives it terms.
        let written = super::load_doc(conn, &id, &actor).and_then(|doc| match doc {
            Some(doc) => write_terms_of(conn, &doc, None),
            None => Ok(()),
        });
        match written {
            Ok(()) => {}
            Err(StoreError::Document(e)) => {
                tracing::warn!(error = %e, "a record's promise terms could not be read");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Store {
    /// The promise terms of every record on the device that has any, or
    /// of the record `only` (empty when it has none; [`StoreError::NotFound`]
    /// when it is not on the device).
    pub fn promise_terms(&self, only: Option<&str>) -> Result<Vec<RecordTerms>, StoreError> {
        let read = |r: &rusqlite::Row<'_>| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        };
        let rows: Vec<(String, String, String, Vec<u8>)> = match only {
            Some(id) => {
                let here = self
                    .conn
                    .prepare_cached("SELECT 1 FROM records WHERE id = ?1")?
                    .query_row([id], |_| Ok(()))
                    .optional()?;
                if here.is_none() {
                    return Err(StoreError::NotFound);
                }
                self.conn
                    .prepare_cached(
                        "SELECT record_id, kind, reference, terms FROM promise_terms
                         WHERE record_id = ?1",
                    )?
                    .query_map([id], read)?
                    .collect::<Result<_, _>>()?
            }
            None => self
                .conn
                .prepare_cached("SELECT record_id, kind, reference, terms FROM promise_terms")?
                .query_map([], read)?
                .collect::<Result<_, _>>()?,
        };
        rows.into_iter()
            .map(|(record_id, kind, reference, bytes)| {
                let kind = RecordKind::parse(&kind).ok_or_else(|| {
                    StoreError::Document(DocumentError::Corrupt("stored record kind".into()))
                })?;
                Ok(RecordTerms {
                    record_id,
                    kind,
                    reference,
                    terms: decode(&bytes)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_come_back_as_they_went_and_damaged_bytes_are_refused() {
        let at = |s: i64, n: u32| DateTime::from_timestamp(s, n).unwrap();
        let terms = vec![
            PromiseTerms {
                promise: PromiseId::ALL[0],
                occurrence: 0,
                started_at: at(1_700_000_000, 123_456_789),
                due_at: Some(at(1_700_000_720, 1)),
                due_soon_at: Some(at(1_700_000_540, 0)),
                kept_at: None,
                settled: None,
            },
            PromiseTerms {
                promise: *PromiseId::ALL.last().unwrap(),
                occurrence: 7,
                started_at: at(-5, 0),
                due_at: None,
                due_soon_at: None,
                kept_at: Some(at(1_800_000_000, 999_999_999)),
                settled: Some(PromiseStatus::Unknown),
            },
        ];
        let bytes = encode(&terms);
        assert_eq!(decode(&bytes).unwrap(), terms);
        assert_eq!(decode(&encode(&[])).unwrap(), Vec::new());
        for cut in 0..bytes.len() - 1 {
            assert_ne!(
                decode(&bytes[..=cut]).ok(),
                Some(terms.clone()),
                "cut at {cut}"
            );
        }
        assert!(decode(&[]).is_err());
        assert!(decode(&[2]).is_err());
    }
}
