//! Logging in and out, the caller, and API keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::page::Listed;
use super::{ApiError, ApiJson, AppState, ClientIp, request_id};
use policies::access::{Action, Resource};

use governance::identity::{self, Caller};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sessions", post(login))
        .route("/sessions/current", delete(logout))
        .route("/sessions/second-factor", post(start_second_factor))
        .route("/me/second-factor", post(start_own_second_factor))
        .route("/me/recovery-codes", post(renew_recovery_codes))
        .route("/me", get(me))
        .route("/api-keys", post(create_api_key).get(list_api_keys))
        .route("/api-keys/{id}", delete(revoke_api_key))
        .route("/api-keys/{id}/rotate", post(rotate_api_key))
        .route("/me/password", put(change_password))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Login {
    username: String,
    password: String,
    /// The six digits of the user's authenticator app, or a recovery code.
    one_time_code: Option<String>,
}

impl Login {
    fn attempt<'a>(&'a self, client: &'a str) -> identity::LoginAttempt<'a> {
        identity::LoginAttempt {
            username: &self.username,
            password: &self.password,
            one_time_code: self.one_time_code.as_deref(),
            client,
        }
    }
}

/// A session opened.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct LoggedIn {
    /// The session token: `Authorization: Bearer <token>`.
    token: String,
    /// When it expires.
    expires_at: Option<String>,
    /// Who logged in.
    user: Caller,
    /// The recovery codes of a second factor this login confirmed: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
    /// What to do with them.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes_note: Option<&'static str>,
}

/// New recovery codes, shown once.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct RecoveryCodes {
    /// Each logs in once in place of a code.
    recovery_codes: Vec<String>,
}

/// A password changed.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct PasswordChanged {
    /// How many of the user's other sessions were revoked.
    sessions_revoked: u64,
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    let client = state.attempt_from(ip)?;
    let logged_in = identity::login(
        &state.store,
        &state.settings.second_factor,
        body.attempt(&client),
        &request_id(),
    )
    .await?;
    let caller = identity::authenticate(&state.store, &logged_in.issued.token).await?;
    let recovery_codes_note = logged_in.recovery_codes.as_ref().map(|_| {
        "your second factor is enrolled. Keep these recovery codes somewhere safe: each logs you in once in place of a code, if you lose your authenticator; they are not shown again"
    });
    let answer = LoggedIn {
        token: logged_in.issued.token,
        expires_at: logged_in.issued.expires_at,
        user: caller,
        recovery_codes: logged_in.recovery_codes,
        recovery_codes_note,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Starts enrolling a second factor (TOTP) for the user whose username and password
/// these are: answers its secret, once; the next login with one of its codes confirms it.
async fn start_second_factor(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    let client = state.attempt_from(ip)?;
    let enrolment = identity::start_second_factor(
        &state.store,
        &state.settings.second_factor,
        body.attempt(&client),
        &request_id(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(enrolment)).into_response())
}

/// Starts enrolling a second factor for the caller: answers its secret, once; the next
/// login with one of its codes confirms it.
async fn start_own_second_factor(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let enrolment = state
        .start_own_second_factor(&caller, &request_id())
        .await?;
    Ok((StatusCode::CREATED, Json(enrolment)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecoveryRenewal {
    /// A code of the caller's authenticator app.
    one_time_code: String,
}

/// Replaces the caller's recovery codes by new ones (the old stop working), after a
/// code of their authenticator app.
async fn renew_recovery_codes(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(body): ApiJson<RecoveryRenewal>,
) -> Result<Response, ApiError> {
    let client = state.attempt_from(ip)?;
    let codes = state
        .renew_recovery_codes(&caller, &body.one_time_code, &client, &request_id())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(RecoveryCodes {
            recovery_codes: codes,
        }),
    )
        .into_response())
}

async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    identity::revoke(&state.store, &caller, &caller.credential_id, &request_id()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Caller>, ApiError> {
    state.authorize(&caller, Action::ReadOwnStatus, &Resource::Platform)?;
    Ok(Json(caller))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewApiKey {
    name: String,
    /// Days until the key expires: 90 by default, 1 to 365.
    expires_in_days: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password and revokes the caller's other sessions.
async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<PasswordChanged>, ApiError> {
    // Guesses at the current password are limited like logins.
    let client = state.attempt_from(ip)?;
    let revoked = state
        .change_own_password(
            &caller,
            &body.current_password,
            &body.new_password,
            &client,
            &request_id(),
        )
        .await?;
    Ok(Json(PasswordChanged {
        sessions_revoked: revoked,
    }))
}

/// Replaces an API key by a new one of the same name (and a new lifetime); the old one
/// stops working at once.
async fn rotate_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match state.rotate_api_key(&caller, &id, &request_id()).await? {
        Some(issued) => Ok((StatusCode::CREATED, Json(issued)).into_response()),
        None => Err(ApiError::not_found("API key")),
    }
}

async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewApiKey>,
) -> Result<Response, ApiError> {
    let issued = state
        .create_api_key(&caller, &body.name, body.expires_in_days, &request_id())
        .await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

async fn list_api_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Listed<identity::CredentialInfo>>, ApiError> {
    Ok(Json(Listed::all(state.api_keys(&caller).await?)))
}

async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.revoke_api_key(&caller, &id, &request_id()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("API key"))
    }
}
