//! The working-day calendar for administrators (BRIEF Q8, Q9): each year with the
//! notice it comes from, the year it lacks, and a year added from the State Council's
//! notice (`Platform::add_calendar_year`, as `POST /api/v1/calendar/years`), the
//! provisional deadlines it decides recounted and listed.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use desk::calendar::Recount;
use governance::identity::Caller;
use platform::calendar::CalendarFailure;
use policies::calendar::YearNotice;
use serde::Deserialize;

use super::csrf::Checked;
use super::session::{SignedIn, see_other};
use super::{Chrome, Faults, PageError, render_with_token};
use crate::api::{ApiError, AppState, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/console/calendar", get(calendar).post(add))
}

/// What adding a year did: (year, objections recounted, tickets recounted).
type Added = (i32, usize, usize);

/// A year as listed.
struct YearLine {
    year: i32,
    source: String,
    holidays: usize,
    working_weekends: usize,
    added: bool,
}

#[derive(Template)]
#[template(path = "console/calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    csrf: String,
    years: Vec<YearLine>,
    missing_year: Option<i32>,
    warning: Option<String>,
    /// The form as typed.
    typed: HashMap<String, String>,
    faults: Faults,
    done: Option<Added>,
}

impl CalendarPage {
    fn typed(&self, field: &str) -> &str {
        self.typed.get(field).map_or("", String::as_str)
    }
}

async fn calendar_page(
    state: &AppState,
    headers: &HeaderMap,
    (typed, faults, done): (HashMap<String, String>, Faults, Option<Added>),
    status: StatusCode,
) -> Result<Response, PageError> {
    let listed = state.calendar_years();
    let years = listed
        .years
        .into_iter()
        .rev()
        .map(|y| YearLine {
            year: y.year,
            source: y.source,
            holidays: y.holidays.len(),
            working_weekends: y.working_weekends.len(),
            added: y.origin == "added",
        })
        .collect();
    Ok(render_with_token(state, headers, status, |csrf| {
        CalendarPage {
            chrome: Chrome::new("console"),
            csrf,
            years,
            missing_year: listed.missing_year,
            warning: listed.warning.map(|w| w.zh),
            typed,
            faults,
            done,
        }
    }))
}

#[derive(Deserialize, Default)]
struct AddedQuery {
    added: Option<i32>,
    objections: Option<usize>,
    tickets: Option<usize>,
}

/// Only administrators manage the calendar: the same rule as adding a year.
fn may_manage(state: &AppState, caller: &Caller) -> Result<(), PageError> {
    state
        .authorize(
            caller,
            policies::access::Action::ManageCalendar,
            &policies::access::Resource::Platform,
        )
        .map_err(|r| ApiError::from(r).into())
}

/// `GET /console/calendar`: the years, the year missing, and the form that adds one.
async fn calendar(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    query: Result<Query<AddedQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    may_manage(&state, &caller)?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let done = query.added.map(|year| {
        (
            year,
            query.objections.unwrap_or_default(),
            query.tickets.unwrap_or_default(),
        )
    });
    let mut typed = HashMap::new();
    if let Some(year) = state.calendar_years().missing_year {
        typed.insert("year".to_owned(), year.to_string());
    }
    calendar_page(
        &state,
        &headers,
        (typed, Faults::default(), done),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct YearForm {
    csrf: String,
    year: String,
    source: String,
    holidays: String,
    working_weekends: String,
}

impl super::csrf::Posted for YearForm {
    fn csrf(&self) -> Option<&str> {
        Some(&self.csrf)
    }
}

/// Days or ranges as typed: one a line, or separated by commas or spaces (Chinese
/// commas too); `2027-02-10..2027-02-16` and `2027-02-10 至 2027-02-16` alike.
fn days(typed: &str) -> Vec<String> {
    typed
        .replace(['至', '~', '～'], "..")
        .replace(" .. ", "..")
        .split(|c: char| c == ',' || c == '，' || c == '、' || c.is_whitespace())
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST /console/calendar`: adds the year from its notice; a refusal beside its field,
/// what was typed kept.
async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<YearForm>,
) -> Result<Response, PageError> {
    let typed: HashMap<String, String> = [
        ("year", &form.year),
        ("source", &form.source),
        ("holidays", &form.holidays),
        ("working_weekends", &form.working_weekends),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.clone()))
    .collect();
    let Ok(year) = form.year.trim().parse::<i32>() else {
        may_manage(&state, &caller)?;
        let faults = Faults::field("year", "请填写年份（四位数字）。");
        let shown = (typed, faults, None);
        return calendar_page(&state, &headers, shown, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let notice = YearNotice {
        year,
        source: form.source.trim().to_owned(),
        holidays: days(&form.holidays),
        working_weekends: days(&form.working_weekends),
    };
    match state
        .add_calendar_year(&caller, notice, &request_id())
        .await
    {
        Ok((
            _,
            Recount {
                objections,
                tickets,
            },
        )) => Ok(see_other(&format!(
            "/console/calendar?added={year}&objections={}&tickets={}",
            objections.len(),
            tickets.len()
        ))),
        Err(CalendarFailure::Refused(r)) => Err(ApiError::from(r).into()),
        Err(e) => {
            let error = ApiError::from(e);
            if error.status().is_server_error() {
                return Err(error.into());
            }
            let faults = Faults::of(&error, &["year", "source", "holidays", "working_weekends"])
                .general_on("year");
            let status = error.status();
            calendar_page(&state, &headers, (typed, faults, None), status).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_ranges_are_read_as_an_administrator_types_them() {
        assert_eq!(
            days("2027-01-01\n2027-02-10 至 2027-02-16，2027-04-05, 2027-05-01..2027-05-05"),
            [
                "2027-01-01",
                "2027-02-10..2027-02-16",
                "2027-04-05",
                "2027-05-01..2027-05-05"
            ]
        );
        assert!(days(" \n ").is_empty());
    }
}
