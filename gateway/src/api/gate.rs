//! The output gate over HTTP (BRIEF P8): samples, aggregates, evaluations of a job's
//! result, the institution's usage against its quotas, and leak tracing.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use policies::access::{Action, Resource};
use serde::Deserialize;

use super::page::Listed;
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
}

impl From<GateError> for ApiError {
    fn from(e: GateError) -> Self {
        match e {
            GateError::NotFound => ApiError::not_found("job"),
            GateError::NotReady(m) => ApiError::new(StatusCode::CONFLICT, "result_not_ready", m),
            GateError::TooSmall(m) => ApiError::new(StatusCode::CONFLICT, "result_too_small", m),
            GateError::TooLarge(m) => ApiError::new(StatusCode::CONFLICT, "result_too_large", m),
            GateError::Invalid { field, message } => ApiError::invalid(field, message),
            GateError::Refused(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "release_refused", m)
            }
            GateError::Budget {
                quota,
                message,
                resets_at,
            } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", message)
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Trace {
    row_hashes: Vec<String>,
}

/// Administrators trace leaked rows (their hashes as the gate computes them) to the
/// releases that contained them.
async fn trace(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Trace>,
) -> Result<Json<Listed<gate::Traced>>, ApiError> {
    state.authorize(&caller, Action::ReadAuditLog, &Resource::Platform)?;
    if body.row_hashes.is_empty() || body.row_hashes.len() > 10_000 {
        return Err(ApiError::invalid(
            "row_hashes",
            "give 1 to 10,000 row hashes",
        ));
    }
    Ok(Json(Listed::all(
        gate::trace(&state.store, &body.row_hashes).await?,
    )))
}
