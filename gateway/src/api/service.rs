//! The public service's case work (BRIEF Q8): objections filed by the public, handled in
//! the queue of the record's source unit, followed by the applicant with the token
//! given at filing, and kept as a ledger by the administrators.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, ApiQuery, AppState, request_id};
use crate::identity::{Caller, Role};
use crate::objections::{self, Applicant, Filing, ObjectionError, Outcome};
use policies::access::{Action, Resource};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/public/objections", post(file))
        .route("/public/objections/{number}", get(follow))
        .route("/objections", get(ledger))
        .route("/objections/{id}", get(read))
        .route("/objections/{id}/resolution", post(resolve))
}

impl From<ObjectionError> for ApiError {
    fn from(e: ObjectionError) -> Self {
        match e {
            ObjectionError::Incomplete(faults) => {
                let details: Vec<Value> = faults
                    .iter()
                    .map(|(field, message)| json!({ "field": field, "message": message }))
                    .collect();
                let first = faults.first().map(|(f, _)| *f).unwrap_or("body");
                ApiError::invalid(
                    first,
                    ObjectionError::Incomplete(faults.clone()).to_string(),
                )
                .with_details(json!(details))
            }
            ObjectionError::NoRecord(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_such_record",
                e.to_string(),
            )
            .with_field("record_id"),
            ObjectionError::NotTheSubject(_, field) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_the_subject",
                e.to_string(),
            )
            .with_field(field),
            ObjectionError::AlreadyOpen(_) => {
                ApiError::new(StatusCode::CONFLICT, "objection_open", e.to_string())
            }
            ObjectionError::Resolved(_) => {
                ApiError::new(StatusCode::CONFLICT, "objection_resolved", e.to_string())
            }
            ObjectionError::Calendar(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "calendar_missing",
                format!(
                    "{e}; the working-day calendar must be extended before objections can be accepted"
                ),
            ),
            ObjectionError::Records(_) | ObjectionError::Store(_) => ApiError::internal(e),
        }
    }
}

/// Files an objection (6.4.2): every incomplete or malformed field is named; the record
/// must exist and belong to the applicant. The record is marked "异议处理中" at once.
async fn file(
    State(state): State<AppState>,
    ApiJson(filing): ApiJson<Filing>,
) -> Result<Response, ApiError> {
    let applicant = objections::check(&filing)?;
    let catalog = state.workspaces.catalog();
    let record_id = filing.record_id.trim();
    let located = ::public::records::locate(catalog, record_id)
        .await
        .map_err(|e| ObjectionError::Records(e.to_string()))?
        .ok_or_else(|| ObjectionError::NoRecord(record_id.to_owned()))?;
    let same = |a: &str, b: &str| ::public::search::normalise(a) == ::public::search::normalise(b);
    // (subject id, registered name) of the applicant, as the registers know them.
    let registered = match &applicant {
        Applicant::Organisation(code) => state
            .search
            .by_uscc(code)
            .map(|e| (e.subject_id.clone(), e.name.clone())),
        Applicant::Person(id_number) => ::public::records::person(catalog, None, id_number)
            .await
            .map_err(|e| ObjectionError::Records(e.to_string()))?
            .map(|p| (p.subject_id, p.name)),
    };
    match registered {
        Some((subject, _)) if subject != located.subject_id => {
            return Err(
                ObjectionError::NotTheSubject(record_id.to_owned(), "applicant_code").into(),
            );
        }
        None => {
            return Err(
                ObjectionError::NotTheSubject(record_id.to_owned(), "applicant_code").into(),
            );
        }
        Some((_, name)) if !same(&name, &filing.applicant_name) => {
            return Err(
                ObjectionError::NotTheSubject(record_id.to_owned(), "applicant_name").into(),
            );
        }
        Some(_) => {}
    }
    let filed = objections::file(
        &state.store,
        policies::calendar::Calendar::builtin(),
        &filing,
        &located,
        None,
        objections::china_today(),
        &request_id(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": filed.id,
            "number": filed.number,
            "token": filed.token,
            "status": "open",
            "source_unit": filed.source_unit,
            "due_on": filed.due_on,
            "message": format!(
                "objection {} accepted: the record is marked 异议处理中 and has been sent to {} for verification; it will be done by {}. Keep the token: it is shown only now and is needed to follow the objection.",
                filed.number, filed.source_unit, filed.due_on
            ),
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowQuery {
    token: String,
}

/// The applicant follows an objection with its number and the token given at filing.
async fn follow(
    State(state): State<AppState>,
    Path(number): Path<String>,
    ApiQuery(query): ApiQuery<FollowQuery>,
) -> Result<Json<objections::Objection>, ApiError> {
    objections::follow(&state.store, &number, &query.token)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no objection with that number and token: check both as given at filing",
            )
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerQuery {
    status: Option<String>,
    #[serde(default)]
    overdue: bool,
}

/// The ledger: administrators see every objection, a source unit its own queue.
async fn ledger(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<LedgerQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(s) = &query.status
        && !["open", "corrected", "withdrawn", "upheld"].contains(&s.as_str())
    {
        return Err(ApiError::invalid(
            "status",
            "status is one of open, corrected, withdrawn, upheld",
        ));
    }
    let unit = if caller.role == Role::SourceUnit {
        caller.organisation.clone()
    } else {
        state.authorize(&caller, Action::ReadObjectionLedger, &Resource::Platform)?;
        None
    };
    let mut items = objections::ledger(
        &state.store,
        unit.as_deref(),
        query.status.as_deref(),
        query.overdue,
    )
    .await?;
    // The service's administrators answer the applicant: they see the phone whole.
    if caller.role == Role::Administrator {
        for item in &mut items {
            item.phone = item.phone_as_given.clone();
        }
    }
    Ok(Json(json!({
        "source_unit": unit,
        "total": items.len(),
        "items": items,
        "next_cursor": null,
    })))
}

async fn authorised(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
) -> Result<objections::Objection, ApiError> {
    let found = objections::get(&state.store, id)
        .await?
        .ok_or_else(|| ApiError::not_found("objection"))?;
    let resource = Resource::Objection {
        id: found.id.clone(),
        source_unit: found.source_unit.clone(),
    };
    // Objections of another unit are not even acknowledged.
    if !state
        .access
        .is_allowed(&super::principal(caller), Action::ReadObjection, &resource)
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::not_found("objection"));
    }
    state.authorize(caller, action, &resource)?;
    Ok(found)
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<objections::Objection>, ApiError> {
    Ok(Json(
        authorised(&state, &caller, &id, Action::ReadObjection).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resolution {
    outcome: Outcome,
    resolution: String,
}

/// The source unit resolves an objection to one of its records: corrected, withdrawn
/// (gone from disclosure at once) or upheld (the mark is lifted).
async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Resolution>,
) -> Result<Json<objections::Objection>, ApiError> {
    authorised(&state, &caller, &id, Action::ResolveObjection).await?;
    let text = body.resolution.trim();
    if text.chars().count() < 4 || text.chars().count() > 2000 {
        return Err(ApiError::invalid(
            "resolution",
            "say what was found and done, in 4 to 2000 characters (it is sent to the applicant)",
        ));
    }
    Ok(Json(
        objections::resolve(
            &state.store,
            &id,
            body.outcome,
            text,
            &caller.user_id,
            &request_id(),
        )
        .await?,
    ))
}
