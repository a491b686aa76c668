//! An institution's progress reports as a page (issue 19, BRIEF P7): the reporting
//! schedule, period by period with where its report stands (due, overdue, submitted,
//! late), the form for a period that awaits its report, and the reports submitted.
//! Every rule is the platform's (`Platform::progress_reports`,
//! `submit_progress_report`), as through the API.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use governance::identity::Caller;
use governance::progress::ReportContent;
use serde::Deserialize;

use super::csrf::{Checked, Posted};
use super::session::{SignedIn, see_other};
use super::workspace::{own, period_zh};
use super::{Chrome, Faults, PageError, date_zh, render_with_token};
use crate::api::{ApiError, AppState, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/workspace/reports", get(reports).post(submit))
}

/// A period of the schedule as shown.
pub(super) struct PeriodRow {
    pub(super) start: String,
    pub(super) label: String,
    pub(super) due_on: String,
    pub(super) status: &'static str,
    pub(super) late: bool,
    /// Whether a report may be submitted for it.
    pub(super) open: bool,
}

/// A report submitted.
pub(super) struct ReportRow {
    pub(super) period: String,
    pub(super) progress: String,
    pub(super) security_risks: String,
    pub(super) quality_problems: String,
    pub(super) at: String,
}

/// The form as typed.
#[derive(Default)]
struct Typed {
    period_start: String,
    progress: String,
    security_risks: String,
    quality_problems: String,
}

#[derive(Template)]
#[template(path = "workspace/reports.html")]
struct ReportsPage {
    chrome: Chrome,
    csrf: String,
    periods: Vec<PeriodRow>,
    reports: Vec<ReportRow>,
    typed: Typed,
    faults: Faults,
    saved: bool,
}

/// The reporting schedule, newest period first, and the reports submitted, as shown
/// (to the institution and to administrators alike).
pub(super) fn shown(
    schedule: Vec<governance::progress::Period>,
    submitted: Vec<governance::progress::ProgressReport>,
) -> (Vec<PeriodRow>, Vec<ReportRow>) {
    let periods = schedule
        .iter()
        .rev()
        .map(|p| PeriodRow {
            start: p.start.to_string(),
            label: format!("{} 至 {}", date_zh(p.start), date_zh(p.end)),
            due_on: date_zh(p.due_on),
            status: period_zh(&p.status),
            late: matches!(p.status.as_str(), "overdue" | "submitted_late"),
            open: matches!(p.status.as_str(), "due" | "overdue" | "in_progress")
                && p.report_id.is_none(),
        })
        .collect();
    let reports = submitted
        .into_iter()
        .map(|r| ReportRow {
            period: format!("{} 至 {}", date_zh(r.period_start), date_zh(r.period_end)),
            at: super::moment(&r.submitted_at),
            progress: r.progress,
            security_risks: r.security_risks,
            quality_problems: r.quality_problems,
        })
        .collect();
    (periods, reports)
}

async fn page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    (typed, faults, saved): (Typed, Faults, bool),
    status: StatusCode,
) -> Result<Response, PageError> {
    let id = own(caller)?;
    let (schedule, submitted) = state
        .progress_reports(caller, &id)
        .await
        .map_err(ApiError::from)?;
    let (periods, reports) = shown(schedule, submitted);
    Ok(render_with_token(state, headers, status, |csrf| {
        ReportsPage {
            chrome: Chrome::new("workspace"),
            csrf,
            periods,
            reports,
            typed,
            faults,
            saved,
        }
    }))
}

impl ReportsPage {
    /// Whether a period awaits its report.
    fn any_open(&self) -> bool {
        self.periods.iter().any(|p| p.open)
    }

    /// What was typed in `field`.
    fn typed(&self, field: &str) -> &str {
        match field {
            "progress" => &self.typed.progress,
            "security_risks" => &self.typed.security_risks,
            _ => &self.typed.quality_problems,
        }
    }
}

#[derive(Deserialize, Default)]
struct SavedQuery {
    saved: Option<String>,
}

/// `GET /workspace/reports`: the schedule, the form, the reports submitted.
async fn reports(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    query: Result<axum::extract::Query<SavedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let saved = query.is_ok_and(|q| q.saved.is_some());
    let shown = (Typed::default(), Faults::default(), saved);
    page(&state, &headers, &caller, shown, StatusCode::OK).await
}

#[derive(Deserialize)]
struct ReportForm {
    csrf: Option<String>,
    #[serde(default)]
    period_start: String,
    #[serde(default)]
    progress: String,
    #[serde(default)]
    security_risks: String,
    #[serde(default)]
    quality_problems: String,
}

impl Posted for ReportForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /workspace/reports`: the report for a period; a field at fault is named.
async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<ReportForm>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    let outcome = match chrono::NaiveDate::parse_from_str(form.period_start.trim(), "%Y-%m-%d") {
        Ok(period_start) => {
            let content = ReportContent {
                period_start,
                progress: form.progress.clone(),
                security_risks: form.security_risks.clone(),
                quality_problems: form.quality_problems.clone(),
            };
            state
                .submit_progress_report(&caller, &id, &content, &request_id())
                .await
                .map(|_| ())
                .map_err(ApiError::from)
        }
        Err(_) => Err(
            ApiError::invalid("period_start", "choose the period reported on")
                .with_zh("请选择报告期。"),
        ),
    };
    match outcome {
        Ok(()) => Ok(see_other("/workspace/reports?saved=1")),
        Err(error) => {
            if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
                return Err(error.into());
            }
            let status = error.status();
            let faults = Faults::of(
                &error,
                &[
                    "period_start",
                    "progress",
                    "security_risks",
                    "quality_problems",
                ],
            );
            let typed = Typed {
                period_start: form.period_start,
                progress: form.progress,
                security_risks: form.security_risks,
                quality_problems: form.quality_problems,
            };
            page(&state, &headers, &caller, (typed, faults, false), status).await
        }
    }
}
