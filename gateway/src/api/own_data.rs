//! Own data over HTTP (BRIEF P5): upload, list, share, delete.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post, put};
use axum::{Json, Router};
use futures::StreamExt;
use policies::access::Action;
use serde::Deserialize;
use std::io::Write;
use storage::ids::InstitutionId;

use super::page::Listed;
use super::{ApiError, ApiJson, ApiQuery, AppState, request_id};
use governance::accounts;
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

/// The caller's own institution, active: only its users manage its data.
async fn own(
    state: &AppState,
    caller: &Caller,
    id: &InstitutionId,
) -> Result<std::path::PathBuf, ApiError> {
    state.own_institution(caller, id, Action::UseWorkspace, "manage its data")?;
    accounts::workspace_path(&state.store, id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no_workspace",
                "the institution has no open workspace",
            )
        })
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
    let workspace = own(&state, &caller, &id).await?;
    let request = Upload {
        name: query.name.as_deref().unwrap_or(""),
        format: query.format.as_deref().unwrap_or(""),
        types: own_data::pairs("types", query.types.as_deref())?,
        sensitivity: own_data::pairs("sensitivity", query.sensitivity.as_deref())?,
    };
    own_data::check_upload(&request)?;
    // The file streams to disk under the smaller of the upload cap and the storage
    // left; past it, the partial file is removed and nothing remains.
    let storage = workbench::quotas::storage(&state.store, &id, &workspace).await?;
    let left = storage.left();
    let cap = left.min(own_data::MAX_UPLOAD_BYTES);
    let dir = workspace.join("uploads");
    std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
    let file = dir.join(format!("{}.{}", platform::store::new_id(), request.format));
    let written = async {
        let mut out = std::fs::File::create(&file).map_err(ApiError::internal)?;
        let mut stream = body.into_data_stream();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", "the upload was interrupted"))?;
            size += chunk.len() as u64;
            if size > cap {
                return Err(if cap < own_data::MAX_UPLOAD_BYTES {
                    ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "quota_exceeded",
                        format!("quota storage_bytes: the upload does not fit in the {left} bytes left of your workspace's {} bytes; delete tables or results first", storage.limit),
                    )
                    .with_details(serde_json::json!({ "quota": "storage_bytes" }))
                } else {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "upload_too_large",
                        format!("an upload may be at most {} MiB", own_data::MAX_UPLOAD_BYTES >> 20),
                    )
                });
            }
            out.write_all(&chunk).map_err(ApiError::internal)?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&file);
        return Err(e);
    }
    let (table, report) = own_data::import(
        &state.store,
        &state.workspaces,
        &workspace,
        &id,
        &caller.user_id,
        &request,
        &file,
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
    own(&state, &caller, &id).await?;
    Ok(Json(Listed::all(own_data::list(&state.store, &id).await?)))
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
    own(&state, &caller, &id).await?;
    let shared = own_data::share(
        &state.store,
        &id,
        &table,
        &body.mode,
        &body.institutions,
        &caller.user_id,
        &request_id(),
    )
    .await?;
    // A reader that lost the table stops reading it at once.
    state
        .workspaces
        .cancel_revoked_readers(&state.access, &id, &caller.user_id, &request_id())
        .await?;
    Ok(Json(shared))
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
    own(&state, &caller, &id).await?;
    Ok(Json(
        own_data::set_sensitivity(
            &state.store,
            &id,
            &table,
            &body.columns,
            &caller.user_id,
            &request_id(),
        )
        .await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, table)): Path<(InstitutionId, String)>,
) -> Result<StatusCode, ApiError> {
    own(&state, &caller, &id).await?;
    own_data::delete(&state.store, &id, &table, &caller.user_id, &request_id()).await?;
    state
        .workspaces
        .cancel_revoked_readers(&state.access, &id, &caller.user_id, &request_id())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An own table just uploaded, with what its reading found.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Imported {
    table: own_data::OwnTable,
    report: own_data::ImportReport,
}
