//! The public service's case work: objections (BRIEF Q8) filed by the public, accepted
//! or returned by the service provider, handled in the queue of the record's source
//! unit, followed by the applicant with the token given at filing, and kept as a ledger
//! by the administrators; verification requests
//! of agencies and their feedback letters (Q7); the staff accounts behind both.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storage::ids::UserId;

use super::page::Listed;
use super::{ApiError, ApiJson, ApiQuery, AppState, request_id};
use desk::objections::{self, Filed, Filing, Objection, ObjectionError, Outcome};
use governance::identity::{Caller, Role};
use platform::objections::{Acceptance, ObjectionFailure};
use policies::access::Action;
use storage::states::ObjectionStatus;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/public/objections", post(file))
        .route("/public/objections/{number}", get(follow))
        .route("/objections", get(ledger).post(file_signed_in))
        .route("/objections/{id}", get(read))
        .route("/objections/{id}/acceptance", post(accept))
        .route("/objections/{id}/resolution", post(resolve))
        .route("/users", post(create_user).get(list_users))
        .route("/users/{id}/disable", post(disable_user))
        .route("/users/{id}/enable", post(enable_user))
        .route("/users/{id}/reset-second-factor", post(reset_second_factor))
        .route(
            "/users/{id}/revoke-credentials",
            post(revoke_user_credentials),
        )
        .route(
            "/verifications",
            post(verify_subjects).get(list_verifications),
        )
        .route("/verifications/{id}/letter", get(verification_letter))
}

impl From<ObjectionError> for ApiError {
    fn from(e: ObjectionError) -> Self {
        let zh = e.zh();
        let error: ApiError = match e {
            ObjectionError::Incomplete(faults) => {
                let details: Vec<Value> = faults
                    .iter()
                    .map(|(field, message)| json!({ "field": field, "message": message.en }))
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
            ObjectionError::NotReceived(_) => ApiError::new(
                StatusCode::CONFLICT,
                "objection_not_received",
                e.to_string(),
            ),
            ObjectionError::NotAccepted => ApiError::new(
                StatusCode::CONFLICT,
                "objection_not_accepted",
                e.to_string(),
            ),
            ObjectionError::NoReason => ApiError::invalid("reason", e.to_string()),
            ObjectionError::Records(_) | ObjectionError::Store(_) => ApiError::internal(e),
        };
        error.with_zh(zh)
    }
}

impl From<ObjectionFailure> for ApiError {
    fn from(e: ObjectionFailure) -> Self {
        let zh = e.zh();
        let error: ApiError = match e {
            ObjectionFailure::Objection(e) => e.into(),
            ObjectionFailure::Refused(e) => e.into(),
        };
        error.with_zh(zh)
    }
}

/// The receipt of a filed objection: what happens next, in words.
fn receipt(filed: &Filed) -> Response {
    let message = match (filed.status, filed.due_on) {
        (ObjectionStatus::Open, Some(due)) => format!(
            "objection {} accepted: the record is marked 异议处理中 and has been sent to {} for verification; it will be done by {}{}. Keep the token: it is shown only now and is needed to follow the objection.",
            filed.number,
            filed.source_unit,
            due,
            super::provisional_note(filed.due_provisional, due)
        ),
        _ => format!(
            "objection {} received: the service provider checks that it is complete and accurate (6.4.2). Once accepted, the record is marked 异议处理中 and sent to {} for verification, to be done within {} working days of the acceptance; if it is returned, following it says why. Keep the token: it is shown only now and is needed to follow the objection.",
            filed.number,
            filed.source_unit,
            objections::DEADLINE_WORKING_DAYS
        ),
    };
    (
        StatusCode::CREATED,
        Json(ObjectionReceipt {
            id: filed.id.clone(),
            number: filed.number.clone(),
            token: filed.token.clone(),
            status: filed.status,
            source_unit: filed.source_unit.clone(),
            due_on: filed.due_on,
            due_provisional: filed.due_provisional,
            message,
        }),
    )
        .into_response()
}

/// The receipt of an objection filed: shown once, with its token.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct ObjectionReceipt {
    /// The objection's id.
    id: String,
    /// Its number, to quote.
    number: String,
    /// The token that follows it: shown only now.
    token: String,
    /// `received`, or `open` when accepted at once.
    status: ObjectionStatus,
    /// The source unit that verifies it.
    source_unit: String,
    /// When it is due, once accepted.
    due_on: Option<chrono::NaiveDate>,
    /// Whether the due date was counted without the year's working-day calendar.
    due_provisional: bool,
    /// What happens next, for people.
    message: String,
}

/// Files an objection without signing in (6.4.2): every incomplete or malformed field
/// is named; the record must exist and belong to the applicant. It is received: the
/// record is marked only once the service provider accepts it.
async fn file(
    State(state): State<AppState>,
    ApiJson(filing): ApiJson<Filing>,
) -> Result<Response, ApiError> {
    let filed = state.file_objection(&filing, None, &request_id()).await?;
    Ok(receipt(&filed))
}

/// Files an objection signed in: a person to their own record, an institution's user
/// to the records of the enterprise it is, or staff recording one received by letter;
/// accepted as filed (the record marked and dispatched at once).
async fn file_signed_in(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(filing): ApiJson<Filing>,
) -> Result<Response, ApiError> {
    let filed = state
        .file_objection(&filing, Some(&caller), &request_id())
        .await?;
    Ok(receipt(&filed))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct FollowQuery {
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

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct LedgerQuery {
    status: Option<String>,
    #[serde(default)]
    overdue: bool,
}

/// The ledger: administrators see every objection, a source unit its own queue.
async fn ledger(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<LedgerQuery>,
) -> Result<Json<ObjectionLedger>, ApiError> {
    let ledger = state
        .objection_ledger(&caller, query.status.as_deref(), query.overdue)
        .await?;
    Ok(Json(ObjectionLedger {
        source_unit: ledger.source_unit,
        total: ledger.items.len(),
        items: ledger.items,
        next_cursor: None,
    }))
}

/// The objection ledger (the whole of it, on one page).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ObjectionLedger {
    /// The source unit whose objections these are; null for the whole ledger.
    source_unit: Option<String>,
    /// How many objections are listed.
    total: usize,
    items: Vec<Objection>,
    /// Always null: the ledger is one page.
    next_cursor: Option<String>,
}

async fn authorised(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
) -> Result<objections::Objection, ApiError> {
    Ok(state.objection(caller, id, action).await?)
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Resolution {
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
    Ok(Json(
        state
            .resolve_objection(&caller, &id, body.outcome, &body.resolution, &request_id())
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AcceptanceDecision)]
enum Decision {
    Accept,
    Return,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AcceptanceBody {
    decision: Decision,
    reason: Option<String>,
}

/// The service provider accepts (受理) a received objection after checking it, or
/// returns it (退回) with the reason.
async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AcceptanceBody>,
) -> Result<Json<objections::Objection>, ApiError> {
    let decision = match body.decision {
        Decision::Accept => Acceptance::Accept,
        Decision::Return => Acceptance::Return(body.reason.unwrap_or_default()),
    };
    Ok(Json(
        state
            .accept_objection(&caller, &id, &decision, &request_id())
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewStaff {
    username: String,
    display_name: String,
    password: String,
    role: String,
    organisation: Option<String>,
}

/// Administrators create the accounts of staff: administrators, reviewers, agency
/// staff (with their agency) and source-unit users (with their unit, as records name
/// it). Institutions, applicants and persons register themselves.
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewStaff>,
) -> Result<Response, ApiError> {
    let (id, role, organisation) = state
        .create_staff(
            &caller,
            platform::staff::NewStaff {
                username: &body.username,
                display_name: &body.display_name,
                password: &body.password,
                role: &body.role,
                organisation: body.organisation.as_deref(),
            },
            &request_id(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UserCreated {
            user_id: id,
            username: body.username,
            role,
            organisation,
        }),
    )
        .into_response())
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ServiceReason)]
pub(super) struct Reason {
    reason: String,
}

async fn administer(
    state: &AppState,
    caller: &Caller,
    id: &UserId,
    action: governance::identity::UserAction,
    reason: &str,
) -> Result<Json<Administered>, ApiError> {
    let revoked = state
        .administer(caller, id, action, reason, &request_id())
        .await?;
    Ok(Json(Administered {
        user_id: id.clone(),
        credentials_revoked: revoked,
    }))
}

/// A user administered.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Administered {
    /// The user.
    user_id: UserId,
    /// How many of their credentials were revoked.
    credentials_revoked: u64,
}

/// Administrators disable a user (every credential revoked, none issued until enabled).
async fn disable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<UserId>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Administered>, ApiError> {
    administer(
        &state,
        &caller,
        &id,
        governance::identity::UserAction::Disable,
        &body.reason,
    )
    .await
}

/// Administrators enable a disabled user again.
async fn enable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<UserId>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Administered>, ApiError> {
    administer(
        &state,
        &caller,
        &id,
        governance::identity::UserAction::Enable,
        &body.reason,
    )
    .await
}

/// Administrators revoke every session and API key of a user.
async fn revoke_user_credentials(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<UserId>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Administered>, ApiError> {
    administer(
        &state,
        &caller,
        &id,
        governance::identity::UserAction::RevokeCredentials,
        &body.reason,
    )
    .await
}

/// Administrators remove a user's second factor (a lost device); the user enrols again.
async fn reset_second_factor(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<UserId>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Administered>, ApiError> {
    administer(
        &state,
        &caller,
        &id,
        governance::identity::UserAction::ResetSecondFactor,
        &body.reason,
    )
    .await
}

/// Every user, for administrators.
async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Listed<governance::identity::UserInfo>>, ApiError> {
    Ok(Json(Listed::all(state.users(&caller).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct VerificationRequest {
    matter: String,
    letter_title: String,
    subjects: Vec<::public::verification::Listed>,
}

/// A verification letter just issued: what the check found and where the letter is.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct VerificationIssued {
    id: String,
    number: String,
    /// The moment the register was checked as of (RFC 3339).
    cut_off_at: String,
    /// What was found, subject by subject.
    results: Vec<::public::verification::Finding>,
    /// Where the letter (PDF) is downloaded.
    letter: String,
    /// SHA-256 of the letter's PDF.
    letter_sha256: String,
}

/// A verification letter in the ledger, with where it is downloaded.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct VerificationListed {
    #[serde(flatten)]
    listed: desk::verifications::Listed,
    /// Where the letter (PDF) is downloaded.
    letter: String,
}

/// Agency staff submit a verification request (Q7): the subjects are checked as of now
/// and the feedback letter of 附录B is issued and archived.
async fn verify_subjects(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<VerificationRequest>,
) -> Result<Response, ApiError> {
    let letter = state
        .issue_verification_letter(
            &caller,
            desk::verifications::Request {
                matter: &body.matter,
                letter_title: &body.letter_title,
                subjects: &body.subjects,
            },
            &request_id(),
        )
        .await?;
    let id = letter.id;
    Ok((
        StatusCode::CREATED,
        Json(VerificationIssued {
            letter: format!("/api/v1/verifications/{id}/letter"),
            id,
            number: letter.number,
            cut_off_at: letter.cut_off_at,
            results: letter.findings,
            letter_sha256: letter.letter_sha256,
        }),
    )
        .into_response())
}

/// Verifications of the caller's agency (administrators: all).
async fn list_verifications(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Listed<VerificationListed>>, ApiError> {
    let items = state
        .verifications(&caller)
        .await?
        .into_iter()
        .map(|listed| VerificationListed {
            letter: format!("/api/v1/verifications/{}/letter", listed.id),
            listed,
        })
        .collect();
    Ok(Json(Listed::all(items)))
}

/// The archived feedback letter (PDF), for its agency's staff and administrators.
async fn verification_letter(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    letter_download(state.verification_letter(&caller, &id).await?)
}

/// An archived feedback letter as a PDF download (for the API and the agency's pages).
pub(crate) fn letter_download(
    letter: platform::issuance::ArchivedLetter,
) -> Result<Response, ApiError> {
    let disposition = format!(
        "attachment; filename=\"verification-{}.pdf\"",
        letter.number
    );
    let mut response = (StatusCode::OK, letter.pdf).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/pdf"),
    );
    headers.insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_str(&disposition).map_err(ApiError::internal)?,
    );
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// A user just added: the login and its role.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct UserCreated {
    pub(super) user_id: UserId,
    pub(super) username: String,
    pub(super) role: Role,
    /// The agency or source unit the user belongs to; null for other roles.
    pub(super) organisation: Option<String>,
}

impl From<platform::staff::StaffFailure> for ApiError {
    fn from(e: platform::staff::StaffFailure) -> Self {
        match e {
            platform::staff::StaffFailure::Refused(e) => e.into(),
            platform::staff::StaffFailure::Identity(e) => e.into(),
        }
    }
}
