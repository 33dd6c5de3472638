//! Working days in England and Wales: the bank holidays shipped with the
//! code as data, and the clock arithmetic the Pledge's promises need in UK
//! local time (Europe/London, so British Summer Time is handled).
//!
//! Why a table and not a rule: most bank holidays follow a rule, but some
//! are moved or added by royal proclamation (2022 moved the spring holiday
//! and added the Platinum Jubilee and the State Funeral; 2023 added the
//! Coronation). A rule would silently miss those. The table covers
//! [`FIRST_YEAR`] to [`LAST_YEAR`]; any working-day question that touches
//! a date outside it is answered with [`CalendarError::OutsideTable`],
//! never with a guess. Extending it is adding rows from the official list
//! (docs/domain/promises.md, "Working days").
//!
//! Local times: a clock counted in days keeps the local time of day of its
//! start. A local time that does not exist on the day reached (inside the
//! spring-forward gap) becomes the same wall time an hour later, the first
//! instant that exists; one that occurs twice (the autumn fold) is the
//! first occurrence. UK clocks change on Sundays, which are never working
//! days, so neither case arises for a working-day clock.

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc, Weekday,
};
use chrono_tz::Europe::London;

/// The first year the bank-holiday table covers.
pub const FIRST_YEAR: i32 = 2022;
/// The last year the bank-holiday table covers.
pub const LAST_YEAR: i32 = 2028;

/// England and Wales bank holidays, [`FIRST_YEAR`] to [`LAST_YEAR`], in
/// date order: (year, month, day, name). 2022 to 2027 are the official
/// list as published by the UK government; 2028 follows the standing
/// pattern (the Banking and Financial Dealings Act 1971 and the usual
/// substitute days) and must be checked against the official list when it
/// is published (docs/domain/promises.md).
const TABLE: &[(i32, u32, u32, &str)] = &[
    (2022, 1, 3, "New Year's Day (substitute day)"),
    (2022, 4, 15, "Good Friday"),
    (2022, 4, 18, "Easter Monday"),
    (2022, 5, 2, "Early May bank holiday"),
    (2022, 6, 2, "Spring bank holiday (moved)"),
    (2022, 6, 3, "Platinum Jubilee bank holiday"),
    (2022, 8, 29, "Summer bank holiday"),
    (
        2022,
        9,
        19,
        "Bank holiday for the State Funeral of Queen Elizabeth II",
    ),
    (2022, 12, 26, "Boxing Day"),
    (2022, 12, 27, "Christmas Day (substitute day)"),
    (2023, 1, 2, "New Year's Day (substitute day)"),
    (2023, 4, 7, "Good Friday"),
    (2023, 4, 10, "Easter Monday"),
    (2023, 5, 1, "Early May bank holiday"),
    (
        2023,
        5,
        8,
        "Bank holiday for the coronation of King Charles III",
    ),
    (2023, 5, 29, "Spring bank holiday"),
    (2023, 8, 28, "Summer bank holiday"),
    (2023, 12, 25, "Christmas Day"),
    (2023, 12, 26, "Boxing Day"),
    (2024, 1, 1, "New Year's Day"),
    (2024, 3, 29, "Good Friday"),
    (2024, 4, 1, "Easter Monday"),
    (2024, 5, 6, "Early May bank holiday"),
    (2024, 5, 27, "Spring bank holiday"),
    (2024, 8, 26, "Summer bank holiday"),
    (2024, 12, 25, "Christmas Day"),
    (2024, 12, 26, "Boxing Day"),
    (2025, 1, 1, "New Year's Day"),
    (2025, 4, 18, "Good Friday"),
    (2025, 4, 21, "Easter Monday"),
    (2025, 5, 5, "Early May bank holiday"),
    (2025, 5, 26, "Spring bank holiday"),
    (2025, 8, 25, "Summer bank holiday"),
    (2025, 12, 25, "Christmas Day"),
    (2025, 12, 26, "Boxing Day"),
    (2026, 1, 1, "New Year's Day"),
    (2026, 4, 3, "Good Friday"),
    (2026, 4, 6, "Easter Monday"),
    (2026, 5, 4, "Early May bank holiday"),
    (2026, 5, 25, "Spring bank holiday"),
    (2026, 8, 31, "Summer bank holiday"),
    (2026, 12, 25, "Christmas Day"),
    (2026, 12, 28, "Boxing Day (substitute day)"),
    (2027, 1, 1, "New Year's Day"),
    (2027, 3, 26, "Good Friday"),
    (2027, 3, 29, "Easter Monday"),
    (2027, 5, 3, "Early May bank holiday"),
    (2027, 5, 31, "Spring bank holiday"),
    (2027, 8, 30, "Summer bank holiday"),
    (2027, 12, 27, "Christmas Day (substitute day)"),
    (2027, 12, 28, "Boxing Day (substitute day)"),
    (2028, 1, 3, "New Year's Day (substitute day)"),
    (2028, 4, 14, "Good Friday"),
    (2028, 4, 17, "Easter Monday"),
    (2028, 5, 1, "Early May bank holiday"),
    (2028, 5, 29, "Spring bank holiday"),
    (2028, 8, 28, "Summer bank holiday"),
    (2028, 12, 25, "Christmas Day"),
    (2028, 12, 26, "Boxing Day"),
];

/// One bank holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankHoliday {
    pub date: NaiveDate,
    pub name: &'static str,
}

/// Why a date or time could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The computation needs a year the bank-holiday table does not cover.
    #[error(
        "England and Wales bank holidays are known for {first} to {last}; {year} is outside the table (add that year's official list to core/src/pledge/calendar.rs)"
    )]
    OutsideTable { year: i32, first: i32, last: i32 },
    /// The result is beyond the dates this calendar can represent.
    #[error("the date is out of range")]
    OutOfRange,
}

fn outside(year: i32) -> CalendarError {
    CalendarError::OutsideTable {
        year,
        first: FIRST_YEAR,
        last: LAST_YEAR,
    }
}

fn row(&(year, month, day, name): &(i32, u32, u32, &'static str)) -> BankHoliday {
    BankHoliday {
        date: NaiveDate::from_ymd_opt(year, month, day).expect("the table holds real dates"),
        name,
    }
}

/// Every bank holiday of a year, in date order.
pub fn bank_holidays(year: i32) -> Result<Vec<BankHoliday>, CalendarError> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Err(outside(year));
    }
    Ok(TABLE.iter().filter(|r| r.0 == year).map(row).collect())
}

/// The bank holiday on a date, if it is one.
pub fn bank_holiday(date: NaiveDate) -> Result<Option<BankHoliday>, CalendarError> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&date.year()) {
        return Err(outside(date.year()));
    }
    Ok(TABLE.iter().map(row).find(|h| h.date == date))
}

/// Monday to Friday and not a bank holiday.
pub fn is_working_day(date: NaiveDate) -> Result<bool, CalendarError> {
    let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    // A weekend day of a year outside the table is still refused: the
    // answer to "which years are known" must not depend on the weekday.
    let holiday = bank_holiday(date)?;
    Ok(!weekend && holiday.is_none())
}

/// The date in England and Wales at an instant.
pub fn london_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&London).date_naive()
}

/// The instant of a UK local date and time (a time in the spring-forward
/// gap moves an hour on; a time in the autumn fold is its first occurrence).
pub fn london_instant(local: NaiveDateTime) -> Result<DateTime<Utc>, CalendarError> {
    let resolved = London
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            let later = local.checked_add_signed(TimeDelta::hours(1))?;
            London.from_local_datetime(&later).earliest()
        })
        .ok_or(CalendarError::OutOfRange)?;
    Ok(resolved.with_timezone(&Utc))
}

/// `start` moved to another UK local date, at the same local time of day.
fn same_local_time_on(
    start: DateTime<Utc>,
    date: NaiveDate,
) -> Result<DateTime<Utc>, CalendarError> {
    let time = start.with_timezone(&London).time();
    london_instant(date.and_time(time))
}

/// `n` working days after `start`: the same UK local time of day on the
/// `n`th working day after the local date of `start` (a start on a
/// weekend or bank holiday counts from the next working day). `n = 0`
/// gives `start`. Every date passed must be in the table.
pub fn add_working_days(start: DateTime<Utc>, n: u32) -> Result<DateTime<Utc>, CalendarError> {
    if n == 0 {
        return Ok(start);
    }
    let mut date = london_date(start);
    let mut counted = 0;
    while counted < n {
        date = date
            .checked_add_days(Days::new(1))
            .ok_or(CalendarError::OutOfRange)?;
        if is_working_day(date)? {
            counted += 1;
        }
    }
    same_local_time_on(start, date)
}

/// `n` calendar days after `start`, at the same UK local time of day (so
/// across a change of the clocks the span is an hour shorter or longer
/// than `n` times 24 hours). Needs no bank holidays.
pub fn add_calendar_days(start: DateTime<Utc>, n: u32) -> Result<DateTime<Utc>, CalendarError> {
    let date = london_date(start)
        .checked_add_days(Days::new(u64::from(n)))
        .ok_or(CalendarError::OutOfRange)?;
    same_local_time_on(start, date)
}

#[cfg(test)]
mod tests;
