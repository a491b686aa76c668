//! The working-day calendar (BRIEF Q8, Q9) as every front door asks for it: its years
//! for anyone, and a year added by administrators from the State Council's notice,
//! open provisional deadlines recounted (`desk::calendar`).

use desk::calendar::{AddError, ListedYear, Recount, listing, missing_warning};
use governance::identity::Caller;
use policies::access::{Action, Resource};
use policies::calendar::YearNotice;
use storage::ids::RequestId;
use storage::said::Said;

use crate::{Platform, Refusal};

/// Why a year was not added.
#[derive(Debug, thiserror::Error)]
pub enum CalendarFailure {
    /// The caller may not manage the calendar.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The notice is malformed, the year is already there, or the database failed.
    #[error(transparent)]
    Add(#[from] AddError),
}

/// The calendar's years as listed: each year, the year it lacks (this one, or from
/// 1 November the next) and what administrators are to do about it.
pub struct Years {
    /// Each year, with its notice, days off and worked weekend days.
    pub years: Vec<ListedYear>,
    /// The year it lacks, if any.
    pub missing_year: Option<i32>,
    /// What to do about it.
    pub warning: Option<Said>,
}

impl Platform {
    /// The working-day calendar's years, as of today in China.
    pub fn calendar_years(&self) -> Years {
        let calendar = self.calendars.current();
        let (years, missing_year) =
            listing(&calendar, &self.calendars, crate::store::china_today());
        Years {
            years,
            missing_year,
            warning: missing_year.map(missing_warning),
        }
    }

    /// Adds a year from its notice (administrators): checked, audited; the open
    /// provisional deadlines it decides are recounted. The year as listed, and what was
    /// recounted.
    pub async fn add_calendar_year(
        &self,
        caller: &Caller,
        notice: YearNotice,
        request_id: &RequestId,
    ) -> Result<(Option<ListedYear>, Recount), CalendarFailure> {
        self.authorize(caller, Action::ManageCalendar, &Resource::Platform)?;
        let year = notice.year;
        let (calendar, recount) = self
            .calendars
            .add(&self.store, notice, &caller.user_id, request_id)
            .await?;
        let (years, _) = listing(&calendar, &self.calendars, crate::store::china_today());
        Ok((years.into_iter().find(|y| y.year == year), recount))
    }
}
