//! What is published of a station's month: the exact counts of
//! [`super::tally`] with small counts suppressed, and the shares, as the
//! JSON and CSV the page, `GET /figures?format=...` and `admin figures`
//! give. The rule (`docs/domain/published-figures.md`):
//!
//! 1. **Primary**: a count from 1 to [`THRESHOLD`] - 1 is not shown
//!    (`count: null, suppressed: true`); 0 is shown.
//! 2. **Complementary**: in a breakdown, whose cells add up to the shown
//!    total, a single suppressed cell could be worked out by subtraction,
//!    so the smallest other non-zero cell (the first in vocabulary order
//!    among equals) is suppressed too.
//! 3. **Shares** (attendance within target, outcome linked, promises kept) are shown, to
//!    one decimal place, only when their denominator is at least
//!    [`THRESHOLD`]; they describe the police's performance, not people.

use serde::Serialize;

use super::tally::{GRADES, PROMISES, StationTally};

/// Counts below this (and above zero) are suppressed.
pub const THRESHOLD: u64 = 5;

/// One published count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// `None` when suppressed.
    pub count: Option<u64>,
    pub suppressed: bool,
}

impl Cell {
    /// A count under the primary rule.
    pub fn of(n: u64) -> Cell {
        if (1..THRESHOLD).contains(&n) {
            Cell::hidden()
        } else {
            Cell {
                count: Some(n),
                suppressed: false,
            }
        }
    }

    fn hidden() -> Cell {
        Cell {
            count: None,
            suppressed: true,
        }
    }

    /// As text: the count, or "fewer than 5".
    pub fn text(&self) -> String {
        match self.count {
            Some(n) => n.to_string(),
            None => format!("fewer than {THRESHOLD}"),
        }
    }
}

/// A share in percent to one decimal place, `None` when the denominator is
/// below [`THRESHOLD`] (zero included). Rounded half up, in integers.
pub fn share(part: u64, whole: u64) -> Option<f64> {
    if whole < THRESHOLD {
        return None;
    }
    let tenths = (part * 1000 + whole / 2) / whole;
    Some(tenths as f64 / 10.0)
}

/// The share as text: "87.5%", or why it is not shown.
pub fn share_text(share: Option<f64>) -> String {
    match share {
        Some(p) => format!("{p:.1}%"),
        None => format!("not shown (fewer than {THRESHOLD})"),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttendanceFigure {
    /// `emergency`, `priority` or `scheduled`.
    pub grade: String,
    /// The target in words.
    pub target: String,
    /// Attendances with an arrival recorded.
    pub attended: Cell,
    pub within_target: Cell,
    /// Percentage of `attended` within target.
    pub share_percent: Option<f64>,
    /// Calls of this grade with no arrival recorded (not in the share).
    pub no_arrival_recorded: Cell,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakdownCell {
    pub value: String,
    #[serde(flatten)]
    pub cell: Cell,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakdownFigure {
    /// The police.uk field.
    pub field: String,
    /// Its heading.
    pub title: String,
    pub cells: Vec<BreakdownCell>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkedFigure {
    /// Searches whose outcome was linked to their object.
    pub linked: Cell,
    /// Searches with the link recorded (yes or no): the share's denominator.
    pub recorded: Cell,
    pub share_percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromiseFigure {
    /// The promise, e.g. `victim update` (`docs/domain/promises.md`).
    pub promise: String,
    /// The promise in words.
    pub title: String,
    /// Promises settled when the month was counted: kept, kept late, or
    /// past due.
    pub settled: Cell,
    pub kept: Cell,
    /// Percentage of `settled` kept in time.
    pub share_percent: Option<f64>,
    /// Not due yet when counted (not in the share).
    pub still_open: Cell,
}

/// A station's published month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationFigures {
    pub month: String,
    pub station: String,
    /// When the month was counted and frozen.
    pub computed_at: String,
    pub suppression_threshold: u64,
    pub attendance: Vec<AttendanceFigure>,
    pub searches: Cell,
    pub breakdowns: Vec<BreakdownFigure>,
    pub outcome_linked: LinkedFigure,
    /// Victim updates, reviews and contacts kept (empty for a month
    /// frozen before they were counted).
    pub promises: Vec<PromiseFigure>,
}

/// The heading of a breakdown field.
pub fn title(field: &str) -> &'static str {
    match field {
        "legislation" => "Searches by legislation",
        "object_of_search" => "Searches by object of search",
        "outcome" => "Searches by outcome",
        "self_defined_ethnicity" => "Searches by self-defined ethnicity",
        "age_range" => "Searches by age range",
        _ => "Searches",
    }
}

/// Primary and complementary suppression of one breakdown.
pub fn suppress(cells: &[(String, u64)]) -> Vec<BreakdownCell> {
    let mut out: Vec<BreakdownCell> = cells
        .iter()
        .map(|(value, n)| BreakdownCell {
            value: value.clone(),
            cell: Cell::of(*n),
        })
        .collect();
    if out.iter().filter(|c| c.cell.suppressed).count() == 1 {
        let smallest = cells
            .iter()
            .enumerate()
            .filter(|(i, (_, n))| *n > 0 && !out[*i].cell.suppressed)
            .min_by_key(|(i, (_, n))| (*n, *i))
            .map(|(i, _)| i);
        if let Some(i) = smallest {
            out[i].cell = Cell::hidden();
        }
    }
    out
}

/// A station's figures as published, from its exact counts.
pub fn station_figures(month: &str, computed_at: &str, tally: &StationTally) -> StationFigures {
    let attendance = tally
        .attendance
        .iter()
        .map(|a| AttendanceFigure {
            grade: a.grade.clone(),
            target: GRADES
                .iter()
                .find(|(g, _)| g.as_str() == a.grade)
                .map(|(_, t)| t.to_string())
                .unwrap_or_default(),
            attended: Cell::of(a.attended()),
            within_target: Cell::of(a.within),
            share_percent: share(a.within, a.attended()),
            no_arrival_recorded: Cell::of(a.no_arrival),
        })
        .collect();
    let recorded = tally.linked + tally.not_linked;
    StationFigures {
        month: month.to_string(),
        station: tally.station.clone(),
        computed_at: computed_at.to_string(),
        suppression_threshold: THRESHOLD,
        attendance,
        searches: Cell::of(tally.searches),
        breakdowns: tally
            .breakdowns
            .iter()
            .map(|b| BreakdownFigure {
                field: b.field.clone(),
                title: title(&b.field).to_string(),
                cells: suppress(&b.cells),
            })
            .collect(),
        outcome_linked: LinkedFigure {
            linked: Cell::of(tally.linked),
            recorded: Cell::of(recorded),
            share_percent: share(tally.linked, recorded),
        },
        promises: tally
            .promises
            .iter()
            .map(|p| PromiseFigure {
                promise: p.promise.clone(),
                title: PROMISES
                    .iter()
                    .find(|(id, _)| id.as_str() == p.promise)
                    .map(|(_, t)| t.to_string())
                    .unwrap_or_default(),
                settled: Cell::of(p.settled()),
                kept: Cell::of(p.kept),
                share_percent: share(p.kept, p.settled()),
                still_open: Cell::of(p.open),
            })
            .collect(),
    }
}

/// The published figures as one CSV table:
/// `Station,Month,Figure,Value,Count,Suppressed,Share percent`.
pub fn csv(figures: &[StationFigures]) -> String {
    let mut out = String::from("Station,Month,Figure,Value,Count,Suppressed,Share percent\r\n");
    let quote = |v: &str| super::police_uk::cell(v, true);
    for f in figures {
        let mut line = |figure: &str, value: &str, cell: Option<Cell>, share: Option<f64>| {
            out.push_str(&format!(
                "{},{},{},{},{},{},{}\r\n",
                quote(&f.station),
                f.month,
                figure,
                quote(value),
                cell.and_then(|c| c.count)
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                cell.map(|c| if c.suppressed { "yes" } else { "no" })
                    .unwrap_or_default(),
                share.map(|p| format!("{p:.1}")).unwrap_or_default(),
            ));
        };
        for a in &f.attendance {
            let figure = format!("attendance {}", a.grade);
            line(&figure, "attended", Some(a.attended), None);
            line(
                &figure,
                "within target",
                Some(a.within_target),
                a.share_percent,
            );
            line(
                &figure,
                "no arrival recorded",
                Some(a.no_arrival_recorded),
                None,
            );
        }
        line("searches", "all", Some(f.searches), None);
        for b in &f.breakdowns {
            for c in &b.cells {
                line(&b.field, &c.value, Some(c.cell), None);
            }
        }
        line(
            "outcome linked to object of search",
            "linked",
            Some(f.outcome_linked.linked),
            f.outcome_linked.share_percent,
        );
        line(
            "outcome linked to object of search",
            "recorded",
            Some(f.outcome_linked.recorded),
            None,
        );
        for p in &f.promises {
            let figure = format!("promise {}", p.promise);
            line(&figure, "settled", Some(p.settled), None);
            line(&figure, "kept", Some(p.kept), p.share_percent);
            line(&figure, "still open", Some(p.still_open), None);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_station_name_is_never_a_formula_in_the_csv() {
        let cell = Cell {
            count: Some(12),
            suppressed: false,
        };
        let figures = StationFigures {
            month: "2026-10".into(),
            station: "\t=HYPERLINK(\"x\")".into(),
            computed_at: "2026-11-01T00:00:00.000Z".into(),
            suppression_threshold: 5,
            attendance: Vec::new(),
            searches: cell,
            breakdowns: Vec::new(),
            outcome_linked: LinkedFigure {
                linked: cell,
                recorded: cell,
                share_percent: None,
            },
            promises: Vec::new(),
        };
        let text = csv(&[figures]);
        let row = text.lines().nth(1).expect("a row for the station");
        assert!(row.starts_with("\"'\t=HYPERLINK("), "{row}");
    }

    fn cells(ns: &[u64]) -> Vec<(String, u64)> {
        ns.iter()
            .enumerate()
            .map(|(i, n)| (format!("v{i}"), *n))
            .collect()
    }

    fn shown(out: &[BreakdownCell]) -> Vec<Option<u64>> {
        out.iter().map(|c| c.cell.count).collect()
    }

    #[test]
    fn small_counts_are_suppressed_and_a_lone_one_gets_a_partner() {
        assert_eq!(
            shown(&suppress(&cells(&[0, 5, 12]))),
            [Some(0), Some(5), Some(12)]
        );
        assert_eq!(
            shown(&suppress(&cells(&[3, 4, 12]))),
            [None, None, Some(12)]
        );
        // One small cell alone: the smallest other non-zero one goes too.
        assert_eq!(
            shown(&suppress(&cells(&[2, 0, 9, 7, 7]))),
            [None, Some(0), Some(9), None, Some(7)]
        );
        // Nothing else to hide: the total is then below the threshold too.
        assert_eq!(shown(&suppress(&cells(&[0, 3]))), [Some(0), None]);
    }

    #[test]
    fn shares_need_a_denominator_of_at_least_the_threshold() {
        assert_eq!(share(3, 4), None);
        assert_eq!(share(0, 0), None);
        assert_eq!(share(2, 3), None);
        assert_eq!(share(7, 8), Some(87.5));
        assert_eq!(share(1, 6), Some(16.7));
        assert_eq!(share(2, 15), Some(13.3));
    }
}
