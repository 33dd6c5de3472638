//! The bank-holiday table checked against the statutory pattern computed
//! independently here (Easter by the Gregorian computus, the fixed and
//! Monday holidays, substitute days), with the one-off changes listed; and
//! the clock arithmetic across bank holidays, years and British Summer Time.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};

use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Easter Sunday (anonymous Gregorian algorithm).
fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    date(year, month as u32, day as u32)
}

fn first_monday(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Mon, 1).unwrap()
}

fn last_monday(year: i32, month: u32) -> NaiveDate {
    (22..=31)
        .rev()
        .filter_map(|d| NaiveDate::from_ymd_opt(year, month, d))
        .find(|d| d.weekday() == Weekday::Mon)
        .unwrap()
}

fn weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The holidays the standing rules give for a year, before one-offs.
fn by_rule(year: i32) -> BTreeSet<NaiveDate> {
    let mut days = BTreeSet::new();
    let new_year = date(year, 1, 1);
    days.insert(match new_year.weekday() {
        Weekday::Sat => date(year, 1, 3),
        Weekday::Sun => date(year, 1, 2),
        _ => new_year,
    });
    days.insert(easter(year) - Days::new(2));
    days.insert(easter(year) + Days::new(1));
    days.insert(first_monday(year, 5));
    days.insert(last_monday(year, 5));
    days.insert(last_monday(year, 8));
    // Christmas and Boxing Day, each moved to the next weekday not taken.
    for fixed in [date(year, 12, 25), date(year, 12, 26)] {
        let mut day = fixed;
        while weekend(day) || days.contains(&day) {
            day = day + Days::new(1);
        }
        days.insert(day);
    }
    days
}

#[test]
fn the_table_is_the_statutory_pattern_plus_the_listed_one_offs() {
    for year in FIRST_YEAR..=LAST_YEAR {
        let mut expected = by_rule(year);
        match year {
            2022 => {
                // Spring holiday moved to Thursday 2 June; Platinum Jubilee
                // Friday 3 June; the State Funeral on Monday 19 September.
                assert!(expected.remove(&date(2022, 5, 30)));
                expected.extend([date(2022, 6, 2), date(2022, 6, 3), date(2022, 9, 19)]);
            }
            2023 => {
                expected.insert(date(2023, 5, 8)); // the Coronation
            }
            _ => {}
        }
        let table: BTreeSet<NaiveDate> = bank_holidays(year)
            .unwrap()
            .into_iter()
            .map(|h| h.date)
            .collect();
        assert_eq!(table, expected, "{year}");
    }
}

#[test]
fn the_table_is_in_order_without_repeats_and_holidays_fall_on_weekdays() {
    let all: Vec<BankHoliday> = (FIRST_YEAR..=LAST_YEAR)
        .flat_map(|y| bank_holidays(y).unwrap())
        .collect();
    assert_eq!(all.len(), TABLE.len(), "every row is in its year");
    for pair in all.windows(2) {
        assert!(pair[0].date < pair[1].date, "{:?}", pair[1]);
    }
    for holiday in &all {
        assert!(!weekend(holiday.date), "{holiday:?}");
        assert!(!holiday.name.is_empty());
    }
    // Substitute days are named as such.
    assert_eq!(
        bank_holiday(date(2026, 12, 28)).unwrap().unwrap().name,
        "Boxing Day (substitute day)"
    );
}

#[test]
fn working_days_skip_weekends_and_bank_holidays() {
    assert!(is_working_day(date(2026, 12, 1)).unwrap()); // a Tuesday
    assert!(!is_working_day(date(2026, 12, 5)).unwrap()); // a Saturday
    assert!(!is_working_day(date(2026, 12, 28)).unwrap()); // a substitute Monday
    assert!(!is_working_day(date(2023, 5, 8)).unwrap()); // the Coronation
}

#[test]
fn a_bank_holiday_monday_is_skipped() {
    // Friday before the August bank holiday (BST): Tuesday, same local time.
    assert_eq!(
        add_working_days(utc("2025-08-22T09:00:00Z"), 1).unwrap(),
        utc("2025-08-26T09:00:00Z")
    );
    // Report on the May Day Monday itself: counting starts on Tuesday.
    assert_eq!(
        add_working_days(utc("2026-05-04T13:00:00Z"), 10).unwrap(),
        utc("2026-05-18T13:00:00Z")
    );
    // Ten working days across the spring bank holiday.
    assert_eq!(
        add_working_days(utc("2026-05-15T08:30:00Z"), 10).unwrap(),
        utc("2026-06-01T08:30:00Z")
    );
}

#[test]
fn easter_christmas_and_new_year_are_skipped_across_years() {
    // Maundy Thursday 2025: Good Friday and Easter Monday skipped.
    assert_eq!(
        add_working_days(utc("2025-04-17T15:00:00Z"), 1).unwrap(),
        utc("2025-04-22T15:00:00Z")
    );
    // Christmas Eve 2026 (GMT): Friday holiday, weekend, substitute Monday.
    assert_eq!(
        add_working_days(utc("2026-12-24T10:00:00Z"), 1).unwrap(),
        utc("2026-12-29T10:00:00Z")
    );
    // Christmas Eve 2027: both holidays substituted to Monday and Tuesday.
    assert_eq!(
        add_working_days(utc("2027-12-24T10:00:00Z"), 1).unwrap(),
        utc("2027-12-29T10:00:00Z")
    );
    // New Year's Eve 2027 into 2028: the substitute Monday 3 January.
    assert_eq!(
        add_working_days(utc("2027-12-31T16:00:00Z"), 2).unwrap(),
        utc("2028-01-05T16:00:00Z")
    );
    // A Saturday start counts from Monday.
    assert_eq!(
        add_working_days(utc("2026-01-10T11:00:00Z"), 1).unwrap(),
        utc("2026-01-12T11:00:00Z")
    );
    assert_eq!(
        add_working_days(utc("2026-01-10T11:00:00Z"), 0).unwrap(),
        utc("2026-01-10T11:00:00Z")
    );
}

#[test]
fn local_time_is_kept_across_british_summer_time_changes() {
    // Clocks go forward on Sunday 29 March 2026: Friday 09:00 GMT plus one
    // working day is Monday 09:00 BST, 08:00 UTC (71 hours later).
    assert_eq!(
        add_working_days(utc("2026-03-27T09:00:00Z"), 1).unwrap(),
        utc("2026-03-30T08:00:00Z")
    );
    // Clocks go back on Sunday 25 October 2026: 09:00 BST Friday (08:00
    // UTC) to 09:00 GMT Monday (73 hours later).
    assert_eq!(
        add_working_days(utc("2026-10-23T08:00:00Z"), 1).unwrap(),
        utc("2026-10-26T09:00:00Z")
    );
    // 28 calendar days from 10:00 GMT to 10:00 BST.
    assert_eq!(
        add_calendar_days(utc("2026-03-13T10:00:00Z"), 28).unwrap(),
        utc("2026-04-10T09:00:00Z")
    );
    // A day near midnight UTC in summer is the next local date.
    assert_eq!(london_date(utc("2026-07-01T23:30:00Z")), date(2026, 7, 2));
}

#[test]
fn a_local_time_in_the_gap_moves_on_and_one_in_the_fold_is_the_first() {
    // 01:30 on Sunday 29 March 2026 does not exist: 02:30 BST (01:30 UTC).
    assert_eq!(
        add_calendar_days(utc("2026-03-22T01:30:00Z"), 7).unwrap(),
        utc("2026-03-29T01:30:00Z")
    );
    // 01:30 on Sunday 25 October 2026 happens twice: the BST one (00:30 UTC).
    assert_eq!(
        add_calendar_days(utc("2026-10-18T00:30:00Z"), 7).unwrap(),
        utc("2026-10-25T00:30:00Z")
    );
}

#[test]
fn beyond_the_table_is_a_clear_error_never_a_guess() {
    let after = CalendarError::OutsideTable {
        year: 2029,
        first: FIRST_YEAR,
        last: LAST_YEAR,
    };
    // Three working days from Thursday 28 December 2028 reach 2029.
    assert_eq!(
        add_working_days(utc("2028-12-28T10:00:00Z"), 3),
        Err(after.clone())
    );
    assert_eq!(is_working_day(date(2029, 1, 2)), Err(after.clone()));
    assert_eq!(bank_holidays(2029), Err(after.clone()));
    // A weekend outside the table is refused too.
    assert_eq!(is_working_day(date(2029, 1, 6)), Err(after.clone()));
    let before = add_working_days(utc("2021-12-30T10:00:00Z"), 1).unwrap_err();
    assert!(matches!(
        before,
        CalendarError::OutsideTable { year: 2021, .. }
    ));
    let message = after.to_string();
    assert!(
        message.contains("2022 to 2028") && message.contains("2029"),
        "{message}"
    );
    // Within the table's last days it still answers.
    assert_eq!(
        add_working_days(utc("2028-12-22T10:00:00Z"), 1).unwrap(),
        utc("2028-12-27T10:00:00Z")
    );
    // Calendar days need no table.
    assert!(add_calendar_days(utc("2030-01-01T10:00:00Z"), 28).is_ok());
}
