//! The working-day calendar (BRIEF Q8, Q9): its years for anyone to read, and a year
//! added by administrators from the State Council's notice without a rebuild.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiError, ApiJson, AppState, request_id};
use desk::calendar::{AddError, listing, missing_warning};
use governance::identity::Caller;
use platform::store::china_today;
use policies::access::{Action, Resource};
use policies::calendar::{CalendarError, YearNotice};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/calendar/years", get(list).post(add))
}

impl From<AddError> for ApiError {
    fn from(e: AddError) -> Self {
        match e {
            AddError::Invalid(CalendarError::AlreadyListed(_)) => {
                ApiError::new(StatusCode::CONFLICT, "calendar_year_exists", e.to_string())
            }
            AddError::Invalid(CalendarError::Invalid { field, message }) => {
                ApiError::invalid(field, message)
            }
            AddError::Invalid(CalendarError::NoData(_)) | AddError::Store(_) => {
                ApiError::internal(e)
            }
        }
    }
}

/// What the quality view says of the calendar.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CalendarStatus {
    /// The years loaded.
    pub(crate) years: Vec<i32>,
    /// Next year, from 1 November, while its calendar is not loaded; else null.
    pub(crate) missing_year: Option<i32>,
    /// What administrators are to do about the missing year.
    pub(crate) warning: Option<String>,
}

/// What the quality view says of the calendar.
pub(super) fn status(state: &AppState) -> CalendarStatus {
    let calendar = state.calendars.current();
    let missing_year = calendar.missing_year(china_today());
    CalendarStatus {
        years: calendar.years().map(|(y, _)| y).collect(),
        missing_year,
        warning: missing_year.map(missing_warning),
    }
}

/// The years of the calendar, with their sources, days off and worked weekend days;
/// no login (the arrangement is public).
async fn list(State(state): State<AppState>) -> Json<CalendarYears> {
    let calendar = state.calendars.current();
    let (items, missing_year) = listing(&calendar, &state.calendars, china_today());
    Json(CalendarYears {
        items,
        missing_year,
        warning: missing_year.map(missing_warning),
    })
}

/// The calendar's years and the year it lacks.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct CalendarYears {
    /// Each year, with its source, days off and worked weekend days.
    items: Vec<desk::calendar::ListedYear>,
    /// The year it lacks (this one, or from 1 November the next), if any.
    missing_year: Option<i32>,
    /// What administrators should do about it.
    warning: Option<String>,
}

/// A year added to the calendar.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct YearAdded {
    /// The year, as listed.
    year: Option<desk::calendar::ListedYear>,
    /// The deadlines counted again with it.
    recounted: desk::calendar::Recount,
    /// What was done, for people.
    message: String,
}

/// Adds a year from its notice (administrators); open deadlines that ran into it are
/// recounted and listed.
async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(notice): ApiJson<YearNotice>,
) -> Result<Response, ApiError> {
    state.authorize(&caller, Action::ManageCalendar, &Resource::Platform)?;
    let year = notice.year;
    let (calendar, recount) = state
        .calendars
        .add(&state.store, notice, &caller.user_id, &request_id())
        .await?;
    let (years, _) = listing(&calendar, &state.calendars, china_today());
    let added = years.into_iter().find(|y| y.year == year);
    let message = format!(
        "{year} added to the working-day calendar; {} objection and {} ticket deadlines recounted",
        recount.objections.len(),
        recount.tickets.len()
    );
    Ok((
        StatusCode::CREATED,
        Json(YearAdded {
            year: added,
            recounted: recount,
            message,
        }),
    )
        .into_response())
}
