//! The `[retention]` table of the config file: how long each kind is kept,
//! how often the job runs, and how far the clock may move ahead of the
//! job's last trusted run (`crate::retention::guard`), each checked against
//! what the law and the receipt promise.

use serde::Deserialize;

use crate::retention::RetentionPolicy;

/// Default pause between retention runs.
pub const DEFAULT_RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Longest pause between retention runs that `every_minutes` may set.
pub const MAX_RETENTION_EVERY_MINUTES: u64 = 24 * 60;

/// The `[retention]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionFile {
    /// Months a stop and search or stop and account record is kept (default 12).
    pub encounter_months: Option<u32>,
    /// Days a scene or burglary record is kept (default: not erased automatically).
    pub attendance_days: Option<u32>,
    /// Minutes between runs of the job (default 60).
    pub every_minutes: Option<u64>,
    /// Hours the clock may move ahead of the last trusted run before the
    /// job stops erasing and waits for an admin (default 96).
    pub clock_step_hours: Option<u32>,
}

/// Longest `clock_step_hours`: a jump smaller than the step is not caught,
/// and may erase as much early (`docs/retention-clock.md`).
pub const MAX_CLOCK_STEP_HOURS: u32 = 14 * 24;

impl RetentionFile {
    /// The policy and the time between runs, or why the table is refused.
    pub fn resolve(&self) -> Result<(RetentionPolicy, std::time::Duration), String> {
        let defaults = RetentionPolicy::default();
        let retention = RetentionPolicy {
            encounter_months: self.encounter_months.unwrap_or(defaults.encounter_months),
            attendance_days: self.attendance_days.or(defaults.attendance_days),
            clock_step_hours: defaults.clock_step_hours,
        };
        // The receipt tells the person searched that the record is kept for
        // 12 months, and the public copy is promised for as long: a force may
        // keep records longer, never shorter.
        if retention.encounter_months < 12 {
            return Err(
                "retention.encounter_months must be at least 12 (the receipt promises the record for 12 months)"
                    .into(),
            );
        }
        // 0 days would erase every scene and burglary record at the next run,
        // the one just made included, on the server and on every device.
        if retention.attendance_days == Some(0) {
            return Err(
                "retention.attendance_days must be at least 1 (leave it out to keep scene and burglary records)"
                    .into(),
            );
        }
        let retention_every = match self.every_minutes {
            Some(minutes @ 1..=MAX_RETENTION_EVERY_MINUTES) => {
                std::time::Duration::from_secs(minutes * 60)
            }
            Some(_) => {
                return Err(format!(
                    "retention.every_minutes must be between 1 and {MAX_RETENTION_EVERY_MINUTES} (a day), so records are erased on the day they are due"
                ));
            }
            None => DEFAULT_RETENTION_EVERY,
        };
        // A schedule moving the clock on by one interval, or two when a run
        // failed, must never look like a jump.
        let min_step =
            u32::try_from(retention_every.as_secs().div_ceil(3600) * 2).unwrap_or(u32::MAX);
        let retention = RetentionPolicy {
            clock_step_hours: match self.clock_step_hours {
                Some(hours) if (min_step..=MAX_CLOCK_STEP_HOURS).contains(&hours) => hours,
                Some(_) => {
                    return Err(format!(
                        "retention.clock_step_hours must be between {min_step} (twice the time between runs) and {MAX_CLOCK_STEP_HOURS} (two weeks: a smaller jump of the clock is not caught and erases that much early)"
                    ));
                }
                None => retention.clock_step_hours.max(min_step),
            },
            ..retention
        };
        Ok((retention, retention_every))
    }
}
