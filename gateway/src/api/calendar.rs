//! The working-day calendar (BRIEF Q8, Q9): its years for anyone to read, and a year
//! added by administrators from the State Council's notice without a rebuild.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiError, ApiJson, AppState, request_id};
use desk::calendar::AddError;
use governance::identity::Caller;
use platform::calendar::CalendarFailure;
use policies::calendar::{CalendarError, YearNotice};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/calendar/years", get(list).post(add))
}

impl From<AddError> for ApiError {
    fn from(e: AddError) -> Self {
        match e {
            AddError::Invalid(CalendarError::AlreadyListed(_)) => {
                let zh = match &e {
                    AddError::Invalid(c) => c.zh(),
                    AddError::Store(_) => String::new(),
                };
                ApiError::new(StatusCode::CONFLICT, "calendar_year_exists", e.to_string())
                    .with_zh(zh)
            }
            AddError::Invalid(CalendarError::Invalid { field, message, zh }) => {
                ApiError::invalid(field, message).with_zh(zh)
            }
            AddError::Invalid(CalendarError::NoData(_)) | AddError::Store(_) => {
                ApiError::internal(e)
            }
        }
    }
}

impl From<CalendarFailure> for ApiError {
    fn from(e: CalendarFailure) -> Self {
        match e {
            CalendarFailure::Refused(r) => r.into(),
            CalendarFailure::Add(a) => a.into(),
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
    let listed = state.calendar_years();
    CalendarStatus {
        years: listed.years.iter().map(|y| y.year).collect(),
        missing_year: listed.missing_year,
        warning: listed.warning.map(|w| w.en),
    }
}

/// The years of the calendar, with their sources, days off and worked weekend days;
/// no login (the arrangement is public).
async fn list(State(state): State<AppState>) -> Json<CalendarYears> {
    let listed = state.calendar_years();
    Json(CalendarYears {
        items: listed.years,
        missing_year: listed.missing_year,
        warning: listed.warning.map(|w| w.en),
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
    let year = notice.year;
    let (added, recount) = state
        .add_calendar_year(&caller, notice, &request_id())
        .await?;
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
