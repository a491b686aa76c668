//! Institutions over HTTP: batch opening (BRIEF P3), the lifecycle (P7), workspaces and
//! jobs, progress reports (P6) and re-evaluations (P7).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use policies::access::Action;
use serde::Deserialize;
use storage::ids::{ApplicationId, InstitutionId, JobId};

use super::page::{Listed, Page, cursor};
use super::{ApiError, ApiJson, ApiQuery, AppState, request_id};
use governance::accounts::{self, AccountError};
use governance::identity::Caller;
use governance::progress::{self, ReportContent, ReportError};
use platform::jobs::{Tables, seen_by};
use workbench::models::{self, ModelError};
use workbench::workspace::{Job, WorkspaceError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/institutions", post(open_batch).get(list))
        .route("/institutions/{id}", get(read))
        .route("/institutions/{id}/suspend", post(suspend))
        .route("/institutions/{id}/reinstate", post(reinstate))
        .route("/institutions/{id}/terminate", post(terminate))
        .route("/institutions/{id}/quotas", patch(set_quotas))
        .route("/institutions/{id}/tables", get(tables))
        .route("/institutions/{id}/jobs", post(submit_job).get(list_jobs))
        .route("/institutions/{id}/jobs/{job}", get(read_job))
        .route("/institutions/{id}/jobs/{job}/cancel", post(cancel_job))
        .route(
            "/institutions/{id}/reports",
            post(submit_report).get(list_reports),
        )
        .route("/reports/overdue", get(overdue))
        .route(
            "/institutions/{id}/models",
            post(upload_model).get(list_models),
        )
        .route("/institutions/{id}/models/{model}", delete(delete_model))
        .route(
            "/institutions/{id}/evaluations",
            post(evaluate).get(list_evaluations),
        )
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::NotFound => ApiError::not_found("institution"),
            AccountError::Invalid {
                field,
                message,
                details,
            } => {
                let error = ApiError::invalid(field, message.en).with_zh(message.zh);
                if details.is_empty() {
                    error
                } else {
                    error.with_details(serde_json::json!(
                        details
                            .iter()
                            .map(|(f, m)| serde_json::json!({ "field": f, "message": m.en }))
                            .collect::<Vec<_>>()
                    ))
                }
            }
            AccountError::Stage(message) => {
                ApiError::new(StatusCode::CONFLICT, "wrong_state", message.en).with_zh(message.zh)
            }
            AccountError::Files(e) => ApiError::internal(e),
            AccountError::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<WorkspaceError> for ApiError {
    fn from(e: WorkspaceError) -> Self {
        match e {
            WorkspaceError::NotFound => ApiError::not_found("job"),
            WorkspaceError::NoWorkspace => {
                ApiError::new(StatusCode::CONFLICT, "no_workspace", e.to_string())
            }
            WorkspaceError::Invalid { field, message } => {
                ApiError::invalid(field, message.en).with_zh(message.zh)
            }
            WorkspaceError::Sql(refusal) => {
                let error = ApiError::invalid("sql", refusal.to_string());
                match refusal.at {
                    Some(at) => error.with_details(serde_json::json!({
                        "line": at.line,
                        "column": at.column,
                    })),
                    None => error,
                }
            }
            WorkspaceError::Quota { quota, message } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", message.en)
                    .with_zh(message.zh)
                    .with_details(serde_json::json!({ "quota": quota }))
            }
            WorkspaceError::Ended(_) => {
                ApiError::new(StatusCode::CONFLICT, "job_ended", e.to_string())
            }
            WorkspaceError::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Invalid { field, message } => {
                ApiError::invalid(field, message.en).with_zh(message.zh)
            }
            ReportError::Duplicate(message) => {
                ApiError::new(StatusCode::CONFLICT, "already_reported", message.en)
                    .with_zh(message.zh)
            }
            ReportError::NotFound => ApiError::not_found("institution"),
            ReportError::Store(e) => ApiError::internal(e),
        }
    }
}

/// Authorizes `action` on institution `id`; another institution's id is "not found".
pub(super) async fn institution(
    state: &AppState,
    caller: &Caller,
    id: &InstitutionId,
    action: Action,
) -> Result<(), ApiError> {
    Ok(state.institution(caller, id, action).await?)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Opening {
    application_ids: Vec<ApplicationId>,
}

async fn open_batch(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Opening>,
) -> Result<Response, ApiError> {
    let opened = state
        .open_accounts(&caller, &body.application_ids, &request_id())
        .await?;
    Ok((StatusCode::CREATED, Json(OpenedBatch { opened })).into_response())
}

/// Accounts opened in one batch.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct OpenedBatch {
    /// Each institution opened, with its application and grants.
    opened: Vec<accounts::Opened>,
}

/// An institution in the list: its id, name, code and status.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct InstitutionSummary {
    id: String,
    name: String,
    uscc: String,
    status: String,
}

/// An institution whose jobs a state change cancelled.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Changed {
    /// The institution, as it is now.
    institution: accounts::Institution,
    /// Its queued or running jobs that were cancelled.
    jobs_cancelled: Vec<JobId>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Listed<InstitutionSummary>>, ApiError> {
    let limit = page.size()?;
    let after = page.after(1)?.map(|mut key| key.remove(0));
    let rows = state
        .institutions(&caller, after.as_deref().unwrap_or(""), i64::from(limit))
        .await?;
    let next_cursor = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| cursor(&[r.0.as_str()])))
        .flatten();
    let items = rows
        .into_iter()
        .map(|(id, name, uscc, status)| InstitutionSummary {
            id,
            name,
            uscc,
            status,
        })
        .collect();
    Ok(Json(Listed { items, next_cursor }))
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
) -> Result<Json<accounts::Institution>, ApiError> {
    Ok(Json(state.institution_record(&caller, &id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Suspension {
    reason: String,
    rectification_deadline: NaiveDate,
}

async fn suspend(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiJson(body): ApiJson<Suspension>,
) -> Result<Json<Changed>, ApiError> {
    let (institution, jobs_cancelled) = state
        .suspend(
            &caller,
            &id,
            &body.reason,
            body.rectification_deadline,
            &request_id(),
        )
        .await?;
    Ok(Json(Changed {
        institution,
        jobs_cancelled,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Reason {
    reason: String,
}

async fn reinstate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<accounts::Institution>, ApiError> {
    Ok(Json(
        state
            .reinstate(&caller, &id, &body.reason, &request_id())
            .await?,
    ))
}

async fn terminate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Changed>, ApiError> {
    let (institution, jobs_cancelled) = state
        .terminate(&caller, &id, &body.reason, &request_id())
        .await?;
    Ok(Json(Changed {
        institution,
        jobs_cancelled,
    }))
}

/// The tables the institution may query: exactly its grants, with their columns.
async fn tables(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
) -> Result<Json<Tables>, ApiError> {
    Ok(Json(state.tables(&caller, &id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct JobRequest {
    sql: String,
}

async fn submit_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiJson(body): ApiJson<JobRequest>,
) -> Result<Response, ApiError> {
    let job = state
        .submit_job(&caller, &id, &body.sql, &request_id())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(seen_by(&caller, job))).into_response())
}

async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Listed<Job>>, ApiError> {
    let limit = page.size()?;
    // Newest first: by submission time, then id; the cursor carries both.
    let after = page.after(2)?;
    let before = after
        .as_ref()
        .map(|k| (k[0].as_str(), JobId::from(k[1].as_str())));
    let items = state
        .jobs(
            &caller,
            &id,
            before.as_ref().map(|(at, job)| (*at, job)),
            i64::from(limit),
        )
        .await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| {
            items
                .last()
                .map(|j| cursor(&[j.submitted_at.as_str(), j.id.as_str()]))
        })
        .flatten();
    Ok(Json(Listed { items, next_cursor }))
}

async fn read_job(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, job)): Path<(InstitutionId, JobId)>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(state.job(&caller, &id, &job).await?))
}

async fn cancel_job(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, job)): Path<(InstitutionId, JobId)>,
) -> Result<Response, ApiError> {
    let job = state.cancel_job(&caller, &id, &job, &request_id()).await?;
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

async fn submit_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiJson(body): ApiJson<ReportContent>,
) -> Result<Response, ApiError> {
    let report = state
        .submit_progress_report(&caller, &id, &body, &request_id())
        .await?;
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

/// The institution's reporting schedule with each period's status, and its reports.
async fn list_reports(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
) -> Result<Json<Reports>, ApiError> {
    let (schedule, items) = state.progress_reports(&caller, &id).await?;
    Ok(Json(Reports {
        schedule,
        items,
        next_cursor: None,
    }))
}

/// An institution's progress reports and its reporting schedule.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Reports {
    /// Each reporting period and where its report stands.
    schedule: Vec<progress::Period>,
    /// The reports submitted.
    items: Vec<progress::ProgressReport>,
    /// Always null: the list is whole.
    next_cursor: Option<String>,
}

async fn overdue(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Listed<progress::Overdue>>, ApiError> {
    Ok(Json(Listed::all(state.overdue_reports(&caller).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = InstitutionEvaluationRequest)]
pub(super) struct EvaluationRequest {
    period_start: NaiveDate,
    period_end: NaiveDate,
    conclusion: String,
    note: String,
}

async fn evaluate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiJson(body): ApiJson<EvaluationRequest>,
) -> Result<Response, ApiError> {
    let evaluation = state
        .evaluate_institution(
            &caller,
            &id,
            (body.period_start, body.period_end),
            &body.conclusion,
            &body.note,
            &request_id(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(evaluation)).into_response())
}

async fn list_evaluations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
) -> Result<Json<Listed<progress::Evaluation>>, ApiError> {
    Ok(Json(Listed::all(
        state.institution_evaluations(&caller, &id).await?,
    )))
}

/// New values for some of an institution's quotas, and why.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct QuotaChanges {
    concurrent_jobs: Option<i64>,
    job_seconds_per_day: Option<i64>,
    storage_bytes: Option<i64>,
    sampled_rows_per_day: Option<i64>,
    sampled_cells_per_day: Option<i64>,
    statistical_releases_per_day: Option<i64>,
    failed_jobs_per_day: Option<i64>,
    requests_per_minute: Option<i64>,
    reason: String,
}

/// `PATCH /api/v1/institutions/{id}/quotas`: changes the quotas named, with the reason.
async fn set_quotas(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiJson(body): ApiJson<QuotaChanges>,
) -> Result<Json<accounts::Quotas>, ApiError> {
    let changes: Vec<(&str, i64)> = [
        ("concurrent_jobs", body.concurrent_jobs),
        ("job_seconds_per_day", body.job_seconds_per_day),
        ("storage_bytes", body.storage_bytes),
        ("sampled_rows_per_day", body.sampled_rows_per_day),
        ("sampled_cells_per_day", body.sampled_cells_per_day),
        (
            "statistical_releases_per_day",
            body.statistical_releases_per_day,
        ),
        ("failed_jobs_per_day", body.failed_jobs_per_day),
        ("requests_per_minute", body.requests_per_minute),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value?)))
    .collect();
    Ok(Json(
        state
            .set_quotas(&caller, &id, &changes, &body.reason, &request_id())
            .await?,
    ))
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Refused(m) => {
                let zh = format!("模型未通过检查（{m}）。请检查导出的函数与清单后重新上传。");
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "model_refused", m).with_zh(zh)
            }
            ModelError::Exists(_) => {
                ApiError::new(StatusCode::CONFLICT, "model_exists", e.to_string())
            }
            ModelError::NotFound => ApiError::not_found("model"),
            ModelError::Files(e) => ApiError::internal(e),
            ModelError::Store(e) => ApiError::internal(e),
        }
    }
}

/// Largest module accepted (the sandbox's own limit).
pub(crate) fn max_model_bytes() -> usize {
    sandbox::SandboxConfig::default().max_module_bytes
}

/// Uploads a model: the raw WebAssembly module as the body (`application/wasm`).
async fn upload_model(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    institution(&state, &caller, &id, Action::UseWorkspace).await?;
    let media_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The binary module, or the WebAssembly text format (a .wat file) as the command
    // line takes it (issue 17: the API refused a model the CLI accepted).
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let text = match essence.as_str() {
        "application/wasm" => false,
        "text/plain" | "text/wat" => true,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the WebAssembly module as the body with Content-Type: application/wasm, or its text format (a .wat file) with Content-Type: text/plain",
            ));
        }
    };
    let bytes = axum::body::to_bytes(body, max_model_bytes())
        .await
        .map_err(|_| model_too_large())?;
    let info = state
        .upload_model(&caller, &id, &bytes, text, &request_id())
        .await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// A model past the sandbox's limit on a module's size.
pub(crate) fn model_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("a model may be at most {} MiB", max_model_bytes() >> 20),
    )
    .with_zh(format!("模型文件最大 {} MiB。", max_model_bytes() >> 20))
}

async fn list_models(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
) -> Result<Json<Listed<models::ModelInfo>>, ApiError> {
    Ok(Json(Listed::all(state.models(&caller, &id).await?)))
}

async fn delete_model(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, model)): Path<(InstitutionId, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .delete_model(&caller, &id, &model, &request_id())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<platform::jobs::JobsError> for ApiError {
    fn from(e: platform::jobs::JobsError) -> Self {
        use platform::jobs::JobsError;
        match e {
            JobsError::Refused(e) => e.into(),
            JobsError::OwnData(e) => e.into(),
            JobsError::Workspace(e) => e.into(),
            JobsError::Report(e) => e.into(),
        }
    }
}

impl From<platform::institutions::InstitutionFailure> for ApiError {
    fn from(e: platform::institutions::InstitutionFailure) -> Self {
        use platform::institutions::InstitutionFailure;
        match e {
            InstitutionFailure::Refused(e) => e.into(),
            InstitutionFailure::Account(e) => e.into(),
            InstitutionFailure::Lifecycle(e) => e.into(),
            InstitutionFailure::Report(e) => e.into(),
        }
    }
}
