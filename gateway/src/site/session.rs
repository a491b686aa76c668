//! Signing in to the pages (issue 18): the login form, the session cookie and logout.
//! A page session is a session of the platform's own (the one `POST /api/v1/sessions`
//! opens: the same password check, lockout, second factor and expiry), its token kept
//! in an HttpOnly, SameSite=Strict cookie (Secure when the site is served over TLS) that
//! no script can read; logging out revokes it. Signed-in pages take [`SignedIn`], which
//! admits the caller exactly as the API admits a bearer token; every form that changes
//! anything is CSRF-checked ([`super::csrf`]).

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governance::identity::{self, Caller, Role};
use serde::Deserialize;

use super::csrf::{self, Checked, Posted, TokenOnly};
use super::{Chrome, Faults, PageError, render_with_token};
use crate::api::{ApiError, AppState, ClientIp, request_id};

/// The cookie holding the session's token.
pub(crate) const COOKIE_NAME: &str = "cp_session";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/me/password", get(password_form).post(change_password))
}

/// The caller of a signed-in page, admitted from the session cookie as the API admits a
/// bearer token. Without a live session the browser is sent to the login page, and
/// brought back here after it.
pub(crate) struct SignedIn(pub Caller);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let back = parts
            .uri
            .path_and_query()
            .map_or("/me", |p| p.as_str())
            .to_owned();
        let Some(token) = csrf::cookie(&parts.headers, COOKIE_NAME).filter(|t| well_formed(t))
        else {
            return Err(to_login(&back));
        };
        match crate::api::admit(state, token).await {
            Ok(caller) => Ok(SignedIn(caller)),
            Err(e) if e.status() == StatusCode::UNAUTHORIZED => {
                // Expired or revoked: the stale cookie goes too.
                let mut response = to_login(&back);
                csrf::set_cookie(state, &mut response, COOKIE_NAME, "", Some(0));
                Err(response)
            }
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

/// The signed-in caller if there is one, on a page anyone may use (a stale or missing
/// session is no one, never an error).
pub(crate) struct MaybeSignedIn(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeSignedIn {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        let Some(token) = csrf::cookie(&parts.headers, COOKIE_NAME).filter(|t| well_formed(t))
        else {
            return Ok(MaybeSignedIn(None));
        };
        Ok(MaybeSignedIn(crate::api::admit(state, token).await.ok()))
    }
}

/// A session token as the platform issues them (and no longer than any it issues).
fn well_formed(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// To the login page, to come back to `back`.
fn to_login(back: &str) -> Response {
    see_other(&format!("/login?next={}", super::encode(back)))
}

/// A redirect after a form (303: the browser follows it with GET).
pub(crate) fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Where a login may send the browser next: an address of this site only (a path, not
/// `//host` nor anything a browser reads as another host).
fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 512
        && !next.bytes().any(|b| b.is_ascii_control() || b == b'\\')
        && super::is_page(next.split('?').next().unwrap_or(next));
    ok.then_some(next)
}

/// The page a role lands on after logging in.
fn landing(role: Role) -> &'static str {
    match role {
        Role::AgencyStaff => "/agency/verifications",
        Role::SourceUnit => "/source/objections",
        Role::Institution => "/workspace",
        Role::Reviewer => "/review",
        Role::Administrator => "/console",
        Role::Applicant => "/apply",
        _ => "/me",
    }
}

#[derive(Template)]
#[template(path = "account/login.html")]
struct LoginPage {
    chrome: Chrome,
    csrf: String,
    username: String,
    next: String,
    faults: Faults,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// `GET /login`: the login form.
async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<NextQuery>, QueryRejection>,
) -> Response {
    let next = query
        .ok()
        .and_then(|Query(q)| q.next)
        .filter(|n| safe_next(n).is_some())
        .unwrap_or_default();
    render_with_token(&state, &headers, StatusCode::OK, |csrf| LoginPage {
        chrome: Chrome::new("me"),
        csrf,
        username: String::new(),
        next,
        faults: Faults::default(),
    })
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    one_time_code: String,
    #[serde(default)]
    next: String,
}

impl Posted for LoginForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// Recovery codes shown once, after the login that confirmed a second factor.
#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
struct RecoveryCodesPage {
    chrome: Chrome,
    codes: Vec<String>,
    next: String,
}

/// Recovery codes, shown once, then `next`; never cached.
pub(super) fn recovery_codes_page(codes: Vec<String>, next: String) -> Response {
    let mut page = super::render(&RecoveryCodesPage {
        chrome: Chrome::new("me"),
        codes,
        next,
    });
    page.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    page
}

/// The secret of a second factor being set up, as a QR code and as text, and the login
/// form whose first code of it confirms it (then `next`); never cached.
pub(super) fn enrol_page(
    state: &AppState,
    headers: &HeaderMap,
    username: String,
    next: String,
    enrolment: governance::second_factor::Enrolment,
) -> Response {
    let qr = format!(
        "data:image/svg+xml,{}",
        super::encode(&::public::html::qr_svg(&enrolment.otpauth_uri, 200))
    );
    let mut response = render_with_token(state, headers, StatusCode::OK, |csrf| EnrolPage {
        chrome: Chrome::new("me"),
        csrf,
        username,
        next,
        secret: enrolment.secret,
        qr,
        digits: enrolment.digits,
        period_seconds: enrolment.period_seconds,
    });
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /login`: checks the login as the API does; opens the session and sets its
/// cookie, then goes where the browser was going (or to the role's page). A refusal
/// shows the form again with the API's message, beside the one-time code when it is
/// about that, the login name kept and the password not.
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Checked(form): Checked<LoginForm>,
) -> Response {
    let next = safe_next(form.next.trim()).unwrap_or_default().to_owned();
    match open_session(
        &state,
        ip,
        &form.username,
        &form.password,
        &form.one_time_code,
    )
    .await
    {
        Ok((token, caller, recovery_codes)) => {
            let to = if next.is_empty() {
                landing(caller.role).to_owned()
            } else {
                next
            };
            let mut response = match recovery_codes {
                Some(codes) => recovery_codes_page(codes, to),
                None => see_other(&to),
            };
            csrf::set_cookie(&state, &mut response, COOKIE_NAME, &token, None);
            response
        }
        Err(error) if error.code() == "second_factor_enrolment_required" => {
            enrol(&state, ip, &headers, form.username, &form.password, next).await
        }
        Err(error) => {
            let status = error.status();
            let faults = Faults::of(&error, &["one_time_code"]);
            let username = form.username;
            render_with_token(&state, &headers, status, |csrf| LoginPage {
                chrome: Chrome::new("me"),
                csrf,
                username,
                next,
                faults,
            })
        }
    }
}

/// The page that sets up a second factor: its secret as a QR code and as text, and the
/// login form again, for the password and the first code of the new factor.
#[derive(Template)]
#[template(path = "account/enrol.html")]
struct EnrolPage {
    chrome: Chrome,
    csrf: String,
    username: String,
    next: String,
    secret: String,
    /// The QR code of the `otpauth://` URI, as an image address (`data:`).
    qr: String,
    digits: u32,
    period_seconds: i64,
}

/// A staff login whose second factor is required and not yet set up: starts its
/// enrolment as `POST /api/v1/sessions/second-factor` does (the password checked and
/// counted again) and shows the secret; the next login with one of its codes confirms it
/// and shows the recovery codes.
async fn enrol(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    username: String,
    password: &str,
    next: String,
) -> Response {
    let started = match state.attempt_from(ip) {
        Ok(client) => identity::start_second_factor(
            &state.store,
            &state.settings.second_factor,
            identity::LoginAttempt {
                username: username.trim(),
                password,
                one_time_code: None,
                client: &client,
            },
            &request_id(),
        )
        .await
        .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match started {
        Ok(enrolment) => enrol_page(state, headers, username, next, enrolment),
        Err(error) => {
            let status = error.status();
            let faults = Faults::of(&error, &["one_time_code"]);
            render_with_token(state, headers, status, |csrf| LoginPage {
                chrome: Chrome::new("me"),
                csrf,
                username,
                next,
                faults,
            })
        }
    }
}

/// A session opened for this login, as `POST /api/v1/sessions` opens one: its token, the
/// caller, and the recovery codes of a second factor the login confirmed.
pub(super) async fn open_session(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    username: &str,
    password: &str,
    one_time_code: &str,
) -> Result<(String, Caller, Option<Vec<String>>), ApiError> {
    let client = state.attempt_from(ip)?;
    let code = one_time_code.trim();
    let logged_in = identity::login(
        &state.store,
        &state.settings.second_factor,
        identity::LoginAttempt {
            username: username.trim(),
            password,
            one_time_code: (!code.is_empty()).then_some(code),
            client: &client,
        },
        &request_id(),
    )
    .await?;
    let caller = identity::authenticate(&state.store, &logged_in.issued.token).await?;
    Ok((logged_in.issued.token, caller, logged_in.recovery_codes))
}

/// `POST /logout`: revokes the session (it stops working at once, wherever its token
/// is), ends the cookie and goes home.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Checked(_): Checked<TokenOnly>,
) -> Result<Response, PageError> {
    if let Some(token) = csrf::cookie(&headers, COOKIE_NAME).filter(|t| well_formed(t))
        && let Ok(caller) = identity::authenticate(&state.store, token).await
    {
        identity::revoke(&state.store, &caller, &caller.credential_id, &request_id()).await?;
    }
    let mut response = see_other("/");
    csrf::set_cookie(&state, &mut response, COOKIE_NAME, "", Some(0));
    Ok(response)
}

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    chrome: Chrome,
    csrf: String,
    faults: Faults,
    /// How many other sessions the change ended, once it is done.
    done: Option<u64>,
}

/// `GET /me/password`: the form to change one's password.
async fn password_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(_): SignedIn,
) -> Response {
    render_with_token(&state, &headers, StatusCode::OK, |csrf| PasswordPage {
        chrome: Chrome::new("me"),
        csrf,
        faults: Faults::default(),
        done: None,
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: Option<String>,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
}

impl Posted for PasswordForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /me/password`: changes the password as `PUT /api/v1/me/password` does (the
/// current one checked and counted as a login attempt); every other session ends, this
/// one stays. Passwords are never shown again, refused or not.
async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<PasswordForm>,
) -> Response {
    let changed = if form.new_password != form.new_password_again {
        Err(ApiError::invalid(
            "new_password_again",
            "两次输入的新密码不一致，请重新输入。",
        ))
    } else {
        match state.attempt_from(ip) {
            Ok(client) => state
                .change_own_password(
                    &caller,
                    &form.current_password,
                    &form.new_password,
                    &client,
                    &request_id(),
                )
                .await
                .map_err(ApiError::from),
            Err(e) => Err(e),
        }
    };
    let (status, faults, done) = match changed {
        Ok(revoked) => (StatusCode::OK, Faults::default(), Some(revoked)),
        Err(error) => (
            error.status(),
            Faults::of(
                &error,
                &["current_password", "new_password", "new_password_again"],
            ),
            None,
        ),
    };
    render_with_token(&state, &headers, status, |csrf| PasswordPage {
        chrome: Chrome::new("me"),
        csrf,
        faults,
        done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_sends_the_browser_only_to_this_site() {
        assert_eq!(safe_next("/me/authorisations"), Some("/me/authorisations"));
        assert_eq!(safe_next("/persons/P1?x=1"), Some("/persons/P1?x=1"));
        for foreign in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "/api/v1/me",
            "",
        ] {
            assert!(safe_next(foreign).is_none(), "{foreign}");
        }
        assert!(safe_next("/a\r\nb").is_none());
    }
}
