//! Source units on the public site (BRIEF Q8, standard 6.4.4, issue 18): the unit's
//! objection queue — only objections the service provider accepted and sent to it,
//! the overdue marked — one objection with its record, and the resolution with the
//! reason the applicant reads. The queue is the platform's `objection_ledger`, the
//! resolution its `resolve_objection`, as through the API.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use desk::objections::{Objection, Outcome};
use governance::identity::Caller;
use policies::access::Action;
use serde::Deserialize;
use storage::states::ObjectionStatus;

use super::csrf::{Checked, Posted};
use super::objections::status_zh;
use super::session::{SignedIn, see_other};
use super::{Chrome, Faults, PageError, moment, render_with_token};
use crate::api::{ApiError, AppState, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/source/objections", get(queue))
        .route("/source/objections/{id}", get(one).post(resolve))
}

/// The filters of the queue: (value, label).
const FILTERS: [(&str, &str); 4] = [
    ("open", "待办理"),
    ("overdue", "已超期"),
    ("done", "已办结"),
    ("all", "全部"),
];

/// An objection as the queue lists it.
struct Item {
    id: String,
    number: String,
    applicant: String,
    record_table: String,
    status: &'static str,
    accepted_on: String,
    due_on: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "source/queue.html")]
struct QueuePage {
    chrome: Chrome,
    unit: String,
    filter: String,
    filters: [(&'static str, &'static str); 4],
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct QueueQuery {
    show: Option<String>,
}

/// The name of a record's catalog table, as a person reads it.
fn table_zh(table: &str) -> String {
    catalog::Manifest::builtin()
        .tables
        .iter()
        .find(|t| t.id == table)
        .map_or_else(|| table.to_owned(), |t| t.name_zh.clone())
}

/// `GET /source/objections?show=`: the unit's queue (`open` by default; `overdue`,
/// `done` or `all`).
async fn queue(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let filter = query
        .ok()
        .and_then(|Query(q)| q.show)
        .filter(|f| FILTERS.iter().any(|(v, _)| v == f))
        .unwrap_or_else(|| "open".to_owned());
    let (status, overdue) = match filter.as_str() {
        "open" => (Some("open"), false),
        "overdue" => (Some("open"), true),
        _ => (None, false),
    };
    let ledger = state.objection_ledger(&caller, status, overdue).await?;
    let items = ledger
        .items
        .into_iter()
        .filter(|o| filter != "done" || o.resolved_at.is_some())
        .map(|o| Item {
            status: status_zh(o.status),
            applicant: o.applicant_name,
            record_table: table_zh(&o.record_table),
            accepted_on: o.accepted_at.as_deref().map(moment).unwrap_or_default(),
            due_on: o.due_on.as_deref().map(super::day).unwrap_or_default(),
            overdue: o.overdue,
            id: o.id,
            number: o.number,
        })
        .collect();
    Ok(super::render(&QueuePage {
        chrome: Chrome::new("me"),
        unit: ledger
            .source_unit
            .unwrap_or_else(|| "全部数源单位".to_owned()),
        filter,
        filters: FILTERS,
        items,
    }))
}

/// The resolution form as typed, why it was refused, and whether it was just done.
#[derive(Default)]
struct ResolutionFields {
    outcome: String,
    resolution: String,
    faults: Faults,
    done: bool,
}

#[derive(Template)]
#[template(path = "source/objection.html")]
struct ObjectionPage {
    chrome: Chrome,
    csrf: String,
    o: Objection,
    status: &'static str,
    record_table: String,
    filed_at: String,
    due_on: String,
    resolved_at: String,
    /// The record objected to, as disclosed (its fields under their Chinese labels).
    record: Vec<(String, String)>,
    open: bool,
    fields: ResolutionFields,
    outcomes: [(&'static str, &'static str); 3],
}

/// The outcomes a source unit may give: (value, label).
const OUTCOMES: [(&str, &str); 3] = [
    ("corrected", "记录有误，予以更正"),
    ("withdrawn", "记录不应公示，予以撤销"),
    ("upheld", "经核实记录无误，予以维持"),
];

async fn objection_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    id: &str,
    fields: ResolutionFields,
    status: StatusCode,
) -> Result<Response, PageError> {
    let o = state
        .objection(caller, id, Action::ReadObjection)
        .await
        .map_err(ApiError::from)?;
    let record = state
        .objected_record(&o)
        .await?
        .map(|mut fields| {
            // The page says itself whether the record is under objection.
            fields.remove("mark");
            ::public::report::readable_fields(&serde_json::Value::Object(fields))
        })
        .unwrap_or_default();
    Ok(render_with_token(state, headers, status, |csrf| {
        ObjectionPage {
            chrome: Chrome::new("me"),
            csrf,
            status: status_zh(o.status),
            record_table: table_zh(&o.record_table),
            filed_at: moment(&o.filed_at),
            due_on: o.due_on.as_deref().map(super::day).unwrap_or_default(),
            resolved_at: o.resolved_at.as_deref().map(moment).unwrap_or_default(),
            open: o.status == ObjectionStatus::Open,
            record,
            fields,
            outcomes: OUTCOMES,
            o,
        }
    }))
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

/// `GET /source/objections/{id}`: the objection, the record objected to, and (while it
/// is open) the resolution form.
async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let done = query.ok().and_then(|Query(q)| q.done).is_some();
    objection_page(
        &state,
        &headers,
        &caller,
        &id,
        ResolutionFields {
            done,
            ..ResolutionFields::default()
        },
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct ResolutionForm {
    csrf: Option<String>,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    resolution: String,
}

impl Posted for ResolutionForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /source/objections/{id}`: resolves the objection as the API does (corrected,
/// withdrawn or upheld, with what was found and done); the record's mark changes at
/// once.
async fn resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Checked(form): Checked<ResolutionForm>,
) -> Result<Response, PageError> {
    let mut fields = ResolutionFields {
        outcome: form.outcome,
        resolution: form.resolution,
        ..ResolutionFields::default()
    };
    let outcome = match fields.outcome.as_str() {
        "corrected" => Some(Outcome::Corrected),
        "withdrawn" => Some(Outcome::Withdrawn),
        "upheld" => Some(Outcome::Upheld),
        _ => None,
    };
    let Some(outcome) = outcome else {
        fields.faults = Faults::field("outcome", "请选择处理结果：更正、撤销或维持。");
        return objection_page(
            &state,
            &headers,
            &caller,
            &id,
            fields,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let resolved = state
        .resolve_objection(&caller, &id, outcome, &fields.resolution, &request_id())
        .await
        .map_err(ApiError::from);
    match resolved {
        Ok(_) => Ok(see_other(&format!(
            "/source/objections/{}?done=1",
            super::encode(&id)
        ))),
        Err(error)
            if error.status() == StatusCode::UNPROCESSABLE_ENTITY
                || error.status() == StatusCode::CONFLICT =>
        {
            fields.faults = Faults::of(&error, &["resolution"]);
            objection_page(&state, &headers, &caller, &id, fields, error.status()).await
        }
        Err(error) => Err(error.into()),
    }
}
