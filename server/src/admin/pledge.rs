//! The Pledge's admin operations: the published figures (`admin
//! figures`), a station's overdue promises (`admin promises overdue`) and
//! promise entries made at the station (`admin records entry`). Kept apart
//! from the people, devices, records and audit operations of `admin.rs`.

use pocketbook_core::model::{PromiseEntryKind, Timestamp};

use super::{Admin, AdminError};
use crate::audit::actor;
use crate::figures::view::{self, Format, Rendered};
use crate::figures::{FiguresError, Month};
use crate::retention::RetentionPolicy;
use crate::station_entries::{self, EntryError};

impl From<EntryError> for AdminError {
    fn from(e: EntryError) -> Self {
        match e {
            EntryError::Refused(message) => AdminError::Invalid(message),
            EntryError::NotFound(message) => AdminError::NotFound(message),
            EntryError::Storage(e) => AdminError::Storage(e),
        }
    }
}

impl Admin {
    /// A promise entry made at the station, not on a handset (`admin
    /// records entry`): a victim update by station staff, a review by a
    /// supervisor at a desk. Checked, committed and audited as one pushed
    /// from a handset (`station_entries`); `made_at` is now if not given.
    pub fn add_promise_entry(
        &self,
        retention: RetentionPolicy,
        by: &str,
        record_id: &str,
        kind: PromiseEntryKind,
        made_at: Option<Timestamp>,
    ) -> Result<String, AdminError> {
        let now = self.clock.now();
        let made_at = match made_at {
            Some(at) => at,
            None => Timestamp::from_instant(now)
                .map_err(|e| AdminError::Invalid(format!("the server's clock: {e}")))?,
        };
        Ok(station_entries::add_entry(
            self.storage.as_ref(),
            now,
            retention,
            by,
            record_id,
            kind,
            made_at,
        )?)
    }

    /// The published figures of `month` (frozen now if this is their
    /// first publication), for one station or every station: the same
    /// figures `GET /figures` shows.
    pub fn figures(
        &self,
        month: &str,
        station: Option<&str>,
        format: Format,
    ) -> Result<Rendered, AdminError> {
        let (month, station) = figures_query(month, station)?;
        Ok(view::figures(
            self.storage.as_ref(),
            month,
            station.as_deref(),
            format,
            self.clock.now(),
            actor::ADMIN,
        )?)
    }

    /// The month's searches in police.uk's CSV or JSON, as `GET
    /// /figures/searches` gives them.
    pub fn figure_searches(
        &self,
        month: &str,
        station: Option<&str>,
        format: Format,
    ) -> Result<Rendered, AdminError> {
        let (month, station) = figures_query(month, station)?;
        Ok(view::searches(
            self.storage.as_ref(),
            month,
            station.as_deref(),
            format,
            self.clock.now(),
            actor::ADMIN,
        )?)
    }

    /// A station's overdue promises, from the synced records (audited as
    /// `promises-listed`).
    pub fn overdue_promises(
        &self,
        station: &str,
    ) -> Result<Vec<crate::pledge::OverduePromise>, AdminError> {
        let station = crate::figures::check_station(station)?;
        Ok(crate::pledge::overdue(
            self.storage.as_ref(),
            &station,
            self.clock.now(),
            actor::ADMIN,
        )?)
    }
}

fn figures_query(
    month: &str,
    station: Option<&str>,
) -> Result<(Month, Option<String>), FiguresError> {
    Ok((
        Month::parse(month)?,
        station.map(crate::figures::check_station).transpose()?,
    ))
}
