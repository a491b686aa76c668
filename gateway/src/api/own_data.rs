//! Own data over HTTP (BRIEF P5): upload, list, share, delete.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post, put};
use axum::{Json, Router};
use platform::own_data::OwnFailure;
use serde::Deserialize;
use storage::ids::InstitutionId;

use super::page::Listed;
use super::{ApiError, ApiJson, ApiQuery, AppState, request_id};
use governance::identity::Caller;
use workbench::own_data::{self, OwnDataError, Upload};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/institutions/{id}/own-tables", post(upload).get(list))
        .route("/institutions/{id}/own-tables/{table}/sharing", put(share))
        .route(
            "/institutions/{id}/own-tables/{table}/sensitivity",
            put(set_sensitivity),
        )
        .route("/institutions/{id}/own-tables/{table}", delete(remove))
}

impl From<OwnDataError> for ApiError {
    fn from(e: OwnDataError) -> Self {
        match e {
            OwnDataError::Invalid { field, message } => ApiError::invalid(field, message),
            OwnDataError::Unreadable(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_upload", m)
            }
            OwnDataError::Exists(_) => {
                ApiError::new(StatusCode::CONFLICT, "table_exists", e.to_string())
            }
            OwnDataError::NotFound => ApiError::not_found("table"),
            OwnDataError::Files(e) => ApiError::internal(e),
            OwnDataError::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<OwnFailure> for ApiError {
    fn from(e: OwnFailure) -> Self {
        let zh = e.zh();
        let error = match e {
            OwnFailure::Refused(e) => return e.into(),
            OwnFailure::OwnData(e) => return e.into(),
            OwnFailure::Model(e) => return e.into(),
            OwnFailure::Workspace(e) => return e.into(),
            OwnFailure::NoWorkspace => {
                ApiError::new(StatusCode::CONFLICT, "no_workspace", e.to_string())
            }
            OwnFailure::TooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload_too_large",
                e.to_string(),
            ),
            OwnFailure::Storage { .. } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "quota_exceeded",
                e.to_string(),
            )
            .with_details(serde_json::json!({ "quota": "storage_bytes" })),
            OwnFailure::Interrupted => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string())
            }
            OwnFailure::Files(e) => return ApiError::internal(e),
        };
        match zh {
            Some(zh) => error.with_zh(zh),
            None => error,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct UploadQuery {
    name: Option<String>,
    format: Option<String>,
    types: Option<String>,
    sensitivity: Option<String>,
}

/// Uploads a CSV (with a header row) or Parquet file as the body; `?name=` the table,
/// `?format=csv|parquet`, optional `?types=col:type,…` and `?sensitivity=col:masked,…`.
/// Answers with the table and a validation report.
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    let request = Upload {
        name: query.name.as_deref().unwrap_or(""),
        format: query.format.as_deref().unwrap_or(""),
        types: own_data::pairs("types", query.types.as_deref())?,
        sensitivity: own_data::pairs("sensitivity", query.sensitivity.as_deref())?,
    };
    let (table, report) = state
        .import_own_table(
            &caller,
            &id,
            &request,
            body.into_data_stream(),
            &request_id(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(Imported { table, report })).into_response())
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
) -> Result<Json<Listed<own_data::OwnTable>>, ApiError> {
    Ok(Json(Listed::all(state.own_tables(&caller, &id).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Sharing {
    mode: String,
    #[serde(default)]
    institutions: Vec<String>,
}

async fn share(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, table)): Path<(InstitutionId, String)>,
    ApiJson(body): ApiJson<Sharing>,
) -> Result<Json<own_data::OwnTable>, ApiError> {
    Ok(Json(
        state
            .share_own_table(
                &caller,
                &id,
                &table,
                &body.mode,
                &body.institutions,
                &request_id(),
            )
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Sensitivity {
    columns: std::collections::BTreeMap<String, String>,
}

async fn set_sensitivity(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, table)): Path<(InstitutionId, String)>,
    ApiJson(body): ApiJson<Sensitivity>,
) -> Result<Json<own_data::OwnTable>, ApiError> {
    Ok(Json(
        state
            .tag_own_columns(&caller, &id, &table, &body.columns, &request_id())
            .await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, table)): Path<(InstitutionId, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .delete_own_table(&caller, &id, &table, &request_id())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An own table just uploaded, with what its reading found.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Imported {
    table: own_data::OwnTable,
    report: own_data::ImportReport,
}
