//! The Policing Pledge's promises with clocks, as pure rules both ends
//! share: which records trigger which promise, when each falls due, and
//! what keeps it (`rules`), counted in UK local time against the England
//! and Wales bank holidays shipped with the code (`calendar`), and a
//! record's promises as they stand at a moment (`evaluate`).
//!
//! It exists so the handset (what is coming due), the server (what is
//! overdue, per station) and the published figures compute promises from
//! one table rather than three. No storage, no I/O and no device feature:
//! the server builds it. The wording each rule restates is in
//! `docs/domain/promises.md`.

pub mod calendar;
pub mod evaluate;
pub mod rules;

pub use calendar::{CalendarError, add_calendar_days, add_working_days, is_working_day};
pub use evaluate::{
    PromiseState, PromiseStatus, PromiseTerms, due_soon_from, evaluate, open_status, terms,
};
pub use rules::{
    Clock, Due, Keeper, OffenceCategory, PROMISES, Promise, PromiseId, RecordFacts, Start, Terms,
    Trigger, promise, triggered_by,
};
