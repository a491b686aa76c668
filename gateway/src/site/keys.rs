//! The signed-in user's own credentials: API keys (`/me/api-keys`), for scripts and
//! scrapers (an administrator's key reads `/metrics`), listed with their name, creation,
//! expiry and last use, created with a name and a lifetime, rotated, revoked, a new
//! key's token shown once on the page that made it; and the second factor
//! (`/me/second-factor`), set up from the session by anyone who wants one (staff are
//! made to at login), with new recovery codes after a code of the app. Every rule is the
//! platform's (`platform::credentials`), as through `/api/v1/api-keys` and
//! `/api/v1/me/…`.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use governance::identity::{Caller, Issued};
use serde::Deserialize;

use super::csrf::{Checked, Posted, TokenOnly};
use super::session::{SignedIn, see_other};
use super::{Chrome, Faults, PageError, moment, render_with_token};
use crate::api::{ApiError, AppState, ClientIp, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/me/api-keys", get(keys).post(create))
        .route("/me/api-keys/{id}/rotate", post(rotate))
        .route("/me/api-keys/{id}/revoke", post(revoke))
        .route("/me/second-factor", get(factor).post(start_factor))
        .route("/me/recovery-codes", post(renew_codes))
}

/// A key as listed.
struct KeyLine {
    id: String,
    name: String,
    created: String,
    expires: String,
    used: String,
}

#[derive(Template)]
#[template(path = "account/api_keys.html")]
struct KeysPage {
    chrome: Chrome,
    csrf: String,
    keys: Vec<KeyLine>,
    /// A token just issued, shown once: (name, token, expires).
    issued: Option<(String, String, String)>,
    /// The form as typed: (name, days).
    typed: (String, String),
    faults: Faults,
    done: Option<&'static str>,
}

async fn keys_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    (issued, typed, faults): (Option<(String, Issued)>, (String, String), Faults),
    status: StatusCode,
    done: Option<&'static str>,
) -> Result<Response, PageError> {
    let keys = state
        .api_keys(caller)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|k| KeyLine {
            created: moment(&k.created_at),
            expires: k.expires_at.as_deref().map_or("不过期".into(), moment),
            used: k.last_used_at.as_deref().map_or("从未使用".into(), moment),
            id: k.id,
            name: k.name,
        })
        .collect();
    let issued = issued.map(|(name, i)| {
        let expires = i.expires_at.as_deref().map_or(String::new(), moment);
        (name, i.token, expires)
    });
    Ok(render_with_token(state, headers, status, |csrf| KeysPage {
        chrome: Chrome::new("me"),
        csrf,
        keys,
        issued,
        typed,
        faults,
        done,
    }))
}

/// `GET /me/api-keys`: the caller's keys, and the form that makes one.
async fn keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    query: Result<Query<RevokedQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let done = query
        .ok()
        .and_then(|Query(q)| q.revoked)
        .map(|_| "已撤销：该密钥即时失效。");
    let typed = (String::new(), "90".to_owned());
    let shown = (None, typed, Faults::default());
    keys_page(&state, &headers, &caller, shown, StatusCode::OK, done).await
}

#[derive(Deserialize)]
struct RevokedQuery {
    revoked: Option<String>,
}

#[derive(Deserialize)]
struct NewKeyForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    days: String,
}

impl Posted for NewKeyForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /me/api-keys`: a new key, its token shown once on the answer; a refusal beside
/// its field.
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<NewKeyForm>,
) -> Result<Response, PageError> {
    let typed = (form.name.clone(), form.days.clone());
    let days = match form.days.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(days) => Some(days),
            Err(_) => {
                let faults = Faults::field("expires_in_days", "有效期请填写天数（整数）。");
                let shown = (None, typed, faults);
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                return keys_page(&state, &headers, &caller, shown, status, None).await;
            }
        },
    };
    match state
        .create_api_key(&caller, &form.name, days, &request_id())
        .await
    {
        Ok(issued) => {
            let shown = (
                Some((form.name.trim().to_owned(), issued)),
                (String::new(), "90".into()),
                Faults::default(),
            );
            keys_page(&state, &headers, &caller, shown, StatusCode::CREATED, None).await
        }
        Err(e) => {
            let error = ApiError::from(e);
            if error.status().is_server_error() || error.status() == StatusCode::FORBIDDEN {
                return Err(error.into());
            }
            let faults = Faults::of(&error, &["name", "expires_in_days"]);
            let status = error.status();
            keys_page(
                &state,
                &headers,
                &caller,
                (None, typed, faults),
                status,
                None,
            )
            .await
        }
    }
}

/// `POST /me/api-keys/{id}/rotate`: the key replaced by a new one of the same name, its
/// token shown once; the old stops at once.
async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Checked(_): Checked<TokenOnly>,
) -> Result<Response, PageError> {
    let name = state
        .api_keys(&caller)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .find(|k| k.id == id)
        .map(|k| k.name);
    let issued = state
        .rotate_api_key(&caller, &id, &request_id())
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    let shown = (
        Some((name.unwrap_or_default(), issued)),
        (String::new(), "90".into()),
        Faults::default(),
    );
    keys_page(&state, &headers, &caller, shown, StatusCode::CREATED, None).await
}

/// `POST /me/api-keys/{id}/revoke`: the key stops at once.
async fn revoke(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Checked(_): Checked<TokenOnly>,
) -> Result<Response, PageError> {
    if state
        .revoke_api_key(&caller, &id, &request_id())
        .await
        .map_err(ApiError::from)?
    {
        Ok(see_other("/me/api-keys?revoked=1"))
    } else {
        Err(ApiError::not_found("API key").into())
    }
}

// ---------------------------------------------------------------------------------
// The second factor of one's own account.

#[derive(Template)]
#[template(path = "account/second_factor.html")]
struct FactorPage {
    chrome: Chrome,
    csrf: String,
    /// Since when it is confirmed, if it is.
    since: Option<String>,
    faults: Faults,
}

async fn factor_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    faults: Faults,
    status: StatusCode,
) -> Result<Response, PageError> {
    let since = state
        .own_second_factor(caller)
        .await
        .map_err(ApiError::from)?
        .as_deref()
        .map(moment);
    Ok(render_with_token(state, headers, status, |csrf| {
        FactorPage {
            chrome: Chrome::new("me"),
            csrf,
            since,
            faults,
        }
    }))
}

/// `GET /me/second-factor`: whether the account has a second factor, the button that
/// sets one up, and new recovery codes for one that has.
async fn factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    factor_page(&state, &headers, &caller, Faults::default(), StatusCode::OK).await
}

/// `POST /me/second-factor`: starts setting one up (as `POST /api/v1/me/second-factor`):
/// its secret as a QR code, and the login whose first code confirms it.
async fn start_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(_): Checked<TokenOnly>,
) -> Result<Response, PageError> {
    match state.start_own_second_factor(&caller, &request_id()).await {
        Ok(enrolment) => Ok(super::session::enrol_page(
            &state,
            &headers,
            caller.username.clone(),
            "/me/second-factor".into(),
            enrolment,
        )),
        Err(e) => {
            let error = ApiError::from(e);
            if error.status().is_server_error() || error.status() == StatusCode::FORBIDDEN {
                return Err(error.into());
            }
            let faults = Faults::of(&error, &[]);
            let status = error.status();
            factor_page(&state, &headers, &caller, faults, status).await
        }
    }
}

#[derive(Deserialize)]
struct CodeForm {
    csrf: Option<String>,
    #[serde(default)]
    one_time_code: String,
}

impl Posted for CodeForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /me/recovery-codes`: new recovery codes after a code of the authenticator app,
/// shown once; the old stop.
async fn renew_codes(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<CodeForm>,
) -> Result<Response, PageError> {
    let renewed = match state.attempt_from(ip) {
        Ok(client) => state
            .renew_recovery_codes(&caller, &form.one_time_code, &client, &request_id())
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match renewed {
        Ok(codes) => Ok(super::session::recovery_codes_page(
            codes,
            "/me/second-factor".into(),
        )),
        Err(error) => {
            if error.status().is_server_error() || error.status() == StatusCode::FORBIDDEN {
                return Err(error.into());
            }
            let faults = Faults::of(&error, &["one_time_code"]).general_on("one_time_code");
            let status = error.status();
            factor_page(&state, &headers, &caller, faults, status).await
        }
    }
}
