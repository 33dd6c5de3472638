//! The calendar month in London that figures are published for: parsed
//! exactly from `YYYY-MM`, bounded, its first and last instants across the
//! changes of the clocks, and when it is published.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Europe::London;

use super::{FiguresError, PUBLISH_AFTER_DAYS};
use crate::clock::index_time;

/// The earliest month figures are asked for (a bound on the input, well
/// before any record this server can hold).
pub const FIRST_MONTH: Month = Month {
    year: 2000,
    month: 1,
};

/// A calendar month in London, the unit figures are published for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// Parses exactly `YYYY-MM` (month 01 to 12, from [`FIRST_MONTH`] to
    /// 9999-12).
    pub fn parse(text: &str) -> Result<Month, FiguresError> {
        let bad = || {
            FiguresError::BadMonth(format!(
                "the month must be written YYYY-MM, for example 2026-11 (got {:?})",
                text.chars().take(20).collect::<String>()
            ))
        };
        let bytes = text.as_bytes();
        if bytes.len() != 7
            || bytes[4] != b'-'
            || !bytes[..4].iter().chain(&bytes[5..]).all(u8::is_ascii_digit)
        {
            return Err(bad());
        }
        let year: i32 = text[..4].parse().map_err(|_| bad())?;
        let month: u32 = text[5..].parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(FiguresError::BadMonth(format!(
                "there is no month {month:02}: the month must be 01 to 12"
            )));
        }
        let parsed = Month { year, month };
        if parsed < FIRST_MONTH {
            return Err(FiguresError::BadMonth(format!(
                "there are no figures before {FIRST_MONTH}"
            )));
        }
        Ok(parsed)
    }

    /// The London month an instant falls in.
    pub fn of(at: DateTime<Utc>) -> Month {
        let local = at.with_timezone(&London);
        Month {
            year: local.year(),
            month: local.month(),
        }
    }

    /// The London month of an indexed time (`None` if it is not one).
    pub fn of_index_time(text: &str) -> Option<Month> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Month::of(t.with_timezone(&Utc)))
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub(super) fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The month of a London date.
    pub(super) fn of_date(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The instant the month starts in London.
    pub fn start(self) -> DateTime<Utc> {
        london_midnight(self.first_day())
    }

    /// `[start, end)` in the store's indexed time form.
    pub fn bounds(self) -> (String, String) {
        (index_time(self.start()), index_time(self.next().start()))
    }

    /// When the month's figures are published: [`PUBLISH_AFTER_DAYS`]
    /// after it ends.
    pub fn published_from(self) -> DateTime<Utc> {
        self.next().start() + TimeDelta::days(PUBLISH_AFTER_DAYS)
    }

    /// The newest month published at `now`.
    pub fn latest_published(now: DateTime<Utc>) -> Month {
        let mut month = Month::of(now).previous();
        if now < month.published_from() {
            month = month.previous();
        }
        month
    }

    /// "November 2026".
    pub fn title(self) -> String {
        self.first_day().format("%B %Y").to_string()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The instant a London day starts (midnight exists on every London day:
/// the clocks change at 1 am and 2 am).
pub(super) fn london_midnight(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    London
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_exactly_and_follow_london_time() {
        assert_eq!(Month::parse("2027-03").unwrap().to_string(), "2027-03");
        for bad in [
            "2027-3",
            "2027-13",
            "2027-00",
            "27-03",
            "2027/03",
            "2027-03 ",
            "",
            "１２３４-01",
            "1999-12",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad:?}");
        }
        // 00:30 on 1 April 2027 in BST is 23:30 UTC on 31 March: April.
        let m = Month::of("2027-03-31T23:30:00Z".parse().unwrap());
        assert_eq!(m.to_string(), "2027-04");
        // In winter London is UTC.
        let m = Month::of("2027-02-28T23:30:00Z".parse().unwrap());
        assert_eq!(m.to_string(), "2027-02");
        let (from, to) = Month::parse("2027-03").unwrap().bounds();
        assert_eq!(from, "2027-03-01T00:00:00Z");
        assert_eq!(to, "2027-03-31T23:00:00Z");
        let (from, to) = Month::parse("2027-10").unwrap().bounds();
        assert_eq!(from, "2027-09-30T23:00:00Z");
        assert_eq!(to, "2027-11-01T00:00:00Z");
        let now: DateTime<Utc> = "2027-04-07T23:00:00Z".parse().unwrap();
        assert_eq!(Month::latest_published(now).to_string(), "2027-03");
        let now: DateTime<Utc> = "2027-04-07T22:59:59Z".parse().unwrap();
        assert_eq!(Month::latest_published(now).to_string(), "2027-02");
    }
}
