//! The output gate over HTTP (BRIEF P8): samples, aggregates, evaluations of a job's
//! result, the institution's usage against its quotas, and leak tracing.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::page::{Listed, Page, cursor};
use storage::ids::{InstitutionId, JobId, RequestId};

use super::{ApiError, ApiJson, ApiQuery, AppState, request_id};
use governance::identity::Caller;
use platform::jobs::Usage;
use platform::releases::{Asked, ReleaseError};
use workbench::gate::{self, AggregateRequest, EvaluationRequest, GateError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/institutions/{id}/jobs/{job}/sample", post(sample))
        .route("/institutions/{id}/jobs/{job}/aggregate", post(aggregate))
        .route("/institutions/{id}/jobs/{job}/evaluation", post(evaluation))
        .route("/institutions/{id}/usage", get(usage))
        .route("/releases/trace", post(trace))
        .route("/releases", get(ledger))
        .route("/institutions/{id}/releases", get(institution_ledger))
}

impl From<GateError> for ApiError {
    fn from(e: GateError) -> Self {
        match e {
            GateError::NotFound => ApiError::not_found("job"),
            GateError::NotReady(m) => {
                ApiError::new(StatusCode::CONFLICT, "result_not_ready", m.en).with_zh(m.zh)
            }
            GateError::TooSmall(m) => {
                ApiError::new(StatusCode::CONFLICT, "result_too_small", m.en).with_zh(m.zh)
            }
            GateError::TooLarge(m) => {
                ApiError::new(StatusCode::CONFLICT, "result_too_large", m.en).with_zh(m.zh)
            }
            GateError::Invalid { field, message } => {
                ApiError::invalid(field, message.en).with_zh(message.zh)
            }
            GateError::Refused(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "release_refused", m.en)
                    .with_zh(m.zh)
            }
            GateError::Budget {
                quota,
                message,
                resets_at,
            } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", message.en)
                .with_zh(message.zh)
                .with_details(serde_json::json!({ "quota": quota, "resets_at": resets_at })),
            GateError::Internal(e) => ApiError::internal(e),
        }
    }
}

/// What is asked: job `job` of institution `id`, by `caller`.
fn asked<'a>(
    caller: &'a Caller,
    id: &'a InstitutionId,
    job: &'a JobId,
    request_id: &'a RequestId,
) -> Asked<'a> {
    Asked {
        caller,
        institution_id: id,
        job_id: job,
        request_id,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SampleQuery {
    format: Option<String>,
}

/// A random sample of the job's result: as JSON (the rows with each column's
/// treatment and the budget), or as the file a data scientist opens (`?format=csv` or
/// `?format=parquet`, with the release's id, fingerprint and whether it repeats an
/// earlier one in headers). Asking again for the same sample is a repeat: it is not
/// counted again, so a sample can be fetched in every format.
async fn sample(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, job)): Path<(InstitutionId, JobId)>,
    ApiQuery(query): ApiQuery<SampleQuery>,
) -> Result<Response, ApiError> {
    let format = query.format.as_deref().unwrap_or("json");
    if !["json", "csv", "parquet"].contains(&format) {
        return Err(ApiError::invalid(
            "format",
            "format is json, csv or parquet",
        ));
    }
    let request_id = request_id();
    let sample = state
        .release_sample(asked(&caller, &id, &job, &request_id))
        .await?;
    if format == "json" {
        return Ok((StatusCode::CREATED, Json(sample)).into_response());
    }
    sample_file(&sample, format)
}

/// `sample` as the file a data scientist opens (`csv` or `parquet`), with the
/// release's id, fingerprint and whether it repeats an earlier one in headers: for the
/// API and the pages alike.
pub(crate) fn sample_file(sample: &gate::Sample, format: &str) -> Result<Response, ApiError> {
    let (media_type, body) = match format {
        "csv" => ("text/csv; charset=utf-8", gate::export::csv(sample)),
        _ => (
            "application/vnd.apache.parquet",
            gate::export::parquet(sample)?,
        ),
    };
    let header = |v: &str| axum::http::HeaderValue::from_str(v).map_err(ApiError::internal);
    let extension = if format == "csv" { "csv" } else { "parquet" };
    Ok((
        StatusCode::CREATED,
        [
            (axum::http::header::CONTENT_TYPE, header(media_type)?),
            (
                axum::http::header::CONTENT_DISPOSITION,
                header(&format!(
                    "attachment; filename=\"sample-{}.{extension}\"",
                    sample.release_id
                ))?,
            ),
            (
                axum::http::HeaderName::from_static("x-release-id"),
                header(sample.release_id.as_str())?,
            ),
            (
                axum::http::HeaderName::from_static("x-release-fingerprint"),
                header(&sample.fingerprint)?,
            ),
            (
                axum::http::HeaderName::from_static("x-release-repeated"),
                header(if sample.repeated { "true" } else { "false" })?,
            ),
        ],
        body,
    )
        .into_response())
}

async fn aggregate(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, job)): Path<(InstitutionId, JobId)>,
    ApiJson(body): ApiJson<AggregateRequest>,
) -> Result<Response, ApiError> {
    let request_id = request_id();
    let out = state
        .release_aggregate(asked(&caller, &id, &job, &request_id), &body)
        .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn evaluation(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, job)): Path<(InstitutionId, JobId)>,
    ApiJson(body): ApiJson<EvaluationRequest>,
) -> Result<Response, ApiError> {
    let request_id = request_id();
    let out = state
        .release_evaluation(asked(&caller, &id, &job, &request_id), &body)
        .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

impl From<ReleaseError> for ApiError {
    fn from(e: ReleaseError) -> Self {
        match e {
            ReleaseError::Refused(e) => e.into(),
            ReleaseError::OwnData(e) => e.into(),
            ReleaseError::Gate(e) => e.into(),
        }
    }
}

/// What the institution has used of each quota, and what is left.
async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
) -> Result<Json<Usage>, ApiError> {
    Ok(Json(state.quota_usage(&caller, &id).await?))
}

/// Leaked rows to trace: the rows as found (each an array of its cells: text, numbers,
/// booleans or null; any columns, in any order), or hashes of result rows as the gate
/// computes them, or both.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Trace {
    #[serde(default)]
    rows: Vec<Vec<serde_json::Value>>,
    #[serde(default)]
    row_hashes: Vec<String>,
}

/// Administrators trace leaked rows to the sample releases that contained them.
async fn trace(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Trace>,
) -> Result<Json<Listed<gate::Traced>>, ApiError> {
    let rows: Vec<Vec<String>> = body
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    Ok(Json(Listed::all(
        state.trace_leak(&caller, &rows, &body.row_hashes).await?,
    )))
}

/// The release ledger's page: newest first; the cursor carries the last release's time
/// and id.
async fn ledger_page(
    state: &AppState,
    caller: &Caller,
    institution: Option<&InstitutionId>,
    page: &Page,
) -> Result<Json<Listed<gate::LedgerEntry>>, ApiError> {
    let limit = page.size()?;
    let after = page.after(2)?;
    let before = after.as_ref().map(|k| (k[0].as_str(), k[1].as_str()));
    let items = state
        .release_ledger(caller, institution, before, i64::from(limit))
        .await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| {
            items
                .last()
                .map(|e| cursor(&[e.released_at.as_str(), e.release_id.as_str()]))
        })
        .flatten();
    Ok(Json(Listed { items, next_cursor }))
}

/// `GET /api/v1/releases`: every institution's releases (administrators; an
/// institution's users get their own).
async fn ledger(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Listed<gate::LedgerEntry>>, ApiError> {
    ledger_page(&state, &caller, None, &page).await
}

/// `GET /api/v1/institutions/{id}/releases`: one institution's releases (its users,
/// administrators).
async fn institution_ledger(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Listed<gate::LedgerEntry>>, ApiError> {
    ledger_page(&state, &caller, Some(&id), &page).await
}
