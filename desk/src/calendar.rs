//! The working-day calendar as operational data (BRIEF Q8, Q9). The years shipped with
//! the platform (`policies/data/working-days.toml`) are the base; administrators add a
//! year from the State Council's notice (`creditpool calendar add`, or
//! `POST /api/v1/calendar/years`), checked, audited and kept in the database, without a
//! rebuild. A deadline that runs into a year without data is provisional (counted on
//! Monday-to-Friday days) and recounted, audited, when the year is added.
//!
//! Filings read the calendar after they hold the write transaction and an addition swaps
//! it in before it commits, so no filing counts on a calendar older than the last
//! committed year. A year added by another process (the command line) is picked up by
//! [`Calendars::refresh`], which the server runs at start and every minute.

use std::sync::{Arc, RwLock};
use storage::ids::{RequestId, UserId};

use chrono::NaiveDate;
use policies::calendar::{Calendar, CalendarError, YearNotice};
use serde::Serialize;

use storage::audit::{self, Event};
use storage::said::Said;
use storage::store::{Store, StoreError, Tx, china_day, now};

use crate::db::calendar::{CalendarYears as _, Case};

/// Why a year was not added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The notice is malformed or the year is already there.
    #[error(transparent)]
    Invalid(#[from] CalendarError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A case whose deadline was recounted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Recounted {
    /// The objection's or ticket's number.
    pub number: String,
    /// The deadline before.
    pub was: String,
    /// The deadline now.
    pub due_on: NaiveDate,
    /// Still provisional (it runs into yet another year without data).
    pub provisional: bool,
}

/// What recounting changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Recount {
    /// Objections.
    pub objections: Vec<Recounted>,
    /// Consultations and complaints.
    pub tickets: Vec<Recounted>,
}

/// The calendar in force: the shipped years and those added since.
#[derive(Debug)]
pub struct Calendars {
    base: Calendar,
    current: RwLock<Arc<Calendar>>,
}

impl Calendars {
    /// The base years and every year added in `store`. Reads only: the server's
    /// [`Calendars::refresh`] recounts what they decide.
    pub async fn load(store: &Store, base: Calendar) -> Result<Calendars, StoreError> {
        let calendars = Calendars {
            current: RwLock::new(Arc::new(base.clone())),
            base,
        };
        calendars.set(calendars.with_stored(store.calendar_notices().await?.into_iter()));
        Ok(calendars)
    }

    /// The calendar in force now.
    pub fn current(&self) -> Arc<Calendar> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set(&self, calendar: Calendar) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(calendar);
    }

    /// Reads the added years again (another process may have added one) and recounts
    /// the provisional deadlines that the calendar now decides (a ticket extended while
    /// a year was being added is caught here).
    pub async fn refresh(&self, store: &Store) -> Result<Recount, StoreError> {
        // Read under the write lock: an addition committing meanwhile is either in it or
        // waits, so the calendar never goes back to fewer years.
        let mut tx = store.write().await?;
        let calendar = self.stored(store, &mut tx).await?;
        if *self.current() != calendar {
            self.set(calendar.clone());
        }
        let recount = recount(
            store,
            &mut tx,
            &calendar,
            None,
            &UserId::from("calendar"),
            &RequestId::from(""),
        )
        .await?;
        tx.commit().await?;
        Ok(recount)
    }

    /// The base with every stored year. A stored year that a later release ships is
    /// taken from the release.
    async fn stored(&self, store: &Store, tx: &mut Tx) -> Result<Calendar, StoreError> {
        Ok(self.with_stored(store.calendar_notices_in(tx).await?.into_iter()))
    }

    /// The base with these stored notices; one that does not parse is logged and left.
    fn with_stored(&self, notices: impl Iterator<Item = String>) -> Calendar {
        let mut calendar = self.base.clone();
        for text in notices {
            let added = serde_json::from_str::<YearNotice>(&text)
                .map_err(|e| CalendarError::Invalid {
                    field: "notice",
                    message: e.to_string(),
                    zh: e.to_string(),
                })
                .and_then(|notice| calendar.with_year(notice));
            match added {
                Ok(next) => calendar = next,
                Err(CalendarError::AlreadyListed(_)) => {}
                Err(e) => tracing::error!("a stored calendar year is ignored: {e}"),
            }
        }
        calendar
    }

    /// Adds a year from its notice: checked, stored and audited with the deadlines it
    /// recounts, in one transaction.
    pub async fn add(
        &self,
        store: &Store,
        notice: YearNotice,
        actor: &UserId,
        request_id: &RequestId,
    ) -> Result<(Calendar, Recount), AddError> {
        let mut tx = store.write().await?;
        // From the stored years, not the ones in memory: another process may have added
        // one since the last refresh.
        let calendar = self
            .stored(store, &mut tx)
            .await?
            .with_year(notice.clone())?;
        store
            .insert_calendar_year(
                &mut tx,
                notice.year,
                &serde_json::to_string(&notice).expect("a notice serialises"),
                actor,
                &now(),
            )
            .await?;
        audit::append(
            &mut tx,
            Event {
                actor,
                action: "calendar.year_added",
                subject: &notice.year.to_string(),
                detail: serde_json::json!({
                    "year": notice.year,
                    "source": notice.source,
                    "holidays": notice.holidays,
                    "working_weekends": notice.working_weekends,
                }),
                request_id,
            },
        )
        .await?;
        let recount = recount(
            store,
            &mut tx,
            &calendar,
            Some(notice.year),
            actor,
            request_id,
        )
        .await?;
        // Swapped in while the writing connection is held: a filing waiting for it
        // counts on the new year.
        let before = self.current();
        self.set(calendar.clone());
        if let Err(e) = tx.commit().await {
            self.set((*before).clone());
            return Err(AddError::Store(e));
        }
        Ok((calendar, recount))
    }
}

/// Recounts every open provisional deadline on `calendar` inside `tx`, auditing what
/// changed.
async fn recount(
    store: &Store,
    tx: &mut Tx,
    calendar: &Calendar,
    year: Option<i32>,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Recount, StoreError> {
    let mut recount = Recount::default();
    // An objection has DEADLINE_WORKING_DAYS, a ticket its allowed days.
    let cases: [(Case, &mut Vec<Recounted>); 2] = [
        (Case::Objection, &mut recount.objections),
        (Case::Ticket, &mut recount.tickets),
    ];
    for (case, into) in cases {
        for open in store.provisional_cases(tx, case).await? {
            let days = open
                .allowed_days
                .map_or(crate::objections::DEADLINE_WORKING_DAYS, |d| {
                    u32::try_from(d).unwrap_or(0)
                });
            let Some(filed) = china_day(&open.filed_at) else {
                continue;
            };
            let deadline = calendar.deadline(filed, days);
            if deadline.day.to_string() == open.due_on && deadline.provisional {
                continue;
            }
            store
                .set_deadline(
                    tx,
                    case,
                    &open.id,
                    &deadline.day.to_string(),
                    deadline.provisional,
                )
                .await?;
            into.push(Recounted {
                number: open.number,
                was: open.due_on,
                due_on: deadline.day,
                provisional: deadline.provisional,
            });
        }
    }
    if !recount.objections.is_empty() || !recount.tickets.is_empty() {
        audit::append(
            tx,
            Event {
                actor,
                action: "calendar.deadlines_recounted",
                subject: &year.map_or_else(|| "calendar".to_owned(), |y| y.to_string()),
                detail: serde_json::to_value(&recount).expect("a recount serialises"),
                request_id,
            },
        )
        .await?;
    }
    Ok(recount)
}

/// A year as listed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ListedYear {
    /// The year.
    pub year: i32,
    /// The notice it comes from.
    pub source: String,
    /// Its days off.
    pub holidays: Vec<NaiveDate>,
    /// Its worked weekend days.
    pub working_weekends: Vec<NaiveDate>,
    /// `shipped` with the platform or `added` by an administrator.
    pub origin: &'static str,
}

/// The calendar's years, and the year it lacks as of `today` (this one, or from
/// 1 November the next).
pub fn listing(
    calendar: &Calendar,
    base: &Calendars,
    today: NaiveDate,
) -> (Vec<ListedYear>, Option<i32>) {
    let years = calendar
        .years()
        .map(|(year, data)| ListedYear {
            year,
            source: data.source.clone(),
            holidays: data.holidays().collect(),
            working_weekends: data.working_weekends().collect(),
            origin: if base.base.has_year(year) {
                "shipped"
            } else {
                "added"
            },
        })
        .collect();
    (years, calendar.missing_year(today))
}

/// The warning administrators see while a year is missing.
pub fn missing_warning(year: i32) -> Said {
    Said::new(
        format!(
            "the working-day calendar has no data for {year}: deadlines that run into {year} are provisional (counted Monday to Friday) until the year is added from the State Council's notice with `creditpool calendar add` or POST /api/v1/calendar/years"
        ),
        format!(
            "工作日历还没有 {year} 年的数据：延伸到 {year} 年的期限暂按周一至周五计算（暂定）。请依国务院办公厅的放假安排通知，在“工作日历”页添加 {year} 年，期限将自动重算。"
        ),
    )
}
