//! The ledger of releases (BRIEF P8) as pages: an institution's own at
//! `/workspace/releases`, every institution's for administrators at `/console/releases`,
//! both newest first and paged; and leak tracing (`/console/releases/trace`): rows found
//! outside the platform, pasted or in a CSV file, traced to the sample releases they came
//! from (`Platform::trace_leak`, as `POST /api/v1/releases/trace`).

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use governance::identity::Caller;
use serde::Deserialize;
use workbench::gate::{LedgerEntry, Traced, trace};

use super::data::{Part, file_bytes, next_part};
use super::session::SignedIn;
use super::workspace::own;
use super::{Chrome, Faults, PageError, moment, render, render_with_token};
use crate::api::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspace/releases", get(own_ledger))
        .route("/console/releases", get(ledger))
        .route("/console/releases/trace", get(trace_form).post(traced))
}

/// Releases a ledger page shows.
const PAGE_ROWS: u32 = 100;

/// The largest file of leaked rows read.
const MAX_FILE_BYTES: usize = 1 << 20;

/// A release as the ledger shows it.
struct ReleaseRow {
    institution: String,
    /// The institution's name, where the reader may see it.
    name: String,
    job: String,
    kind: &'static str,
    rows: i64,
    fingerprint: String,
    at: String,
}

#[derive(Template)]
#[template(path = "workspace/releases.html")]
struct ReleasesPage {
    chrome: Chrome,
    /// Whether the reader oversees every institution (administrators).
    overseer: bool,
    rows: Vec<ReleaseRow>,
    /// The address of the older releases' page, when there are more.
    older: Option<String>,
}

/// Where a ledger page starts: after the release released at `before_at` with id
/// `before_id` (the last of the page before).
#[derive(Deserialize, Default)]
struct LedgerQuery {
    before_at: Option<String>,
    before_id: Option<String>,
    /// One institution's releases only (administrators).
    institution: Option<String>,
}

/// The names of the institutions, by id (administrators).
async fn names(state: &AppState, caller: &Caller) -> Result<HashMap<String, String>, PageError> {
    Ok(state
        .institutions(caller, "", 1_000)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|(id, name, _, _)| (id, name))
        .collect())
}

fn kind_zh(kind: &str) -> &'static str {
    match kind {
        "sample" => "抽样",
        "aggregate" => "汇总",
        _ => "评估",
    }
}

/// A page of the ledger: the caller's institution's (`overseer` false) or every one's.
async fn ledger_page(
    state: &AppState,
    caller: &Caller,
    overseer: bool,
    query: Result<Query<LedgerQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let before = query.before_at.as_deref().zip(query.before_id.as_deref());
    let institution = query
        .institution
        .filter(|i| overseer && !i.is_empty())
        .map(storage::ids::InstitutionId::from);
    let entries: Vec<LedgerEntry> = state
        .release_ledger(caller, institution.as_ref(), before, i64::from(PAGE_ROWS))
        .await
        .map_err(ApiError::from)?;
    let names = if overseer {
        names(state, caller).await?
    } else {
        HashMap::new()
    };
    let base = if overseer {
        "/console/releases"
    } else {
        "/workspace/releases"
    };
    let older = (entries.len() == PAGE_ROWS as usize)
        .then(|| entries.last())
        .flatten()
        .map(|last| {
            format!(
                "{base}?before_at={}&before_id={}{}",
                super::encode(&last.released_at),
                super::encode(&last.release_id),
                institution
                    .as_ref()
                    .map(|i| format!("&institution={}", super::encode(i.as_str())))
                    .unwrap_or_default()
            )
        });
    let rows = entries
        .into_iter()
        .map(|e| ReleaseRow {
            kind: kind_zh(&e.kind),
            at: moment(&e.released_at),
            name: names.get(&e.institution_id).cloned().unwrap_or_default(),
            institution: e.institution_id,
            job: e.job_id,
            rows: e.rows,
            fingerprint: e.fingerprint,
        })
        .collect();
    Ok(render(&ReleasesPage {
        chrome: Chrome::new(if overseer { "console" } else { "workspace" }),
        overseer,
        rows,
        older,
    }))
}

/// `GET /workspace/releases`: every release the institution took (P8), newest first,
/// each with the job it came from and its fingerprint.
async fn own_ledger(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    query: Result<Query<LedgerQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    own(&caller)?;
    ledger_page(&state, &caller, false, query).await
}

/// `GET /console/releases`: the ledger of releases across institutions (P8), newest
/// first, each with its institution, job and fingerprint.
async fn ledger(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    query: Result<Query<LedgerQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    ledger_page(&state, &caller, true, query).await
}

/// A release the traced rows were found in, as shown.
struct FoundRow {
    institution: String,
    name: String,
    job: String,
    at: String,
    fingerprint: String,
    matched: usize,
    whole: usize,
}

#[derive(Template)]
#[template(path = "console/trace.html")]
struct TracePage {
    chrome: Chrome,
    csrf: String,
    /// The rows as pasted, kept.
    pasted: String,
    /// How many rows were read (pasted and from the file), once traced.
    read: Option<usize>,
    found: Vec<FoundRow>,
    faults: Faults,
    max_rows: usize,
}

/// The tracing form, with what was pasted, what was found and what was wrong.
async fn trace_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    (pasted, read, found): (String, Option<usize>, Vec<Traced>),
    faults: Faults,
    status: StatusCode,
) -> Result<Response, PageError> {
    let names = names(state, caller).await?;
    let found = found
        .into_iter()
        .map(|t| FoundRow {
            name: names.get(&t.institution_id).cloned().unwrap_or_default(),
            institution: t.institution_id,
            job: t.job_id,
            at: moment(&t.released_at),
            fingerprint: t.fingerprint,
            matched: t.rows_matched,
            whole: t.whole_rows,
        })
        .collect();
    Ok(render_with_token(state, headers, status, |csrf| {
        TracePage {
            chrome: Chrome::new("console"),
            csrf,
            pasted,
            read,
            found,
            faults,
            max_rows: trace::MAX_ROWS,
        }
    }))
}

/// `GET /console/releases/trace`: the form that traces leaked rows (administrators).
async fn trace_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    // Only those who may trace see the form.
    state.may_trace(&caller).map_err(ApiError::from)?;
    let shown = (String::new(), None, Vec::new());
    trace_page(
        &state,
        &headers,
        &caller,
        shown,
        Faults::default(),
        StatusCode::OK,
    )
    .await
}

/// `POST /console/releases/trace`: the pasted rows and those of the file (CSV or
/// tab-separated, UTF-8 or GB 18030), traced to the sample releases that held them.
async fn traced(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    mut form: Multipart,
) -> Result<Response, PageError> {
    let mut fields = HashMap::new();
    let mut file_text = String::new();
    let mut faults = Faults::default();
    loop {
        match next_part(&headers, &mut form, &mut fields).await? {
            Part::Text => continue,
            Part::File(mut file) => {
                if file.file_name().is_some_and(|n| !n.is_empty()) {
                    match file_bytes(&mut file, MAX_FILE_BYTES)
                        .await?
                        .map(|bytes| trace::text_of(&bytes))
                    {
                        Some(Some(text)) => file_text = text,
                        Some(None) => faults.add(
                            "file",
                            "无法读取该文件：请上传 UTF-8 或 GBK 编码的 CSV（或制表符分隔的文本）。",
                        ),
                        None => faults.add(
                            "file",
                            "文件超过 1 MiB：请只保留要追溯的行，或分几次追溯。",
                        ),
                    }
                }
                break;
            }
            Part::End => break,
        }
    }
    let pasted = fields.remove("rows").unwrap_or_default();
    let mut rows = storage::csv::records(&pasted);
    rows.extend(storage::csv::records(&file_text));
    if faults.is_empty() && rows.is_empty() {
        faults.add("rows", "请粘贴泄露的数据行，或选择包含这些行的文件。");
    }
    if faults.is_empty() && rows.len() > trace::MAX_ROWS {
        faults.add(
            "rows",
            &format!(
                "一次最多追溯 {} 行，这里有 {} 行：请分几次追溯。",
                trace::MAX_ROWS,
                rows.len()
            ),
        );
    }
    if !faults.is_empty() {
        let shown = (pasted, None, Vec::new());
        return trace_page(
            &state,
            &headers,
            &caller,
            shown,
            faults,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match state.trace_leak(&caller, &rows, &[]).await {
        Ok(found) => {
            let shown = (pasted, Some(rows.len()), found);
            trace_page(&state, &headers, &caller, shown, faults, StatusCode::OK).await
        }
        Err(e) => {
            let error = ApiError::from(e);
            if error.status().is_server_error() || error.status() == StatusCode::FORBIDDEN {
                return Err(error.into());
            }
            let faults = Faults::of(&error, &["rows"]).general_on("rows");
            let status = error.status();
            trace_page(
                &state,
                &headers,
                &caller,
                (pasted, None, Vec::new()),
                faults,
                status,
            )
            .await
        }
    }
}
