//! Objections on the public site (BRIEF Q8, issue 18): the form with every field the
//! standard asks for (6.4.2) and the record preselected from the subject's page, the
//! receipt with its number and follow-up token, and the page that follows it. Filing
//! is the platform's `file_objection`, as through the API.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use desk::objections::{Filing, Objection, ObjectionError};
use platform::objections::ObjectionFailure;
use serde::Deserialize;
use storage::states::ObjectionStatus;

use super::csrf::{Checked, Posted};
use super::session::MaybeSignedIn;
use super::{Chrome, FollowForm, PageError, date_zh, render_with_token};
use crate::api::{ApiError, AppState, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/objections/new", get(new).post(file))
        .route("/objections/follow", get(follow_form).post(follow))
}

/// The record objected to, as the form shows it.
struct RecordSummary {
    table: String,
    subject_name: String,
    source_unit: String,
}

/// The form's fields as typed, and the message beside each field at fault.
#[derive(Default)]
struct Fields {
    applicant_name: String,
    applicant_code: String,
    phone: String,
    content: String,
    record_id: String,
    errors: HashMap<&'static str, String>,
    /// A refusal that is no one field's (an objection already open).
    general: Option<String>,
}

impl Fields {
    /// The message beside `field`, if it is at fault.
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }

    /// `aria-invalid` of `field`.
    fn invalid(&self, field: &str) -> &'static str {
        if self.errors.contains_key(field) {
            "true"
        } else {
            "false"
        }
    }
}

#[derive(Template)]
#[template(path = "public/objection_form.html")]
struct FormPage {
    chrome: Chrome,
    csrf: String,
    fields: Fields,
    record: Option<RecordSummary>,
}

/// The record with this id, as the form names it.
fn summary(state: &AppState, record_id: &str) -> Option<RecordSummary> {
    let located = state.records.locate(record_id.trim())?;
    let table = catalog::Manifest::builtin()
        .tables
        .iter()
        .find(|t| t.id == located.table)
        .map_or(located.table.clone(), |t| t.name_zh.clone());
    let subject_name = state
        .search
        .by_subject(&located.subject_id)
        .map(|e| e.name.clone())
        .unwrap_or_default();
    Some(RecordSummary {
        table,
        subject_name,
        source_unit: located.source_unit,
    })
}

/// The form, `fields` in it; `status` for a refused one.
fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    fields: Fields,
    status: StatusCode,
) -> Response {
    let record = summary(state, &fields.record_id);
    render_with_token(state, headers, status, |csrf| FormPage {
        chrome: Chrome::new("home"),
        csrf,
        fields,
        record,
    })
}

#[derive(Deserialize)]
struct NewQuery {
    record: Option<String>,
}

/// `GET /objections/new?record=`: the form, its record preselected.
async fn new(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<NewQuery>, QueryRejection>,
) -> Response {
    let record_id = query.ok().and_then(|Query(q)| q.record).unwrap_or_default();
    form_page(
        &state,
        &headers,
        Fields {
            record_id,
            ..Fields::default()
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct FilingForm {
    csrf: Option<String>,
    #[serde(default)]
    applicant_name: String,
    #[serde(default)]
    applicant_code: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    record_id: String,
}

impl Posted for FilingForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The receipt, shown once: the token is not kept anywhere the applicant can ask for
/// it again.
#[derive(Template)]
#[template(path = "public/objection_receipt.html")]
struct ReceiptPage {
    chrome: Chrome,
    csrf: String,
    number: String,
    token: String,
    accepted: bool,
    source_unit: String,
    due_on: Option<String>,
    due_provisional: bool,
    working_days: u32,
}

/// `POST /objections/new`: files the objection; every field at fault is named beside
/// it at once, with what was typed kept.
async fn file(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSignedIn(caller): MaybeSignedIn,
    Checked(form): Checked<FilingForm>,
) -> Result<Response, PageError> {
    let filing = Filing {
        applicant_name: form.applicant_name,
        applicant_code: form.applicant_code,
        phone: form.phone,
        content: form.content,
        record_id: form.record_id,
    };
    // Signed in, the filing is the caller's (as `POST /api/v1/objections`): a person's
    // own record, the enterprise an institution is, an administrator recording a letter
    // are accepted at once. Any other filing signed in goes as the public's, for the
    // service provider to check, as the API advises.
    let mut filed = state
        .file_objection(&filing, caller.as_ref(), &request_id())
        .await;
    if caller.is_some()
        && matches!(
            filed,
            Err(ObjectionFailure::Refused(
                platform::Refusal::Forbidden { .. }
            ))
        )
    {
        filed = state.file_objection(&filing, None, &request_id()).await;
    }
    let refused = match filed {
        Ok(filed) => {
            return Ok(render_with_token(
                &state,
                &headers,
                StatusCode::CREATED,
                |csrf| ReceiptPage {
                    chrome: Chrome::new("home"),
                    csrf,
                    number: filed.number,
                    token: filed.token,
                    accepted: filed.status == ObjectionStatus::Open,
                    source_unit: filed.source_unit,
                    due_on: filed.due_on.map(date_zh),
                    due_provisional: filed.due_provisional,
                    working_days: desk::objections::DEADLINE_WORKING_DAYS,
                },
            ));
        }
        Err(refused) => refused,
    };
    let mut fields = Fields {
        applicant_name: filing.applicant_name,
        applicant_code: filing.applicant_code,
        phone: filing.phone,
        content: filing.content,
        record_id: filing.record_id,
        ..Fields::default()
    };
    match refused {
        ObjectionFailure::Objection(ObjectionError::Incomplete(faults)) => {
            fields.errors = faults.into_iter().map(|(f, said)| (f, said.zh)).collect();
        }
        ObjectionFailure::Objection(e @ ObjectionError::NoRecord(_)) => {
            fields
                .errors
                .insert("record_id", ApiError::from(e).message_zh().to_owned());
        }
        ObjectionFailure::Objection(ObjectionError::NotTheSubject(record, field)) => {
            let message = ApiError::from(ObjectionError::NotTheSubject(record, field))
                .message_zh()
                .to_owned();
            fields.errors.insert(field, message);
        }
        ObjectionFailure::Objection(e @ ObjectionError::AlreadyOpen(_)) => {
            fields.general = Some(ApiError::from(e).message_zh().to_owned());
        }
        other => return Err(other.into()),
    }
    Ok(form_page(
        &state,
        &headers,
        fields,
        StatusCode::UNPROCESSABLE_ENTITY,
    ))
}

#[derive(Template)]
#[template(path = "public/objection_follow.html")]
struct FollowPage {
    chrome: Chrome,
    csrf: String,
    number: String,
    objection: Option<ObjectionView>,
    /// Why nothing is shown.
    not_found: bool,
}

/// An objection as its applicant follows it.
struct ObjectionView {
    status: &'static str,
    filed_at: String,
    record_table: String,
    source_unit: String,
    due_on: Option<String>,
    overdue: bool,
    resolved_at: Option<String>,
    resolution: Option<String>,
    content: String,
}

/// An objection's state, in words.
pub(super) fn status_zh(status: ObjectionStatus) -> &'static str {
    match status {
        ObjectionStatus::Received => "已收到，待受理（服务机构正在核对异议是否完整、准确）",
        ObjectionStatus::Open => "已受理，数源单位核实中（相关记录标注“异议处理中”）",
        ObjectionStatus::Corrected => "已处理：记录已更正",
        ObjectionStatus::Withdrawn => "已处理：记录已撤销",
        ObjectionStatus::Upheld => "已处理：经核实，记录无误，予以维持",
        ObjectionStatus::Returned => "未受理：已退回",
    }
}

fn view(o: Objection) -> ObjectionView {
    let day = super::moment;
    let table = catalog::Manifest::builtin()
        .tables
        .iter()
        .find(|t| t.id == o.record_table)
        .map_or(o.record_table.clone(), |t| t.name_zh.clone());
    ObjectionView {
        status: status_zh(o.status),
        filed_at: day(&o.filed_at),
        record_table: table,
        source_unit: o.source_unit,
        due_on: o.due_on.as_deref().map(super::day),
        overdue: o.overdue,
        resolved_at: o.resolved_at.as_deref().map(day),
        resolution: o.resolution,
        content: o.content,
    }
}

/// `GET /objections/follow`: the form to follow an objection.
async fn follow_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    render_with_token(&state, &headers, StatusCode::OK, |csrf| FollowPage {
        chrome: Chrome::new("home"),
        csrf,
        number: String::new(),
        objection: None,
        not_found: false,
    })
}

/// `POST /objections/follow`: the objection with this number and token (posted, so that
/// the token stays out of addresses and logs).
async fn follow(
    State(state): State<AppState>,
    headers: HeaderMap,
    Checked(form): Checked<FollowForm>,
) -> Result<Response, PageError> {
    let number = form.number.trim().to_owned();
    let found = desk::objections::follow(&state.store, &number, form.token.trim()).await?;
    let not_found = found.is_none();
    let status = if not_found {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok(render_with_token(&state, &headers, status, |csrf| {
        FollowPage {
            chrome: Chrome::new("home"),
            csrf,
            number,
            objection: found.map(view),
            not_found,
        }
    }))
}
