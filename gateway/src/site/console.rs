//! The console's pages for administrators (issue 19), on the pages' stack: the audit
//! log — filtered, paged, exported — with the chain's verification shown on the page.
//! Every rule is the platform's (`Platform::audit_entries`, `audit_verdict`), as through
//! the API.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use storage::audit::{Entry, Filter, Verdict};

use super::session::SignedIn;
use super::{Chrome, Faults, PageError, encode, render};
use crate::api::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/audit", get(audit))
        .route("/console/audit.csv", get(audit_csv))
}

/// Entries on a page of the log.
const PAGE: u32 = 50;
/// Entries in an export at most.
const EXPORT: u32 = platform::audit::MAX_PAGE;

/// The log's filters, as typed.
#[derive(Default, Deserialize)]
struct AuditForm {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    about: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    /// The page after the one ending at this sequence number.
    before: Option<i64>,
}

impl AuditForm {
    /// The filter these ask for; a moment that cannot be read is named.
    fn filter(&self) -> Result<(Option<String>, Option<String>), ApiError> {
        let moment = |field: &str, text: &str| {
            (!text.trim().is_empty())
                .then(|| platform::audit::moment(field, text))
                .transpose()
        };
        Ok((moment("since", &self.since)?, moment("until", &self.until)?))
    }

    /// The query string of these filters (without the page), for links.
    fn query(&self) -> String {
        format!(
            "actor={}&action={}&about={}&since={}&until={}",
            encode(self.actor.trim()),
            encode(self.action.trim()),
            encode(self.about.trim()),
            encode(self.since.trim()),
            encode(self.until.trim())
        )
    }
}

/// An entry as the page shows it.
struct EntryView {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    detail: String,
    request_id: String,
}

impl From<Entry> for EntryView {
    fn from(e: Entry) -> Self {
        EntryView {
            at: super::moment(&e.at),
            seq: e.seq,
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            detail: e.detail.to_string(),
            request_id: e.request_id,
        }
    }
}

/// What the chain's verification found, as the page says it.
struct Chain {
    intact: bool,
    entries: i64,
    head: String,
    /// Where it breaks (0: the head).
    broken_at: i64,
    reason: String,
}

impl From<Verdict> for Chain {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Intact { entries, head } => Chain {
                intact: true,
                entries,
                head,
                broken_at: 0,
                reason: String::new(),
            },
            Verdict::Broken { seq, reason } => Chain {
                intact: false,
                entries: 0,
                head: String::new(),
                broken_at: seq,
                reason,
            },
        }
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    chrome: Chrome,
    form: AuditForm,
    faults: Faults,
    chain: Chain,
    entries: Vec<EntryView>,
    /// The link to the next (older) page, when there is one.
    older: Option<String>,
    export: String,
}

/// Reads the entries `form` asks for (`limit` at most).
async fn read(
    state: &AppState,
    caller: &governance::identity::Caller,
    form: &AuditForm,
    limit: u32,
) -> Result<Vec<Entry>, ApiError> {
    let (since, until) = form.filter()?;
    let given = |v: &str| Some(v.trim()).filter(|v| !v.is_empty()).map(str::to_owned);
    let (actor, action, about) = (given(&form.actor), given(&form.action), given(&form.about));
    Ok(state
        .audit_entries(
            caller,
            &Filter {
                actor: actor.as_deref(),
                action: action.as_deref(),
                about: about.as_deref(),
                since: since.as_deref(),
                until: until.as_deref(),
                before: form.before,
            },
            limit,
        )
        .await?)
}

/// `GET /console/audit`: the log, newest first, filtered by actor, action (or a prefix
/// ending in `.`), what an entry is about and time; whether the chain verifies.
async fn audit(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    query: Result<Query<AuditForm>, QueryRejection>,
) -> Result<Response, PageError> {
    let form = query.map(|Query(q)| q).unwrap_or_default();
    // Administrators only: anyone else is refused before anything is read.
    let verdict = state.audit_verdict(&caller).await?;
    let (entries, faults, status) = match read(&state, &caller, &form, PAGE).await {
        Ok(entries) => (entries, Faults::default(), StatusCode::OK),
        Err(error) if error.status() == StatusCode::UNPROCESSABLE_ENTITY => (
            Vec::new(),
            Faults::of(&error, &["since", "until"]),
            error.status(),
        ),
        Err(error) => return Err(error.into()),
    };
    let older = entries
        .last()
        .filter(|_| entries.len() == PAGE as usize)
        .map(|last| format!("/console/audit?{}&before={}", form.query(), last.seq));
    let export = format!("/console/audit.csv?{}", form.query());
    let mut response = render(&AuditPage {
        chrome: Chrome::new("console"),
        form,
        faults,
        chain: verdict.into(),
        entries: entries.into_iter().map(EntryView::from).collect(),
        older,
        export,
    });
    if response.status().is_success() {
        *response.status_mut() = status;
    }
    Ok(response)
}

/// `GET /console/audit.csv`: the entries the filters select (the newest 500), as CSV
/// for a spreadsheet. A cell a spreadsheet would take for a formula is quoted as text.
async fn audit_csv(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    query: Result<Query<AuditForm>, QueryRejection>,
) -> Result<Response, PageError> {
    let form = query.map(|Query(q)| q).unwrap_or_default();
    let entries = read(&state, &caller, &form, EXPORT).await?;
    let mut csv = String::from("\u{feff}seq,at,actor,action,subject,request_id,detail\r\n");
    for e in entries {
        let row = [
            e.seq.to_string(),
            e.at,
            e.actor,
            e.action,
            e.subject,
            e.request_id,
            e.detail.to_string(),
        ];
        let cells: Vec<String> = row.iter().map(|c| storage::csv::cell(c)).collect();
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
    let mut response = (StatusCode::OK, csv).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit-log.csv\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
