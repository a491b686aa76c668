//! The HTTP API (`/api/v1`, shared/API-CONVENTIONS.md) and the operational endpoints.

mod applications;
mod calendar;
mod clients;
mod error;
mod gate;
mod institutions;
mod json;
pub mod openapi;
mod own_data;
mod persons;
mod products;
mod public;
mod review;
mod service;
mod sessions;
mod tickets;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

pub(crate) use clients::ClientIp;
pub use clients::{LOGIN_ATTEMPTS_PER_MINUTE, Network, PublicRate, client_address};
use clients::{LoginLimiter, RateLimiter};
pub use error::{ApiError, request_id};
pub use json::{ApiJson, ApiQuery};

use policies::access::{AccessError, AccessPolicy, Action, InstitutionRef, Principal, Resource};

use crate::accounts::Quotas;
use crate::gate::GateSettings;
use crate::identity::{self, Caller};
use crate::reports::{self, ReportSchedule};
use crate::store::Store;
use crate::workspace::Workspaces;
use sandbox::JobLimits;

/// Largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 1 << 20;
/// The folder, in the workspaces folder, of compiled models (sealed; no institution's).
pub const COMPILED_MODELS_DIR: &str = ".compiled-models";
/// How often institutions' request counts are written.
const USAGE_FLUSH: Duration = Duration::from_secs(5);

/// How the platform is set up: where its data and workspaces are, and its defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The public-credit data folder (checked against the catalog at start).
    pub data_dir: PathBuf,
    /// The folder holding every institution's workspace.
    pub workspaces_dir: PathBuf,
    /// Jobs running at once, platform-wide.
    pub job_slots: usize,
    /// Limits of each job.
    pub job_limits: JobLimits,
    /// The program each running job is a process of: `creditpool job-worker`, by
    /// default the running binary's own.
    pub job_worker: crate::worker::WorkerCommand,
    /// Cores kept free of jobs for the public side and the server (the first ones it may
    /// use; jobs run on the others, or on every core when there are no others): 1 by
    /// default, 0 lets jobs run on every core.
    pub reserved_cores: usize,
    /// Quotas given to a newly opened account.
    pub default_quotas: Quotas,
    /// When progress reports are due.
    pub reports: ReportSchedule,
    /// Reviewers an application needs at least (BRIEF P3: three by default).
    pub min_reviewers: usize,
    /// The output gate: sample caps, thresholds and its secret.
    pub gate: GateSettings,
    /// Disclosure windows of the public side (BRIEF Q2).
    pub disclosure: policies::disclosure::Rules,
    /// How the public side presents itself (reports, letters).
    pub public: PublicSettings,
    /// Anonymous requests to `/api/v1/public/…` per client address.
    pub public_rate: PublicRate,
    /// The platform's own reverse proxies (addresses or networks): requests from them
    /// are attributed to the client their `X-Forwarded-For` names.
    pub trusted_proxies: Vec<Network>,
    /// The working-day calendar's shipped years; those added since are in the database.
    pub calendar: policies::calendar::Calendar,
    /// Who gives a second factor at login, and the key its secrets are sealed with.
    pub second_factor: crate::second_factor::SecondFactorSettings,
    /// Jobs may run where the kernel cannot confine their workers to their files (no
    /// Landlock); off by default, when such a server refuses to start.
    pub allow_unconfined_jobs: bool,
}

/// How the public side presents itself (BRIEF Q5, Q7).
#[derive(Clone, Debug)]
pub struct PublicSettings {
    /// The address the public reaches the platform at: report QR codes point here.
    pub base_url: String,
    /// The TrueType font (file or collection, face 0) reports and letters are set in.
    pub font: PathBuf,
    /// The issuer named on reports and letters (报告出具单位).
    pub issuer: String,
    /// Contact line of verification letters (联系人及联系方式).
    pub contact: String,
}

impl Default for PublicSettings {
    fn default() -> Self {
        PublicSettings {
            base_url: "http://127.0.0.1:8080".into(),
            font: ::public::pdf::DEFAULT_FONT.into(),
            issuer: "浙江省公共信用信息平台".into(),
            contact: "信用信息服务窗口，电话：0571-12345678".into(),
        }
    }
}

impl Settings {
    /// Defaults for data in `data_dir` and workspaces in `workspaces_dir`.
    pub fn new(data_dir: impl Into<PathBuf>, workspaces_dir: impl Into<PathBuf>) -> Settings {
        Settings {
            data_dir: data_dir.into(),
            workspaces_dir: workspaces_dir.into(),
            job_slots: 2,
            job_limits: JobLimits::default(),
            job_worker: crate::worker::WorkerCommand::current_exe(),
            reserved_cores: 1,
            default_quotas: Quotas::default(),
            reports: ReportSchedule::default(),
            min_reviewers: crate::review::MIN_REVIEWERS,
            gate: GateSettings::new(crate::gate::new_secret()),
            disclosure: policies::disclosure::Rules::default(),
            public: PublicSettings::default(),
            public_rate: PublicRate::default(),
            trusted_proxies: Vec::new(),
            calendar: policies::calendar::Calendar::builtin().clone(),
            second_factor: crate::second_factor::SecondFactorSettings::new(
                crate::gate::new_secret(),
            ),
            allow_unconfined_jobs: false,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The access rules do not load.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The data folder does not match the catalog.
    #[error("the public-credit data: {0}")]
    Catalog(#[from] catalog::CatalogError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The search index could not be built.
    #[error("building the search index: {0}")]
    Search(String),
    /// The workspaces' folder could not be made.
    #[error("creating the workspaces' folder {0}")]
    Workspaces(String),
    /// Job workers could not be confined on this machine.
    #[error("{0}")]
    Confinement(String),
}

/// What every handler can reach: one shared reference, cloned for every request.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The state behind [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// The platform database.
    pub store: Store,
    /// The access rules.
    pub access: Arc<AccessPolicy>,
    /// The institutions' workspaces and jobs.
    pub workspaces: Arc<Workspaces>,
    /// The platform's set-up.
    pub settings: Arc<Settings>,
    /// The public search index of enterprises and organisations (Q4).
    pub search: Arc<::public::search::Index>,
    /// The working-day calendar in force (Q8, Q9).
    pub calendars: Arc<crate::calendar::Calendars>,
    /// Objection marks of records and subjects, cached between changes (Q8).
    pub marks: Arc<crate::objections::Marks>,
    /// Every public record in memory, indexed by subject (Q1–Q7).
    pub records: Arc<::public::records::Records>,
    /// The lists and qualifications of the special queries (Q4).
    pub special: Arc<::public::special::Special>,
    /// Request measurements (Q10).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Institutions' requests per day, written every few seconds (P7).
    pub usage: Arc<reports::Usage>,
    /// The report font, loaded on first use (the server serves JSON without it).
    face: std::sync::OnceLock<Result<Arc<::public::pdf::Face>, String>>,
    /// One permit per core for rendering documents: under load, documents queue for a
    /// core rather than dozens of threads taking turns on two.
    renders: tokio::sync::Semaphore,
    limiter: LoginLimiter,
    public_limiter: RateLimiter,
    requests: RequestCounter,
}

impl AppState {
    /// State over an opened store: access rules loaded and validated, the data folder
    /// checked against the catalog, the job queue started.
    pub async fn start(store: Store, settings: Settings) -> Result<AppState, StartError> {
        let catalog = Arc::new(catalog::Catalog::open(&settings.data_dir)?);
        // The two are independent: decoded side by side, on both cores.
        let indexing = tokio::spawn({
            let catalog = catalog.clone();
            async move { ::public::search::Index::load(&catalog).await }
        });
        let records = ::public::records::Records::load(&catalog)
            .await
            .map_err(|e| StartError::Search(e.to_string()))?;
        let search = indexing
            .await
            .map_err(|e| StartError::Search(e.to_string()))?
            .map_err(|e| StartError::Search(e.to_string()))?;
        let (search, records) = (Arc::new(search), Arc::new(records));
        let special = Arc::new(::public::special::Special::load(&records));
        if crate::worker::landlock_abi().is_none() && !settings.allow_unconfined_jobs {
            return Err(StartError::Confinement(
                "this kernel has no Landlock, so job workers cannot be confined to their jobs' files: run on Linux 5.13 or later with landlock among the security modules (6.12 or later for every right), or set server.allow_unconfined_jobs = true to try the platform out without it".into(),
            ));
        }
        std::fs::create_dir_all(&settings.workspaces_dir).map_err(|e| {
            StartError::Workspaces(format!("{}: {e}", settings.workspaces_dir.display()))
        })?;
        let swept = crate::worker::sweep_staging(&settings.workspaces_dir);
        if swept > 0 {
            tracing::warn!(
                folders = swept,
                "staging folders of a previous process removed"
            );
        }
        let workspaces = Workspaces::start(
            store.clone(),
            catalog,
            settings.gate.secret.clone(),
            crate::workspace::JobSettings {
                slots: settings.job_slots,
                limits: settings.job_limits.clone(),
                worker: settings
                    .job_worker
                    .clone()
                    .on_cpus(crate::worker::job_cpus(settings.reserved_cores)),
                compiled_models: settings.workspaces_dir.join(COMPILED_MODELS_DIR),
                allow_unconfined: settings.allow_unconfined_jobs,
            },
        )
        .await?;
        let calendars =
            Arc::new(crate::calendar::Calendars::load(&store, settings.calendar.clone()).await?);
        let heartbeat_store = store.clone();
        tokio::spawn({
            let calendars = calendars.clone();
            async move {
                let mut every = tokio::time::interval(Duration::from_secs(60));
                loop {
                    every.tick().await;
                    if let Err(e) = crate::metrics::heartbeat(&heartbeat_store).await {
                        tracing::warn!("writing the heartbeat: {e}");
                    }
                    // A year added from the command line, or by another node (the
                    // first tick is at once: deadlines decided while the server was
                    // down are recounted at start).
                    if let Err(e) = calendars.refresh(&heartbeat_store).await {
                        tracing::warn!("reading the working-day calendar: {e}");
                    }
                }
            }
        });
        let usage = Arc::new(reports::Usage::default());
        tokio::spawn({
            let (usage, store) = (usage.clone(), store.clone());
            async move {
                let mut every = tokio::time::interval(USAGE_FLUSH);
                loop {
                    every.tick().await;
                    if let Err(e) = usage.flush(&store).await {
                        tracing::warn!("writing the usage counts: {e}");
                    }
                }
            }
        });
        let public_limiter = RateLimiter::new(settings.public_rate);
        Ok(AppState(Arc::new(Shared {
            store,
            access: Arc::new(AccessPolicy::load()?),
            workspaces,
            settings: Arc::new(settings),
            search,
            calendars,
            marks: Arc::default(),
            records,
            special,
            metrics: Arc::default(),
            usage,
            face: std::sync::OnceLock::new(),
            renders: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            ),
            limiter: LoginLimiter::default(),
            public_limiter,
            requests: RequestCounter::default(),
        })))
    }

    /// The report font; 503 naming the missing font when it cannot be loaded.
    pub fn face(&self) -> Result<Arc<::public::pdf::Face>, ApiError> {
        self.face
            .get_or_init(|| {
                let path = self.settings.public.font.to_string_lossy().into_owned();
                ::public::pdf::Face::load(&path, 0)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| {
                tracing::error!("{e}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "pdf_unavailable",
                    "PDF documents cannot be made at the moment: ask for format=html or json, or try later",
                )
            })
    }

    /// Runs `render` (a PDF, CPU-bound) on a blocking thread once a core is free.
    pub async fn render<T: Send + 'static>(
        &self,
        render: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _core = self.renders.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(render)
            .await
            .map_err(ApiError::internal)
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
            .with_details(serde_json::json!({ "retry_after_seconds": seconds }))
        })
    }

    /// Refuses with 403 unless the access rules allow `caller` to do `action` on
    /// `resource`. A suspended or terminated institution is told so.
    pub fn authorize(
        &self,
        caller: &Caller,
        action: Action,
        resource: &Resource,
    ) -> Result<(), ApiError> {
        let principal = principal(caller);
        if self
            .access
            .is_allowed(&principal, action, resource)
            .map_err(ApiError::internal)?
        {
            return Ok(());
        }
        if let Some(institution) = caller.institution_id.as_deref() {
            self.usage.count(institution, true);
        }
        match caller.institution_status.as_deref() {
            Some(status @ ("suspended" | "terminated")) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "institution_suspended",
                format!(
                    "your institution is {status}: it may only read its status (GET /api/v1/me) until it is reinstated"
                ),
            )),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "your role may not {} here",
                    action.as_str().replace('_', " ")
                ),
            )),
        }
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

/// Authorizes `action` on institution `id` for that institution's own users only
/// (uploads, releases, registrations): another institution's users are told it does not
/// exist, platform staff that only its users may do `what`.
pub(crate) fn own_institution(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
    what: &str,
) -> Result<(), ApiError> {
    if caller.role != identity::Role::Institution || caller.institution_id.as_deref() != Some(id) {
        if caller.role == identity::Role::Institution {
            return Err(ApiError::not_found("institution"));
        }
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("only the institution's own users {what}"),
        ));
    }
    state.authorize(
        caller,
        action,
        &Resource::Institution(InstitutionRef {
            id: id.into(),
            status: caller.institution_status.clone().unwrap_or_default(),
        }),
    )
}

/// Refuses, naming the field, any of `reviewer_ids` whom the access rules would not let
/// do `action` on the target built for them: a declared affiliation with the
/// institution under review is a conflict of interest.
pub(crate) async fn refuse_conflicts(
    state: &AppState,
    reviewer_ids: &[String],
    action: Action,
    target: impl Fn(&str) -> Resource,
    whose: &str,
) -> Result<(), ApiError> {
    for (i, reviewer) in reviewer_ids.iter().enumerate() {
        let principal = Principal {
            user_id: reviewer.clone(),
            role: "reviewer".into(),
            institution: None,
            affiliations: crate::review::affiliations(&state.store, reviewer).await?,
            ..Default::default()
        };
        let allowed = state
            .access
            .is_allowed(&principal, action, &target(reviewer))
            .map_err(ApiError::internal)?;
        if !allowed {
            return Err(ApiError::invalid(
                format!("reviewer_ids[{i}]"),
                format!(
                    "reviewer '{reviewer}' has declared an affiliation with {whose} and may not review it"
                ),
            ));
        }
    }
    Ok(())
}

/// The caller as the access rules see them.
pub(crate) fn principal(caller: &Caller) -> Principal {
    Principal {
        user_id: caller.user_id.clone(),
        role: caller.role.as_str().to_owned(),
        institution: caller
            .institution_id
            .clone()
            .zip(caller.institution_status.clone())
            .map(|(id, status)| InstitutionRef { id, status }),
        affiliations: caller.affiliations.clone(),
        organisation: caller.organisation.clone(),
        subject: caller.subject_id.clone(),
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
                .merge(public::routes())
                .merge(service::routes())
                .merge(persons::routes())
                .merge(tickets::routes())
                .merge(calendar::routes())
                .route("/quality", get(quality)),
        )
        // The API description and an offline Swagger UI (assets compiled in).
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/api/docs")
                .external_url_unchecked("/api/openapi.json", openapi::document()),
        )
        .route_layer(middleware::from_fn(tag_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BYTES))
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
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
            u64::from_le_bytes(crate::store::random_bytes::<8>()),
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
    let objections = crate::objections::completion(&state.store).await?;
    let tickets = crate::tickets::figures(&state.store).await?;
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
        ("creditpool_tickets_filed".into(), tickets.filed as f64),
        ("creditpool_tickets_overdue".into(), tickets.overdue as f64),
        (
            "creditpool_calendar_missing_year".into(),
            state
                .calendars
                .current()
                .missing_year(crate::store::china_today())
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

/// The service-quality view (Q10, Q11), for administrators.
async fn quality(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.authorize(&caller, Action::ReadServiceQuality, &Resource::Platform)?;
    let objections = crate::objections::completion(&state.store).await?;
    let open_in_time = objections.filed - objections.resolved - objections.overdue;
    let due = objections.filed - open_in_time;
    Ok(Json(serde_json::json!({
        "responses": state.metrics.summary(),
        "availability": crate::metrics::availability(&state.store).await?,
        "objections": {
            "figures": objections,
            "completion_rate": (due > 0).then(|| objections.resolved as f64 / due as f64),
            "target": 1.0,
        },
        "tickets": crate::tickets::figures(&state.store).await?,
        "calendar": calendar::status(&state),
        "security": {
            // Usernames under sustained failed logins (identity::ALERT_AT within a day),
            // each audited as security.login_alert.
            "login_alerts_24h": crate::identity::login_alerts(&state.store).await?,
        },
    })))
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

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ready" })).into_response(),
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

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_route",
        "no such endpoint; the API is described at /api/openapi.json",
    )
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
        let caller = identity::authenticate(&state.store, token).await?;
        if let Some(institution) = caller.institution_id.as_deref() {
            let limit = crate::accounts::quotas(&state.store, institution)
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
                .with_details(serde_json::json!({ "quota": "requests_per_minute", "retry_after_seconds": wait })));
            }
        }
        if let Some(institution) = caller.institution_id.as_deref() {
            // Measured usage for re-evaluation (BRIEF P7).
            state.usage.count(institution, false);
        }
        Ok(caller)
    }
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
