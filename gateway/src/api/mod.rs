//! The HTTP API (`/api/v1`, docs/api-conventions.md) and the operational endpoints.

mod applications;
mod audit;
mod calendar;
mod clients;
pub(crate) mod disclosure;
mod error;
mod gate;
mod institutions;
mod json;
pub mod openapi;
mod own_data;
mod page;
mod persons;
mod products;
mod review;
pub(crate) mod service;
mod sessions;
mod tickets;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub(crate) use applications::{evidence_download, evidence_too_large};
pub(crate) use clients::ClientIp;
pub use clients::{LOGIN_ATTEMPTS_PER_MINUTE, Network, PublicRate, client_address};
use clients::{LoginLimiter, RateLimiter};
pub use error::{ApiError, request_id};
pub(crate) use gate::sample_file;
pub(crate) use institutions::{max_model_bytes, model_too_large};
pub use json::{ApiJson, ApiQuery};

use governance::accounts::Quotas;
use governance::identity::{self, Caller};
use platform::store::Store;
use policies::access::{Action, Resource};

pub use platform::{COMPILED_MODELS_DIR, Platform, PublicSettings, Settings, StartError};

/// Largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 1 << 20;

/// What every handler can reach: one shared reference, cloned for every request.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The state behind [`AppState`]: the platform, and what only HTTP needs (request
/// measurements, the per-address limiters, the per-institution request counter).
#[derive(Debug)]
pub struct Shared {
    /// The platform every front door shares.
    pub platform: Platform,
    /// Request measurements (Q10).
    pub metrics: Arc<crate::metrics::Metrics>,
    limiter: LoginLimiter,
    public_limiter: RateLimiter,
    requests: RequestCounter,
    /// Where the institutions' requests are served: below the public side's priority.
    background: workbench::priority::Background,
}

impl std::ops::Deref for Shared {
    type Target = Platform;

    fn deref(&self) -> &Platform {
        &self.platform
    }
}

impl AppState {
    /// The platform started over an opened store ([`Platform::start`]), served over
    /// HTTP.
    pub async fn start(store: Store, settings: Settings) -> Result<AppState, StartError> {
        let public_limiter = RateLimiter::new(settings.public_rate);
        Ok(AppState(Arc::new(Shared {
            platform: Platform::start(store, settings).await?,
            metrics: Arc::default(),
            limiter: LoginLimiter::default(),
            public_limiter,
            requests: RequestCounter::default(),
            background: workbench::priority::Background::start()
                .map_err(|e| StartError::Runtime(format!("the institutions' runtime: {e}")))?,
        })))
    }

    /// Counts a login or registration attempt from `ip`; 429 past the limit.
    pub fn limit_attempts(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(ip) = ip else {
            return Ok(());
        };
        self.limiter.allow(ip).map_err(|seconds| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many login or registration attempts from your address: at most {LOGIN_ATTEMPTS_PER_MINUTE} a minute; retry in {seconds} s"
                ),
            )
            .with_zh(format!(
                "您的地址登录或注册尝试过于频繁：每分钟最多 {LOGIN_ATTEMPTS_PER_MINUTE} 次，请 {seconds} 秒后再试。"
            ))
            .with_details(serde_json::json!({ "retry_after_seconds": seconds }))
        })
    }

    /// An attempt at a password or a code from `ip`: limited per address
    /// ([`Self::limit_attempts`]); answers the client as failed logins are counted by.
    pub fn attempt_from(&self, ip: Option<IpAddr>) -> Result<String, ApiError> {
        self.limit_attempts(ip)?;
        Ok(ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()))
    }
}

/// Counts each institution's API requests in one-minute windows (quota
/// `requests_per_minute`).
#[derive(Debug, Default)]
struct RequestCounter(Mutex<HashMap<String, (Instant, i64)>>);

impl RequestCounter {
    /// Counts a request; `Err(seconds until the window ends)` past `limit`.
    fn count(&self, institution: &str, limit: i64) -> Result<(), u64> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let entry = map.entry(institution.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > limit {
            return Err(60u64
                .saturating_sub(now.duration_since(entry.0).as_secs())
                .max(1));
        }
        Ok(())
    }
}

/// The whole application: API, health checks, request ids, JSON errors everywhere.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .nest(
            "/api/v1",
            sessions::routes()
                .merge(applications::routes())
                .merge(review::routes())
                .merge(institutions::routes())
                .merge(gate::routes())
                .merge(own_data::routes())
                .merge(products::routes())
                .merge(disclosure::routes())
                .merge(service::routes())
                .merge(persons::routes())
                .merge(tickets::routes())
                .merge(calendar::routes())
                .merge(audit::routes())
                .route("/quality", get(quality)),
        )
        // The API description and an offline Swagger UI (assets compiled in).
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/api/docs")
                .external_url_unchecked("/api/openapi.json", openapi::document()),
        )
        .route_layer(middleware::from_fn(tag_route))
        // The web pages: their own routes, beside the API's.
        .merge(crate::site::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            institutions_below_public,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            clients::limit_public,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), measure))
        .layer(middleware::from_fn(with_request_id))
        .with_state(state)
}

/// Serves `app` on `listener` until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let served = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await;
    if let Err(e) = state.usage.flush(&state.store).await {
        tracing::warn!("writing the usage counts at shutdown: {e}");
    }
    served
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Gives every request an id (the client's `x-request-id` if it is a sane one), serves
/// it inside a tracing span and the id's task-local scope, and returns the id.
async fn with_request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (8..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(fresh_request_id);
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let started = Instant::now();
    let mut response = error::REQUEST_ID
        .scope(id.clone(), async move {
            let _entered = span.enter();
            let response = next.run(request).await;
            tracing::info!(
                status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "served"
            );
            response
        })
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    // Nothing is cached but what says it may be (the pages' static files).
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A fresh request id, 32 hex digits: this process's random prefix, then a counter
/// through a four-round Feistel permutation whose rounds are SipHash under a random key
/// (Luby–Rackoff), so ids never repeat within a process, do not show how many requests
/// it served, and cost no call to the operating system's random source. Request ids
/// correlate logs; they guard nothing.
fn fresh_request_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEYS: LazyLock<(u64, RandomState)> = LazyLock::new(|| {
        (
            u64::from_le_bytes(platform::store::random_bytes::<8>()),
            RandomState::new(),
        )
    });
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (prefix, rounds) = &*KEYS;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let (mut left, mut right) = ((n >> 32) as u32, n as u32);
    for round in 0u8..4 {
        let f = rounds.hash_one((round, right)) as u32;
        (left, right) = (right, left ^ f);
    }
    format!(
        "{prefix:016x}{:016x}",
        (u64::from(left) << 32) | u64::from(right)
    )
}

/// Whether `path` is of the institutions' side: their workspaces (tables, own data,
/// models, jobs, releases, products), over the API and as pages, and the tracing of
/// releases.
fn institutions_side(path: &str) -> bool {
    path.starts_with("/api/v1/institutions/")
        || path == "/api/v1/releases/trace"
        || path == "/workspace"
        || path.starts_with("/workspace/")
}

/// Serves the institutions' side on the runtime below the public side's priority
/// (`workbench::priority`), in the request's id and span.
async fn institutions_below_public(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !institutions_side(request.uri().path()) {
        return next.run(request).await;
    }
    use tracing::Instrument;
    let id = error::request_id().to_string();
    let work = error::REQUEST_ID
        .scope(id, next.run(request))
        .instrument(tracing::Span::current());
    match state.background.run(work).await {
        Some(response) => response,
        None => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; retry in a moment",
        )
        .into_response(),
    }
}

/// Hands the matched route template out with the response, for [`measure`].
async fn tag_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Measures every request by method, route template and status (Q10).
async fn measure(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    state.metrics.record(
        method.as_str(),
        route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Prometheus metrics: requests, response times, case gauges.
/// Prometheus metrics, for administrators only (a scraper uses an administrator's API
/// key): per-route traffic and the objection and ticket figures are not public.
async fn metrics(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    state.authorize(&caller, Action::ReadServiceQuality, &Resource::Platform)?;
    let objections = desk::objections::completion(&state.store).await?;
    let tickets = desk::tickets::figures(&state.store).await?;
    let text = state.metrics.prometheus(&[
        (
            "creditpool_objections_filed".into(),
            objections.filed as f64,
        ),
        (
            "creditpool_objections_resolved".into(),
            objections.resolved as f64,
        ),
        (
            "creditpool_objections_overdue".into(),
            objections.overdue as f64,
        ),
        (
            "creditpool_objections_awaiting_acceptance".into(),
            objections.awaiting_acceptance as f64,
        ),
        ("creditpool_tickets_filed".into(), tickets.filed as f64),
        ("creditpool_tickets_overdue".into(), tickets.overdue as f64),
        (
            "creditpool_calendar_missing_year".into(),
            state
                .calendars
                .current()
                .missing_year(platform::store::china_today())
                .map_or(0.0, f64::from),
        ),
        (
            "creditpool_deadlines_provisional".into(),
            (objections.provisional + tickets.provisional) as f64,
        ),
    ]);
    let mut response = text.into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// The service-quality view (Q10, Q11).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Quality {
    /// Response times and errors since the server started.
    pub(crate) responses: crate::metrics::Responses,
    /// Availability over the last 365 days.
    pub(crate) availability: crate::metrics::Availability,
    pub(crate) objections: ObjectionQuality,
    /// Tickets (complaints and requests) and their handling.
    pub(crate) tickets: desk::tickets::Figures,
    pub(crate) calendar: calendar::CalendarStatus,
    pub(crate) security: Security,
}

/// Objections and their completion (the standard's target: all completed in time).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ObjectionQuality {
    pub(crate) figures: desk::objections::Completion,
    /// Resolved among those due (resolved or past their deadline); null when none is due.
    pub(crate) completion_rate: Option<f64>,
    pub(crate) target: f64,
}

/// Security figures of the quality view.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Security {
    /// Usernames under sustained failed logins within the last day (each audited as
    /// `security.login_alert`).
    pub(crate) login_alerts_24h: i64,
}

/// The service-quality view (Q10, Q11), for administrators.
async fn quality(State(state): State<AppState>, caller: Caller) -> Result<Json<Quality>, ApiError> {
    Ok(Json(quality_report(&state, &caller).await?))
}

/// The service-quality figures (Q10, Q11), for administrators: the API's and the
/// console's.
pub(crate) async fn quality_report(state: &AppState, caller: &Caller) -> Result<Quality, ApiError> {
    state.authorize(caller, Action::ReadServiceQuality, &Resource::Platform)?;
    let objections = desk::objections::completion(&state.store).await?;
    // Resolved ones and those past their deadline are due; received ones await the
    // provider's check, returned ones were never accepted.
    let due = objections.resolved + objections.overdue;
    Ok(Quality {
        responses: state.metrics.summary(),
        availability: crate::metrics::availability(&state.store).await?,
        objections: ObjectionQuality {
            completion_rate: (due > 0).then(|| objections.resolved as f64 / due as f64),
            figures: objections,
            target: 1.0,
        },
        tickets: desk::tickets::figures(&state.store).await?,
        calendar: calendar::status(state),
        security: Security {
            login_alerts_24h: governance::identity::login_alerts(&state.store).await?,
        },
    })
}

/// What a receipt adds to a provisional deadline.
pub(crate) fn provisional_note(provisional: bool, due_on: chrono::NaiveDate) -> String {
    if provisional {
        format!(
            " (provisional: the working-day calendar of {} is not yet published, so the days were counted Monday to Friday; the deadline is recounted when it is)",
            chrono::Datelike::year(&due_on)
        )
    } else {
        String::new()
    }
}

/// The state of the process or of its database.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// `ok` (the process answers) or `ready` (the database answers).
    status: &'static str,
}

async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(Health { status: "ready" }).into_response(),
        Err(e) => {
            tracing::warn!("not ready: {e}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the database does not answer",
            )
            .into_response()
        }
    }
}

/// An unknown address: a page saying so to a browser, the API's error to anyone else.
async fn not_found(request: Request) -> Response {
    if crate::site::wants_page(request.uri().path(), request.headers()) {
        return crate::site::not_found();
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_route",
        "no such endpoint; the API is described at /api/openapi.json",
    )
    .into_response()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method",
    )
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthenticated("log in first: send 'Authorization: Bearer <token>'")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or_else(|| {
                ApiError::unauthenticated("the Authorization header must be 'Bearer <token>'")
            })?;
        admit(state, token).await
    }
}

/// The caller whose session or key `token` is, admitted under their institution's
/// request quota (counted in its measured usage, BRIEF P7): for the API's bearer tokens
/// and the pages' session cookie alike.
pub(crate) async fn admit(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let caller = identity::authenticate(&state.store, token).await?;
    if let Some(institution) = &caller.institution_id {
        let limit = governance::accounts::quotas(&state.store, institution)
            .await?
            .map_or(Quotas::default().requests_per_minute, |q| {
                q.requests_per_minute
            });
        if let Err(wait) = state.requests.count(institution, limit) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "quota_exceeded",
                format!(
                    "quota requests_per_minute: your institution has made more than {limit} requests this minute; wait {wait} s"
                ),
            )
            .with_zh(format!(
                "本机构本分钟的请求已超过 {limit} 次（每分钟请求配额），请 {wait} 秒后再试。"
            ))
            .with_details(serde_json::json!({ "quota": "requests_per_minute", "retry_after_seconds": wait })));
        }
    }
    if let Some(institution) = &caller.institution_id {
        // Measured usage for re-evaluation (BRIEF P7).
        state.usage.count(institution, false);
    }
    Ok(caller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_hex_of_one_prefix() {
        let ids: Vec<String> = (0..100_000).map(|_| fresh_request_id()).collect();
        assert!(
            ids.iter()
                .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        assert_eq!(
            ids.iter().collect::<std::collections::HashSet<_>>().len(),
            ids.len()
        );
        assert!(ids.iter().all(|id| id[..16] == ids[0][..16]));
        // The counter does not show through: consecutive ids differ in most digits.
        let alike = ids
            .windows(2)
            .map(|w| {
                w[0][16..]
                    .bytes()
                    .zip(w[1][16..].bytes())
                    .filter(|(a, b)| a == b)
                    .count()
            })
            .max()
            .unwrap_or(0);
        assert!(alike < 12, "{alike} of 16 digits alike");
    }
}
