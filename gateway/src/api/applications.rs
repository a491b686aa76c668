//! Applicants, applications (BRIEF P1) and the data supply list they choose from.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use policies::access::Action;
use serde::Deserialize;
use storage::ids::ApplicationId;

use super::page::{Listed, Page, cursor};
use super::{ApiError, ApiJson, ApiQuery, AppState, ClientIp, request_id};
use governance::applications::{Application, ApplicationError};
use governance::evidence::{self, EvidenceError};
use governance::form::ApplicationForm;
use governance::identity::{Caller, Role};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/applicants", post(register))
        .route("/catalog", get(catalog))
        .route("/applications", post(create).get(list))
        .route("/applications/{id}", get(read).put(update))
        .route("/applications/{id}/submit", post(submit))
        .route(
            "/applications/{id}/evidence",
            post(upload_evidence).get(list_evidence),
        )
        .route("/applications/{id}/evidence/{file}", get(download_evidence))
}

impl From<ApplicationError> for ApiError {
    fn from(e: ApplicationError) -> Self {
        match e {
            ApplicationError::NotFound => ApiError::not_found("application"),
            ApplicationError::NotDraft(_) => {
                ApiError::new(StatusCode::CONFLICT, "not_a_draft", e.to_string())
            }
            ApplicationError::Incomplete(errors) => {
                let first = errors.first().map(|e| e.field.clone()).unwrap_or_default();
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "application_incomplete",
                    format!(
                        "the application cannot be submitted yet: {}",
                        errors
                            .iter()
                            .map(|e| format!("{}: {}", e.field, e.message))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                )
                .with_field(first)
                .with_zh(format!(
                    "申请还不能提交：{}",
                    errors.iter().map(|e| e.zh.as_str()).collect::<String>()
                ))
                .with_details(serde_json::to_value(&errors).unwrap_or_default())
            }
            ApplicationError::Store(e) => ApiError::internal(e),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApplicantRegistration)]
pub(super) struct Registration {
    username: String,
    display_name: String,
    password: String,
}

/// An institution that wants to apply registers a login first; its user becomes the
/// institution's first user when its account is opened.
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Registration>,
) -> Result<Response, ApiError> {
    state.limit_attempts(ip)?;
    let id = state
        .register_applicant(
            &body.username,
            &body.display_name,
            &body.password,
            &request_id(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(super::service::UserCreated {
            user_id: id,
            username: body.username,
            role: Role::Applicant,
            organisation: None,
        }),
    )
        .into_response())
}

/// The data supply list (数据供给清单): every table an application may request.
async fn catalog(_caller: Caller) -> Json<Listed<CatalogTable>> {
    let items = catalog::Manifest::builtin()
        .tables
        .iter()
        .map(|t| CatalogTable {
            id: t.id.clone(),
            name_zh: t.name_zh.clone(),
            name_en: t.name_en.clone(),
            source_unit: t.source_unit.clone(),
            info_class: t.info_class.as_str(),
        })
        .collect();
    Json(Listed::all(items))
}

/// A table of the data supply list.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct CatalogTable {
    /// The name an application requests it by and a job's SQL reads it by.
    id: String,
    name_zh: String,
    name_en: String,
    /// The unit that supplies it.
    source_unit: String,
    /// Its class of information: basic, negative, positive, other or mixed.
    info_class: &'static str,
}

/// Loads an application the caller may `action`; one they may not see is "not found"
/// ([`platform::Platform::application`]).
pub(super) async fn visible(
    state: &AppState,
    caller: &Caller,
    id: &ApplicationId,
    action: Action,
) -> Result<Application, ApiError> {
    Ok(state.application(caller, id, action).await?)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(form): ApiJson<ApplicationForm>,
) -> Result<Response, ApiError> {
    let application = state
        .create_application(&caller, &form, &request_id())
        .await?;
    Ok((StatusCode::CREATED, Json(application)).into_response())
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Listed<Application>>, ApiError> {
    let limit = page.size()?;
    let after = page.after(1)?.map(|mut key| key.remove(0));
    // The cursor is the last id of the page as stored, before the reads are filtered.
    let (items, last) = state
        .applications_page(&caller, limit, after.as_deref())
        .await?;
    let next_cursor = last.map(|id| cursor(&[id.as_str()]));
    Ok(Json(Listed { items, next_cursor }))
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApplicationId>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(
        visible(&state, &caller, &id, Action::ReadApplication).await?,
    ))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApplicationId>,
    ApiJson(form): ApiJson<ApplicationForm>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(
        state
            .update_application(&caller, &id, &form, &request_id())
            .await?,
    ))
}

async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApplicationId>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(
        state
            .submit_own_application(&caller, &id, &request_id())
            .await?,
    ))
}

impl From<EvidenceError> for ApiError {
    fn from(e: EvidenceError) -> Self {
        match e {
            EvidenceError::Type(m) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_file_type",
                m,
            ),
            EvidenceError::TooLarge(m) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large", m)
            }
            EvidenceError::Name(m) => ApiError::invalid("filename", m),
            EvidenceError::NotDraft(_) => {
                ApiError::new(StatusCode::CONFLICT, "not_a_draft", e.to_string())
            }
            EvidenceError::NotFound => ApiError::not_found("evidence file"),
            EvidenceError::Store(e) => ApiError::internal(e),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct Upload {
    filename: Option<String>,
}

/// Uploads one evidence file: the raw bytes as the body, its type in Content-Type and
/// its name in `?filename=`.
async fn upload_evidence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApplicationId>,
    ApiQuery(upload): ApiQuery<Upload>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The declared type is refused before the body is read; the content is checked
    // against it once it has arrived.
    state
        .application(&caller, &id, Action::EditApplication)
        .await?;
    evidence::accepted_type(media_type)?;
    let content = axum::body::to_bytes(body, evidence::MAX_EVIDENCE_BYTES)
        .await
        .map_err(|_| evidence_too_large())?;
    let file = state
        .upload_evidence(
            &caller,
            &id,
            (upload.filename.as_deref().unwrap_or(""), media_type),
            &content,
            &request_id(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(file)).into_response())
}

/// An evidence file past the size limit.
pub(crate) fn evidence_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!(
            "an evidence file may be at most {} MiB",
            evidence::MAX_EVIDENCE_BYTES >> 20
        ),
    )
    .with_zh(format!(
        "证明材料每个文件最大 {} MiB。",
        evidence::MAX_EVIDENCE_BYTES >> 20
    ))
}

async fn list_evidence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApplicationId>,
) -> Result<Json<Listed<governance::evidence::EvidenceFile>>, ApiError> {
    Ok(Json(Listed::all(state.evidence_files(&caller, &id).await?)))
}

async fn download_evidence(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file)): Path<(ApplicationId, String)>,
) -> Result<Response, ApiError> {
    let (info, content) = state.evidence_file(&caller, &id, &file).await?;
    Ok(evidence_download(&info, content))
}

/// An evidence file as a download: never shown inline, its type not sniffed.
pub(crate) fn evidence_download(
    info: &governance::evidence::EvidenceFile,
    content: Vec<u8>,
) -> Response {
    let disposition = format!(
        "attachment; filename=\"evidence-{}\"; filename*=UTF-8''{}",
        info.id,
        percent_encode(&info.filename)
    );
    (
        [
            (header::CONTENT_TYPE, info.media_type.clone()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        content,
    )
        .into_response()
}

/// RFC 5987 encoding of a file name.
fn percent_encode(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl From<platform::applications::ApplicantFailure> for ApiError {
    fn from(e: platform::applications::ApplicantFailure) -> Self {
        use platform::applications::ApplicantFailure;
        match e {
            ApplicantFailure::Refused(e) => e.into(),
            ApplicantFailure::Application(e) => e.into(),
            ApplicantFailure::Evidence(e) => e.into(),
        }
    }
}
