//! `admin retention`: running the job, and the clock it trusts
//! (`crate::retention::guard`): a run that finds the clock too far ahead
//! erases nothing and fails, saying how to confirm the clock.

use super::failed;
use crate::admin::Admin;
use crate::cli::args::RetentionCommand;
use crate::cli::render::{self, print};

/// `admin retention`: a run that finds the clock too far ahead erases
/// nothing and fails, saying how to confirm the clock.
pub(super) fn run(
    admin: &Admin,
    policy: &crate::retention::RetentionPolicy,
    json: bool,
    command: RetentionCommand,
) -> Result<(), String> {
    match command {
        RetentionCommand::Run {
            dry_run,
            confirm_clock,
        } => {
            let report = if confirm_clock {
                admin.run_retention_confirmed(policy, dry_run)
            } else {
                admin.run_retention(policy, dry_run)
            }
            .map_err(failed)?;
            print(json, &report, || render::retention(&report, dry_run))?;
            if report.clock.is_ahead() {
                return Err(render::CLOCK_HELD.to_string());
            }
        }
        RetentionCommand::Clock => {
            let status = admin.retention_clock(policy).map_err(failed)?;
            print(json, &status, || render::retention_clock(&status))?;
        }
        RetentionCommand::ConfirmClock => {
            let was = admin.confirm_clock(policy).map_err(failed)?;
            let status = admin.retention_clock(policy).map_err(failed)?;
            print(json, &status, || {
                format!(
                    "clock confirmed (it was {}); retention erases by it from the next run\n{}",
                    was.in_words(),
                    render::retention_clock(&status)
                )
            })?;
        }
    }
    Ok(())
}
