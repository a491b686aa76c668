//! The output gate over HTTP (BRIEF P8): samples, aggregates, evaluations of a job's
//! result, the institution's usage against its quotas, and leak tracing.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use policies::access::{Action, Resource};
use serde::{Deserialize, Serialize};

use super::page::Listed;
use storage::ids::{InstitutionId, JobId, RequestId};

use super::{ApiError, ApiJson, ApiQuery, AppState, request_id};
use governance::identity::Caller;
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
    let (media_type, body) = match format {
        "csv" => ("text/csv; charset=utf-8", gate::export::csv(&sample)),
        "parquet" => (
            "application/vnd.apache.parquet",
            gate::export::parquet(&sample)?,
        ),
        _ => return Ok((StatusCode::CREATED, Json(sample)).into_response()),
    };
    let header = |v: &str| axum::http::HeaderValue::from_str(v).map_err(ApiError::internal);
    Ok((
        StatusCode::CREATED,
        [
            (axum::http::header::CONTENT_TYPE, header(media_type)?),
            (
                axum::http::header::CONTENT_DISPOSITION,
                header(&format!(
                    "attachment; filename=\"sample-{}.{format}\"",
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

/// What an institution has used of each quota, and what is left.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Usage {
    institution_id: InstitutionId,
    concurrent_jobs: Used,
    job_seconds_per_day: Used,
    storage_bytes: StorageUsed,
    failed_jobs_per_day: Used,
    sampled_rows_per_day: Used,
    sampled_cells_per_day: Used,
    statistical_releases_per_day: Used,
    requests_per_minute: RateLimit,
}

/// One quota: what is used of its limit, what is left, and when the use counted today
/// stops counting (null for a quota that does not reset).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Used {
    used: i64,
    limit: i64,
    left: i64,
    resets_at: Option<String>,
}

impl Used {
    fn of(used: i64, limit: i64, resets_at: Option<&str>) -> Used {
        Used {
            used,
            limit,
            left: (limit - used).max(0),
            resets_at: resets_at.map(str::to_owned),
        }
    }
}

/// The storage quota: bytes held, bytes reserved for the results of queued and running
/// jobs, and what is left of the limit after both.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct StorageUsed {
    used: u64,
    reserved: u64,
    limit: i64,
    left: i64,
    resets_at: Option<String>,
}

/// A limit on the rate of requests.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct RateLimit {
    limit: i64,
}

/// What the institution has used of each quota, and what is left.
async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
) -> Result<Json<Usage>, ApiError> {
    super::institutions::institution(
        &state,
        &caller,
        &id,
        super::institutions::read_action(&caller),
    )
    .await?;
    let used = workbench::quotas::usage(&state.store, &id).await?;
    let quotas = used.quotas;
    let tomorrow = platform::store::china_midnight_tonight();
    let frees = Some(used.sampled_frees_at.as_str());
    Ok(Json(Usage {
        institution_id: id,
        concurrent_jobs: Used::of(used.jobs.active, quotas.concurrent_jobs, None),
        job_seconds_per_day: Used::of(
            used.jobs.ran_ms / 1000,
            quotas.job_seconds_per_day,
            Some(&tomorrow),
        ),
        storage_bytes: StorageUsed {
            used: used.storage_bytes,
            reserved: used.reserved_bytes,
            limit: quotas.storage_bytes,
            left: (quotas.storage_bytes - used.storage_bytes as i64 - used.reserved_bytes as i64)
                .max(0),
            resets_at: None,
        },
        failed_jobs_per_day: Used::of(
            used.jobs.failed,
            quotas.failed_jobs_per_day,
            Some(&tomorrow),
        ),
        sampled_rows_per_day: Used::of(used.sampled_rows, quotas.sampled_rows_per_day, frees),
        sampled_cells_per_day: Used::of(used.sampled_cells, quotas.sampled_cells_per_day, frees),
        statistical_releases_per_day: Used::of(
            used.statistical_releases,
            quotas.statistical_releases_per_day,
            None,
        ),
        requests_per_minute: RateLimit {
            limit: quotas.requests_per_minute,
        },
    }))
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
