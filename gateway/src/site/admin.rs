//! Administrators' pages for the workflow (issue 19, BRIEF P3, P8): the applications by
//! state, with the approved ones' accounts opened in one action (every refused id
//! named); an application's or a product's page with reviewers to assign (a conflict of
//! interest refused with the reason) and the decision to record, the reviews side by
//! side; the products by state. Every rule is the platform's (`platform::review`), as
//! through the API.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use desk::tickets::{NewTicket, TicketError};
use governance::accounts::{AccountError, QUOTA_RULES};
use governance::identity::Caller;
use governance::progress::Measures;
use platform::institutions::InstitutionFailure;
use platform::review::ReviewFailure;
use platform::tickets::TicketFailure;
use serde::Deserialize;
use storage::ids::{ApplicationId, InstitutionId, ProductId, UserId};
use storage::states::InstitutionStatus;

use super::csrf::{Checked, Posted};
use super::review::{Shown, application_page, product_page, status_zh};
use super::session::{SignedIn, see_other};
use super::{Chrome, PageError, moment, render_with_token};
use crate::api::{ApiError, AppState, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/applications", get(applications))
        .route("/console/applications/open", post(open))
        .route("/console/applications/{id}", get(application))
        .route(
            "/console/applications/{id}/reviewers",
            post(assign_application),
        )
        .route(
            "/console/applications/{id}/decision",
            post(decide_application),
        )
        .route("/console/products", get(products))
        .route("/console/products/{id}", get(product))
        .route("/console/products/{id}/reviewers", post(assign_product))
        .route("/console/products/{id}/decision", post(decide_product))
        .route("/console/quality", get(quality))
        .route("/console/objections", get(objections))
        .route("/console/verifications", get(verifications))
        .route("/console/tickets", get(tickets))
        .route("/console/tickets/new", post(record_ticket))
        .route("/console/tickets/{id}/answer", post(answer_ticket))
        .route("/console/tickets/{id}/extension", post(extend_ticket))
        .route(
            "/console/objections/{id}/acceptance",
            post(accept_objection),
        )
        .route("/console/users", get(users).post(create_staff))
        .route("/console/users/{id}", post(administer))
        .route("/console/institutions", get(institutions))
        .route("/console/institutions/{id}", get(institution))
        .route("/console/institutions/{id}/suspend", post(suspend))
        .route("/console/institutions/{id}/reinstate", post(reinstate))
        .route("/console/institutions/{id}/terminate", post(terminate))
        .route("/console/institutions/{id}/quotas", post(set_quotas))
        .route("/console/institutions/{id}/evaluations", post(evaluate))
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage {
    chrome: Chrome,
    waiting: usize,
    deciding: usize,
    to_open: usize,
    products_waiting: usize,
}

/// `GET /console`: what awaits the administrator, and where everything is.
async fn home(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    let all = state
        .applications(&caller, 500, None)
        .await
        .map_err(ApiError::from)?;
    let count = |status: &str| all.iter().filter(|a| a.status.as_str() == status).count();
    let products = state.all_products(&caller).await.map_err(ApiError::from)?;
    Ok(super::render(&HomePage {
        chrome: Chrome::new("console"),
        waiting: count("submitted"),
        deciding: count("under_review"),
        to_open: count("approved"),
        products_waiting: products
            .iter()
            .filter(|p| matches!(p.status.as_str(), "registered" | "under_review"))
            .count(),
    }))
}

/// An application in the queue.
struct Row {
    id: String,
    name: String,
    uscc: String,
    status: &'static str,
    at: String,
    /// Whether its account may be opened (approved).
    openable: bool,
}

#[derive(Template)]
#[template(path = "console/applications.html")]
struct ApplicationsPage {
    chrome: Chrome,
    csrf: String,
    show: super::Tab,
    rows: Vec<Row>,
    /// The batch just opened, or the refusal of the batch with each id at fault.
    opened: Vec<String>,
    refused: Option<String>,
    refused_ids: Vec<String>,
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    show: Option<String>,
    opened: Option<String>,
}

/// The states the queue can show.
const SHOWN: [&str; 5] = ["submitted", "under_review", "approved", "rejected", "all"];

async fn applications_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    show: &str,
    (opened, refused, refused_ids): (Vec<String>, Option<String>, Vec<String>),
    status: StatusCode,
) -> Result<Response, PageError> {
    let show = if SHOWN.contains(&show) {
        show
    } else {
        "submitted"
    };
    let rows = state
        .applications(caller, 500, None)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .filter(|a| a.status.as_str() != "draft")
        .filter(|a| show == "all" || a.status.as_str() == show)
        .map(|a| Row {
            id: a.id.to_string(),
            name: a.form.institution_name.clone().unwrap_or_default(),
            uscc: a.form.uscc.clone().unwrap_or_default(),
            status: status_zh(a.status.as_str()),
            at: a.submitted_at.as_deref().map(moment).unwrap_or_default(),
            openable: a.status.as_str() == "approved",
        })
        .collect();
    Ok(render_with_token(state, headers, status, |csrf| {
        ApplicationsPage {
            chrome: Chrome::new("console"),
            csrf,
            show: super::Tab(show.to_owned()),
            rows,
            opened,
            refused,
            refused_ids,
        }
    }))
}

/// `GET /console/applications?show=`: the applications in one state (`submitted` by
/// default, `under_review`, `approved`, `rejected`, `all`).
async fn applications(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let opened = query.opened.map(|n| vec![n]).unwrap_or_default();
    applications_page(
        &state,
        &headers,
        &caller,
        query.show.as_deref().unwrap_or("submitted"),
        (opened, None, Vec::new()),
        StatusCode::OK,
    )
    .await
}

/// A form of ticked boxes (`pick:ID`) and other fields.
#[derive(Deserialize)]
struct PickForm {
    csrf: Option<String>,
    #[serde(flatten)]
    fields: HashMap<String, String>,
}

impl Posted for PickForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl PickForm {
    /// The ids ticked, in a stable order.
    fn picked(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .fields
            .keys()
            .filter_map(|k| k.strip_prefix("pick:"))
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids
    }

    fn get(&self, field: &str) -> &str {
        self.fields.get(field).map_or("", |v| v.trim())
    }
}

/// `POST /console/applications/open`: opens the accounts of the ticked approved
/// applications, all or none; a refusal names every id at fault.
async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    let ids: Vec<ApplicationId> = form
        .picked()
        .iter()
        .map(|id| ApplicationId::from(id.as_str()))
        .collect();
    let refusal = if ids.is_empty() {
        Err((
            ApiError::invalid("application_ids", "tick at least one application")
                .with_zh("请至少勾选一个已批准的申请。"),
            Vec::new(),
        ))
    } else {
        state
            .open_accounts(&caller, &ids, &request_id())
            .await
            .map_err(|failure| {
                // Every application refused, named in Chinese.
                let refused_ids = match &failure {
                    ReviewFailure::Account(AccountError::Invalid { details, .. }) => {
                        details.iter().map(|(_, m)| m.zh.clone()).collect()
                    }
                    _ => Vec::new(),
                };
                (ApiError::from(failure), refused_ids)
            })
    };
    match refusal {
        Ok(opened) => Ok(see_other(&format!(
            "/console/applications?show=approved&opened={}",
            opened.len()
        ))),
        Err((error, refused_ids)) => {
            if error.status().is_server_error() || error.status() == StatusCode::FORBIDDEN {
                return Err(error.into());
            }
            let status = error.status();
            let headline = if refused_ids.is_empty() {
                error.message_zh().to_owned()
            } else {
                "未开立任何账户：以下申请不符合开户条件，取消勾选后再试。".to_owned()
            };
            applications_page(
                &state,
                &headers,
                &caller,
                "approved",
                (Vec::new(), Some(headline), refused_ids),
                status,
            )
            .await
        }
    }
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

/// What a `done=` query says was just done.
fn done_of(query: Result<Query<DoneQuery>, QueryRejection>) -> Option<&'static str> {
    match query.ok()?.0.done.as_deref()? {
        "assigned" => Some("已分配评审专家。"),
        "decided" => Some("已记录决定。"),
        _ => None,
    }
}

/// `GET /console/applications/{id}`: the application, its criteria and reviews side by
/// side, the reviewers to assign and the decision to record.
async fn application(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ApplicationId>,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let shown = Shown {
        done: done_of(query),
        ..Shown::default()
    };
    application_page(&state, &headers, &caller, &id, shown, StatusCode::OK).await
}

/// A refusal of an administrator's form, shown beside it; a server's failure or what
/// cannot be seen is the error page.
fn shown_refusal(form: &'static str, error: ApiError) -> Result<(Shown, StatusCode), PageError> {
    if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
        return Err(error.into());
    }
    let status = error.status();
    Ok((
        Shown {
            refused: super::Refused::of(form, error.message_zh()),
            ..Shown::default()
        },
        status,
    ))
}

/// The reviewers ticked, or the refusal that names none was.
fn reviewers_of(form: &PickForm) -> Result<Vec<UserId>, ApiError> {
    let ids: Vec<UserId> = form
        .picked()
        .iter()
        .map(|id| UserId::from(id.as_str()))
        .collect();
    if ids.is_empty() {
        return Err(
            ApiError::invalid("reviewer_ids", "tick at least one reviewer")
                .with_zh("请至少勾选一位评审专家。"),
        );
    }
    Ok(ids)
}

/// `POST /console/applications/{id}/reviewers`: assigns the ticked reviewers; one with a
/// conflict of interest is refused, named with the reason.
async fn assign_application(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ApplicationId>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    let assigned = match reviewers_of(&form) {
        Ok(ids) => state
            .assign_application_reviewers(&caller, &id, &ids, &request_id())
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match assigned {
        Ok(_) => Ok(see_other(&format!(
            "/console/applications/{id}?done=assigned"
        ))),
        Err(error) => {
            let (shown, status) = shown_refusal("assign", error)?;
            application_page(&state, &headers, &caller, &id, shown, status).await
        }
    }
}

/// The decision typed: approve or not, and the reason.
fn decision_of(form: &PickForm) -> Result<(bool, String), ApiError> {
    let approve = match form.get("decision") {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(
                ApiError::invalid("decision", "choose the decision").with_zh("请选择决定。")
            );
        }
    };
    Ok((approve, form.get("reason").to_owned()))
}

/// `POST /console/applications/{id}/decision`: records the decision with its reason.
async fn decide_application(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ApplicationId>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    let decided = match decision_of(&form) {
        Ok((approve, reason)) => state
            .decide_application(&caller, &id, approve, &reason, &request_id())
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match decided {
        Ok(()) => Ok(see_other(&format!(
            "/console/applications/{id}?done=decided"
        ))),
        Err(error) => {
            let (shown, status) = shown_refusal("decide", error)?;
            application_page(&state, &headers, &caller, &id, shown, status).await
        }
    }
}

/// A product in the list.
struct ProductRow {
    id: String,
    name: String,
    institution: String,
    status: &'static str,
    at: String,
}

#[derive(Template)]
#[template(path = "console/products.html")]
struct ProductsPage {
    chrome: Chrome,
    rows: Vec<ProductRow>,
}

/// `GET /console/products`: every product, newest first, with its state.
async fn products(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    let rows = state
        .all_products(&caller)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|p| ProductRow {
            id: p.id.to_string(),
            name: p.form.product_name.clone(),
            institution: format!("{}（{}）", p.institution_name, p.uscc),
            status: status_zh(p.status.as_str()),
            at: moment(&p.registered_at),
        })
        .collect();
    Ok(super::render(&ProductsPage {
        chrome: Chrome::new("console"),
        rows,
    }))
}

/// `GET /console/products/{id}`: the product, the institution's management record, the
/// reviews side by side, the reviewers to assign and the recommendation to record.
async fn product(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ProductId>,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let shown = Shown {
        done: done_of(query),
        ..Shown::default()
    };
    product_page(&state, &headers, &caller, &id, shown, StatusCode::OK).await
}

/// `POST /console/products/{id}/reviewers`: assigns the ticked reviewers.
async fn assign_product(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ProductId>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    let assigned = match reviewers_of(&form) {
        Ok(ids) => state
            .assign_product_reviewers(&caller, &id, &ids, &request_id())
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match assigned {
        Ok(_) => Ok(see_other(&format!("/console/products/{id}?done=assigned"))),
        Err(error) => {
            let (shown, status) = shown_refusal("assign", error)?;
            product_page(&state, &headers, &caller, &id, shown, status).await
        }
    }
}

/// `POST /console/products/{id}/decision`: records whether it is recommended.
async fn decide_product(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ProductId>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    let decided = match decision_of(&form) {
        Ok((recommend, reason)) => state
            .decide_product(&caller, &id, recommend, &reason, &request_id())
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match decided {
        Ok(()) => Ok(see_other(&format!("/console/products/{id}?done=decided"))),
        Err(error) => {
            let (shown, status) = shown_refusal("decide", error)?;
            product_page(&state, &headers, &caller, &id, shown, status).await
        }
    }
}

// ---------------------------------------------------------------------------------
// Institutions.

/// An institution in the list.
struct InstitutionRow {
    id: String,
    name: String,
    uscc: String,
    status: &'static str,
    stopped: bool,
}

/// A progress report overdue.
struct OverdueRow {
    id: String,
    name: String,
    period: String,
    due_on: String,
    days: i64,
}

#[derive(Template)]
#[template(path = "console/institutions.html")]
struct InstitutionsPage {
    chrome: Chrome,
    rows: Vec<InstitutionRow>,
    overdue: Vec<OverdueRow>,
}

/// A status as stored, in words.
fn status_of(status: &str) -> &'static str {
    match status {
        "active" => "正常",
        "suspended" => "已暂停",
        "terminated" => "已终止",
        _ => "—",
    }
}

/// `GET /console/institutions`: every institution with its status, and the progress
/// reports overdue.
async fn institutions(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    let rows = state
        .institutions(&caller, "", 500)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|(id, name, uscc, status)| InstitutionRow {
            stopped: status != "active",
            status: status_of(&status),
            id,
            name,
            uscc,
        })
        .collect();
    let overdue = state
        .overdue_reports(&caller)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|o| OverdueRow {
            id: o.institution_id.to_string(),
            name: o.institution_name,
            period: format!(
                "{} 至 {}",
                super::date_zh(o.period_start),
                super::date_zh(o.period_end)
            ),
            due_on: super::date_zh(o.due_on),
            days: o.days_overdue,
        })
        .collect();
    Ok(super::render(&InstitutionsPage {
        chrome: Chrome::new("console"),
        rows,
        overdue,
    }))
}

/// A step of an institution's life, as shown.
struct LifeLine {
    at: String,
    what: String,
}

/// One quota's input: its rule, the value shown (set, or as typed) and its refusal.
struct QuotaInput {
    name: &'static str,
    label: &'static str,
    unit: &'static str,
    min: i64,
    max: i64,
    value: String,
    error: Option<String>,
}

/// A job of the institution as administrators oversee it: its figures exact.
struct OverseenJob {
    id: String,
    state: &'static str,
    submitted: String,
    sql: String,
    /// Rows out, wall time and model CPU time, once it succeeded.
    figures: Option<String>,
    error: Option<String>,
}

/// A model of the institution, as listed.
struct OverseenModel {
    name: String,
    version: String,
    signature: String,
    sha256: String,
    size: i64,
    uploaded: String,
}

/// Jobs of an institution its page shows.
const OVERSEEN_JOBS: i64 = 20;

/// A re-evaluation, as shown.
struct EvaluationLine {
    window: String,
    conclusion: &'static str,
    measures: Vec<(&'static str, String)>,
    note: String,
    by: String,
    at: String,
}

/// What the institution page's quota and re-evaluation forms were given, and what was
/// wrong with it (fields `quota.<name>`, `reason`, `period_start`, `period_end`,
/// `conclusion`, `note`).
#[derive(Default)]
struct Typed {
    values: HashMap<String, String>,
    faults: super::Faults,
}

impl Typed {
    fn get(&self, field: &str) -> Option<&str> {
        self.values.get(field).map(String::as_str)
    }

    /// The faults of a quota change beside their inputs (a quota's is `quota.<name>`).
    fn quota_faults(&mut self, faults: impl Iterator<Item = (String, storage::said::Said)>) {
        for (field, message) in faults {
            let field = match field.as_str() {
                "reason" | "quotas" => field,
                _ => format!("quota.{field}"),
            };
            self.faults.add(&field, &message.zh);
        }
    }
}

/// What a re-evaluation measured, in words.
fn measures_shown(m: &Measures) -> Vec<(&'static str, String)> {
    vec![
        ("API 请求", m.requests.to_string()),
        ("被拒绝的请求（安全事件）", m.security_events.to_string()),
        ("提交的作业", m.jobs.to_string()),
        ("运行失败的作业", m.jobs_failed.to_string()),
        ("模型 CPU 时间（秒）", format!("{:.1}", m.cpu_seconds)),
        ("经输出关口发布的行", m.rows_released.to_string()),
        ("按时提交的进展报告", m.reports_on_time.to_string()),
        ("逾期提交的进展报告", m.reports_late.to_string()),
        ("缺交的进展报告", m.reports_missing.to_string()),
    ]
}

/// The window a re-evaluation looks at unless another is asked for: the 90 days up to
/// today.
fn default_window() -> (chrono::NaiveDate, chrono::NaiveDate) {
    let today = platform::store::china_today();
    (today - chrono::Duration::days(89), today)
}

#[derive(Template)]
#[template(path = "console/institution.html")]
struct InstitutionPage {
    chrome: Chrome,
    csrf: String,
    id: String,
    name: String,
    uscc: String,
    status: &'static str,
    active: bool,
    suspended: bool,
    grants: Vec<String>,
    gauges: Vec<super::workspace::Gauge>,
    lifecycle: Vec<LifeLine>,
    /// What termination deleted: (path, bytes, sha256).
    deleted: Vec<(String, u64, String)>,
    quotas: Vec<QuotaInput>,
    evaluations: Vec<EvaluationLine>,
    /// Its latest jobs and its models, as administrators oversee them.
    jobs: Vec<OverseenJob>,
    models: Vec<OverseenModel>,
    /// The reporting schedule and the reports (P6).
    periods: Vec<super::progress::PeriodRow>,
    reports: Vec<super::progress::ReportRow>,
    /// The window the measures below are of, as typed (`YYYY-MM-DD`).
    window: (String, String),
    /// What the institution did in that window, if it could be measured.
    measured: Vec<(&'static str, String)>,
    typed: Typed,
    refused: super::Refused,
    done: Option<&'static str>,
}

impl InstitutionPage {
    fn typed(&self, field: &str) -> &str {
        self.typed.get(field).unwrap_or_default()
    }
}

async fn institution_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    id: &InstitutionId,
    (refused, done, typed): (super::Refused, Option<&'static str>, Typed),
    status: StatusCode,
) -> Result<Response, PageError> {
    let record = state
        .institution_record(caller, id)
        .await
        .map_err(ApiError::from)?;
    let quotas = record
        .quotas
        .map(|set| {
            QUOTA_RULES
                .iter()
                .map(|rule| {
                    let field = format!("quota.{}", rule.name);
                    QuotaInput {
                        name: rule.name,
                        label: rule.label_zh,
                        unit: rule.unit_zh,
                        min: rule.min / rule.scale,
                        max: rule.max / rule.scale,
                        value: typed.get(&field).map_or_else(
                            || (set.get(rule.name).unwrap_or_default() / rule.scale).to_string(),
                            str::to_owned,
                        ),
                        error: typed.faults.error(&field).map(str::to_owned),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let evaluations = state
        .institution_evaluations(caller, id)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .rev()
        .map(|e| EvaluationLine {
            window: format!(
                "{} 至 {}",
                super::date_zh(e.period_start),
                super::date_zh(e.period_end)
            ),
            conclusion: super::conclusion_zh(&e.conclusion),
            measures: measures_shown(&e.measures),
            note: e.note,
            by: e.evaluator,
            at: moment(&e.evaluated_at),
        })
        .collect();
    let (jobs, models) = if record.status == InstitutionStatus::Terminated {
        (Vec::new(), Vec::new())
    } else {
        let jobs = state
            .jobs(caller, id, None, OVERSEEN_JOBS)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|j| OverseenJob {
                id: j.id.to_string(),
                state: super::workspace::state_zh(&j),
                submitted: moment(&j.submitted_at),
                figures: j.report.as_ref().map(|r| {
                    format!(
                        "结果 {} 行，用时 {} 毫秒，模型 CPU {} 毫秒",
                        r.rows_out, r.wall_ms, r.cpu_ms
                    )
                }),
                error: j.error.clone(),
                sql: j.sql,
            })
            .collect();
        let models = state
            .models(caller, id)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|m| OverseenModel {
                uploaded: moment(&m.uploaded_at),
                name: m.name,
                version: m.version,
                signature: m.signature,
                sha256: m.sha256,
                size: m.size_bytes,
            })
            .collect();
        (jobs, models)
    };
    let (periods, reports) = if record.status == InstitutionStatus::Terminated {
        (Vec::new(), Vec::new())
    } else {
        let (schedule, submitted) = state
            .progress_reports(caller, id)
            .await
            .map_err(ApiError::from)?;
        super::progress::shown(schedule, submitted)
    };
    let (start, end) = default_window();
    let window = (
        typed
            .get("period_start")
            .map_or_else(|| start.to_string(), str::to_owned),
        typed
            .get("period_end")
            .map_or_else(|| end.to_string(), str::to_owned),
    );
    // The measures of the window asked for, when it is one (a refused window shows none).
    let measured = match (
        chrono::NaiveDate::parse_from_str(&window.0, "%Y-%m-%d"),
        chrono::NaiveDate::parse_from_str(&window.1, "%Y-%m-%d"),
    ) {
        (Ok(start), Ok(end))
            if start <= end
                && record.status != InstitutionStatus::Terminated
                && typed.faults.error("period_end").is_none() =>
        {
            measures_shown(
                &state
                    .measure_institution(caller, id, start, end)
                    .await
                    .map_err(ApiError::from)?,
            )
        }
        _ => Vec::new(),
    };
    let gauges = if record.status == InstitutionStatus::Terminated {
        Vec::new()
    } else {
        super::workspace::gauges(
            &state
                .quota_usage(caller, id)
                .await
                .map_err(ApiError::from)?,
        )
    };
    let lifecycle = record
        .lifecycle
        .iter()
        .map(|e| LifeLine {
            at: moment(&e.at),
            what: super::lifecycle_zh(e),
        })
        .collect();
    let deleted = record
        .deletion_record
        .as_ref()
        .map(|d| {
            d.files
                .iter()
                .map(|f| (f.path.clone(), f.bytes, f.sha256.clone()))
                .collect()
        })
        .unwrap_or_default();
    let catalog = catalog::Manifest::builtin();
    Ok(render_with_token(state, headers, status, |csrf| {
        InstitutionPage {
            chrome: Chrome::new("console"),
            csrf,
            id: record.id.to_string(),
            status: super::workspace::institution_status_zh(record.status),
            active: record.status == InstitutionStatus::Active,
            suspended: record.status == InstitutionStatus::Suspended,
            grants: record
                .grants
                .iter()
                .map(|t| {
                    catalog
                        .table(t)
                        .map_or_else(|| t.clone(), |table| format!("{}（{t}）", table.name_zh))
                })
                .collect(),
            name: record.name,
            uscc: record.uscc,
            gauges,
            lifecycle,
            deleted,
            quotas,
            evaluations,
            jobs,
            models,
            periods,
            reports,
            window,
            measured,
            typed,
            refused,
            done,
        }
    }))
}

#[derive(Deserialize, Default)]
struct ChangedQuery {
    done: Option<String>,
    /// The window of the measures shown (`YYYY-MM-DD`).
    from: Option<String>,
    to: Option<String>,
}

/// `GET /console/institutions/{id}`: the institution's record and usage, its quotas and
/// re-evaluations with what it did in a window (`?from=&to=`, the last 90 days unless
/// asked), and the forms that change them, suspend, reinstate or terminate it.
async fn institution(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<InstitutionId>,
    query: Result<Query<ChangedQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let done = match query.done.as_deref() {
        Some("suspended") => Some("已暂停：该机构的会话和密钥即时失效，作业已取消。"),
        Some("reinstated") => Some("已恢复。"),
        Some("terminated") => Some("已终止：工作区已删除，删除记录见下。"),
        Some("quotas") => Some("配额已修改，即时生效。"),
        Some("evaluated") => Some("再评估已记录。"),
        _ => None,
    };
    let mut typed = Typed::default();
    for (field, value) in [("period_start", query.from), ("period_end", query.to)] {
        if let Some(value) = value {
            typed.values.insert(field.to_owned(), value);
        }
    }
    let shown = (super::Refused::default(), done, typed);
    institution_page(&state, &headers, &caller, &id, shown, StatusCode::OK).await
}

/// A refused change shown beside its form.
async fn institution_refused(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    id: &InstitutionId,
    form: &'static str,
    error: ApiError,
) -> Result<Response, PageError> {
    if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
        return Err(error.into());
    }
    let status = error.status();
    let refused = super::Refused::of(form, error.message_zh());
    let shown = (refused, None, Typed::default());
    institution_page(state, headers, caller, id, shown, status).await
}

/// The institution page again with what a form was given and each fault beside its
/// field (422).
async fn typed_refused(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    id: &InstitutionId,
    typed: Typed,
) -> Result<Response, PageError> {
    let shown = (super::Refused::default(), None, typed);
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    institution_page(state, headers, caller, id, shown, status).await
}

/// `POST /console/institutions/{id}/quotas`: changes the quotas whose value differs
/// from the one set, with the reason; each refusal beside its field, what was typed kept.
async fn set_quotas(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<InstitutionId>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    let set = state
        .institution_record(&caller, &id)
        .await
        .map_err(ApiError::from)?
        .quotas
        .unwrap_or_default();
    let mut typed = Typed::default();
    let mut changes = Vec::new();
    for rule in &QUOTA_RULES {
        let field = format!("quota.{}", rule.name);
        let value = form.get(&field).trim().replace([',', '，', ' '], "");
        match value
            .parse::<i64>()
            .ok()
            .and_then(|v| v.checked_mul(rule.scale))
        {
            Some(v) if Some(v) != set.get(rule.name) => changes.push((rule.name, v)),
            Some(_) => {}
            None => typed.faults.add(
                &field,
                &format!(
                    "{}请填写整数（{} 至 {} {}）。",
                    rule.label_zh,
                    rule.min / rule.scale,
                    rule.max / rule.scale,
                    rule.unit_zh
                ),
            ),
        }
        typed
            .values
            .insert(field, form.get(&format!("quota.{}", rule.name)).to_owned());
    }
    typed
        .values
        .insert("reason".to_owned(), form.get("reason").to_owned());
    if !typed.faults.is_empty() {
        // What else is wrong, named at once: the values that are numbers, the reason.
        let (_, faults) = governance::accounts::quota_change(set, &changes, form.get("reason"));
        typed.quota_faults(faults.into_iter().filter(|(f, _)| f != "quotas"));
    } else {
        match state
            .set_quotas(&caller, &id, &changes, form.get("reason"), &request_id())
            .await
        {
            Ok(_) => {
                return Ok(see_other(&format!(
                    "/console/institutions/{id}?done=quotas"
                )));
            }
            Err(InstitutionFailure::Account(AccountError::Invalid { details, .. })) => {
                typed.quota_faults(details.into_iter());
            }
            Err(e) => {
                return institution_refused(&state, &headers, &caller, &id, "quotas", e.into())
                    .await;
            }
        }
    }
    typed_refused(&state, &headers, &caller, &id, typed).await
}

/// `POST /console/institutions/{id}/evaluations`: records a re-evaluation over the
/// window with its conclusion and note; a refusal beside its field.
async fn evaluate(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<InstitutionId>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    let mut typed = Typed::default();
    for field in ["period_start", "period_end", "conclusion", "note"] {
        typed
            .values
            .insert(field.to_owned(), form.get(field).to_owned());
    }
    let mut days = Vec::new();
    for (field, label) in [("period_start", "开始日"), ("period_end", "结束日")] {
        match chrono::NaiveDate::parse_from_str(form.get(field), "%Y-%m-%d") {
            Ok(day) => days.push(day),
            Err(_) => typed
                .faults
                .add(field, &format!("请填写评估期间的{label}（日期）。")),
        }
    }
    if let [start, end] = days[..] {
        match state
            .evaluate_institution(
                &caller,
                &id,
                (start, end),
                form.get("conclusion"),
                form.get("note"),
                &request_id(),
            )
            .await
        {
            Ok(_) => {
                return Ok(see_other(&format!(
                    "/console/institutions/{id}?done=evaluated"
                )));
            }
            Err(InstitutionFailure::Report(e)) if e.field().is_some() => {
                typed.faults.add(e.field().unwrap_or_default(), &e.zh());
            }
            Err(e) => {
                return institution_refused(&state, &headers, &caller, &id, "evaluate", e.into())
                    .await;
            }
        }
    }
    typed_refused(&state, &headers, &caller, &id, typed).await
}

/// `POST /console/institutions/{id}/suspend`: suspends it once confirmed, with the
/// reason and the rectification deadline.
async fn suspend(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<InstitutionId>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    let outcome = async {
        if form.get("confirm").is_empty() {
            return Err(ApiError::invalid("confirm", "tick the box to confirm")
                .with_zh("请勾选确认：暂停后该机构立即不能使用工作台，进行中的作业会被取消。"));
        }
        let deadline = chrono::NaiveDate::parse_from_str(form.get("deadline"), "%Y-%m-%d")
            .map_err(|_| {
                ApiError::invalid("rectification_deadline", "give the rectification deadline")
                    .with_zh("请填写整改期限（日期）。")
            })?;
        state
            .suspend(&caller, &id, form.get("reason"), deadline, &request_id())
            .await
            .map(|_| ())
            .map_err(ApiError::from)
    }
    .await;
    match outcome {
        Ok(()) => Ok(see_other(&format!(
            "/console/institutions/{id}?done=suspended"
        ))),
        Err(e) => institution_refused(&state, &headers, &caller, &id, "suspend", e).await,
    }
}

/// `POST /console/institutions/{id}/reinstate`: reinstates it, with the reason.
async fn reinstate(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<InstitutionId>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    match state
        .reinstate(&caller, &id, form.get("reason"), &request_id())
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/console/institutions/{id}?done=reinstated"
        ))),
        Err(e) => institution_refused(&state, &headers, &caller, &id, "reinstate", e.into()).await,
    }
}

/// `POST /console/institutions/{id}/terminate`: terminates it once its name is typed to
/// confirm; the deletion record is shown afterwards.
async fn terminate(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<InstitutionId>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    let outcome = async {
        let record = state
            .institution_record(&caller, &id)
            .await
            .map_err(ApiError::from)?;
        if form.get("confirm_name") != record.name {
            return Err(ApiError::invalid(
                "confirm_name",
                "type the institution's name to confirm",
            )
            .with_zh("请输入该机构的全称以确认终止：终止后工作区将被删除，不可恢复。"));
        }
        state
            .terminate(&caller, &id, form.get("reason"), &request_id())
            .await
            .map(|_| ())
            .map_err(ApiError::from)
    }
    .await;
    match outcome {
        Ok(()) => Ok(see_other(&format!(
            "/console/institutions/{id}?done=terminated"
        ))),
        Err(e) => institution_refused(&state, &headers, &caller, &id, "terminate", e).await,
    }
}

// ---------------------------------------------------------------------------------
// The quality of service.

#[derive(Template)]
#[template(path = "console/quality.html")]
struct QualityPage {
    chrome: Chrome,
    against: Vec<super::charts::Against>,
    width: f64,
    requests: u64,
    /// Facts as (label, value).
    facts: Vec<(&'static str, String)>,
    calendar_years: String,
    calendar_warning: Option<String>,
}

/// `GET /console/quality`: the service's figures against the provincial standard's
/// targets (Q10, Q11), drawn: response times against 3 s, server errors against 0.01 %,
/// downtime against 8 hours a year, objections completed against 100 %.
async fn quality(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    use super::charts::Against;
    let q = crate::api::quality_report(&state, &caller).await?;
    let ms = |v: f64| format!("{v:.0} 毫秒");
    let percent = |v: f64| format!("{:.3}%", v * 100.0);
    let hours = |v: f64| format!("{v:.1} 小时");
    let r = &q.responses;
    let against = vec![
        Against::new("响应时间中位数", r.p50_ms_at_most, r.ceiling_ms, true, ms),
        Against::new("响应时间 95 分位", r.p95_ms_at_most, r.ceiling_ms, true, ms),
        Against::new("响应时间 99 分位", r.p99_ms_at_most, r.ceiling_ms, true, ms),
        Against::new(
            "服务端错误率",
            r.error_rate,
            r.max_error_rate,
            true,
            percent,
        ),
        Against::new(
            "近 365 天不可用时间",
            q.availability
                .availability
                .map(|_| q.availability.downtime_hours),
            q.availability.max_downtime_hours_per_year,
            true,
            hours,
        ),
        Against::new(
            "异议按期办结率",
            q.objections.completion_rate,
            q.objections.target,
            false,
            percent,
        ),
    ];
    let o = &q.objections.figures;
    let t = &q.tickets;
    let facts = vec![
        ("已受理异议", o.filed.to_string()),
        ("待数源单位核查", o.awaiting_acceptance.to_string()),
        ("已办结（按期）", format!("{}（{}）", o.resolved, o.on_time)),
        ("逾期未办结", o.overdue.to_string()),
        (
            "咨询投诉",
            format!("{}（其中投诉 {}）", t.filed, t.complaints),
        ),
        ("已答复（按期）", format!("{}（{}）", t.answered, t.on_time)),
        ("咨询投诉逾期", t.overdue.to_string()),
        (
            "满意度",
            t.mean_rating.map_or_else(
                || "尚无评价".to_owned(),
                |m| format!("{m:.1} / 5（{} 条）", t.rated),
            ),
        ),
        (
            "近 24 小时登录告警",
            q.security.login_alerts_24h.to_string(),
        ),
    ];
    Ok(super::render(&QualityPage {
        chrome: Chrome::new("console"),
        against,
        width: super::charts::AGAINST_WIDTH,
        requests: r.requests,
        facts,
        calendar_years: q
            .calendar
            .years
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join("、"),
        calendar_warning: state.calendar_years().warning.map(|w| w.zh),
    }))
}

// ---------------------------------------------------------------------------------
// Users and staff accounts.

/// A user in the list.
struct UserRow {
    id: String,
    username: String,
    name: String,
    role: &'static str,
    organisation: String,
    created: String,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    chrome: Chrome,
    csrf: String,
    accounts: Vec<UserRow>,
    typed: HashMap<String, String>,
    faults: super::Faults,
    /// The user whose action was refused, and why.
    refused: super::Refused,
    done: Option<&'static str>,
}

impl UsersPage {
    fn typed(&self, name: &str) -> &str {
        self.typed.get(name).map_or("", String::as_str)
    }
}

/// What the users' page shows besides them: the creation form as typed and refused,
/// a user's refused action, or what was just done.
type UsersShown = (
    HashMap<String, String>,
    super::Faults,
    super::Refused,
    Option<&'static str>,
);

async fn users_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    (typed, faults, refused, done): UsersShown,
    status: StatusCode,
) -> Result<Response, PageError> {
    let accounts = state
        .users(caller)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|u| UserRow {
            role: governance::identity::Role::parse(&u.role).map_or("—", super::persons::role_zh),
            organisation: u.organisation.unwrap_or_default(),
            created: moment(&u.created_at),
            disabled: u.disabled_at.is_some(),
            id: u.id,
            username: u.username,
            name: u.display_name,
        })
        .collect();
    Ok(render_with_token(state, headers, status, |csrf| {
        UsersPage {
            chrome: Chrome::new("console"),
            csrf,
            accounts,
            typed,
            faults,
            refused,
            done,
        }
    }))
}

/// `GET /console/users`: every account, the form that creates a staff account, and
/// each account's actions.
async fn users(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let done = match query.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("created") => Some("已创建账号。"),
        Some("administered") => Some("已处理，理由已记入审计日志。"),
        _ => None,
    };
    let shown = (
        HashMap::new(),
        super::Faults::default(),
        super::Refused::default(),
        done,
    );
    users_page(&state, &headers, &caller, shown, StatusCode::OK).await
}

/// `POST /console/users`: creates a staff account; a field at fault is named.
async fn create_staff(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    let created = state
        .create_staff(
            &caller,
            platform::staff::NewStaff {
                username: form.get("username"),
                display_name: form.get("display_name"),
                password: form.fields.get("password").map_or("", String::as_str),
                role: form.get("role"),
                organisation: Some(form.get("organisation")),
            },
            &request_id(),
        )
        .await;
    match created {
        Ok(_) => Ok(see_other("/console/users?done=created")),
        Err(e) => {
            let error = ApiError::from(e);
            if error.status().is_server_error() {
                return Err(error.into());
            }
            let status = error.status();
            let fields = [
                "username",
                "display_name",
                "password",
                "role",
                "organisation",
            ];
            let faults = super::Faults::of(&error, &fields);
            let mut typed = form.fields;
            typed.remove("password");
            users_page(
                &state,
                &headers,
                &caller,
                (typed, faults, super::Refused::default(), None),
                status,
            )
            .await
        }
    }
}

/// `POST /console/users/{id}`: disables, enables, revokes the credentials of or resets
/// the second factor of a user, with the reason.
async fn administer(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<UserId>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    use governance::identity::UserAction;
    let action = match form.get("action") {
        "disable" => Some(UserAction::Disable),
        "enable" => Some(UserAction::Enable),
        "revoke" => Some(UserAction::RevokeCredentials),
        "reset_second_factor" => Some(UserAction::ResetSecondFactor),
        _ => None,
    };
    let outcome = match action {
        Some(action) => state
            .administer(&caller, &id, action, form.get("reason"), &request_id())
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        None => Err(ApiError::invalid("action", "choose what to do").with_zh("请选择操作。")),
    };
    match outcome {
        Ok(()) => Ok(see_other("/console/users?done=administered")),
        Err(error) => {
            if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
                return Err(error.into());
            }
            let status = error.status();
            let refused = super::Refused::of(id.to_string(), error.message_zh());
            let shown = (HashMap::new(), super::Faults::default(), refused, None);
            users_page(&state, &headers, &caller, shown, status).await
        }
    }
}

// ---------------------------------------------------------------------------------
// The objection ledger.

/// An objection in the ledger.
struct ObjectionRow {
    id: String,
    number: String,
    applicant: String,
    phone: String,
    content: String,
    record: String,
    source_unit: String,
    status: &'static str,
    filed: String,
    due_on: String,
    overdue: bool,
    received: bool,
    resolution: String,
}

#[derive(Template)]
#[template(path = "console/objections.html")]
struct ObjectionsPage {
    chrome: Chrome,
    csrf: String,
    show: super::Tab,
    rows: Vec<ObjectionRow>,
    refused: super::Refused,
    done: Option<&'static str>,
}

/// The ledger's views.
const LEDGER: [&str; 5] = ["received", "open", "overdue", "done", "all"];

async fn objections_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    show: &str,
    (refused, done): (super::Refused, Option<&'static str>),
    status: StatusCode,
) -> Result<Response, PageError> {
    let show = if LEDGER.contains(&show) {
        show
    } else {
        "received"
    };
    let (filter, overdue) = match show {
        "received" => (Some("received"), false),
        "open" => (Some("open"), false),
        "overdue" => (Some("open"), true),
        _ => (None, false),
    };
    let catalog = catalog::Manifest::builtin();
    let rows = state
        .objection_ledger(caller, filter, overdue)
        .await?
        .items
        .into_iter()
        .filter(|o| show != "done" || o.resolved_at.is_some())
        .map(|o| ObjectionRow {
            record: format!(
                "{}（记录 {}）",
                catalog
                    .table(&o.record_table)
                    .map_or_else(|| o.record_table.clone(), |t| t.name_zh.clone()),
                o.record_id
            ),
            status: super::objections::status_zh(o.status),
            filed: moment(&o.filed_at),
            due_on: o.due_on.as_deref().map(super::day).unwrap_or_default(),
            received: o.status == storage::states::ObjectionStatus::Received,
            resolution: o.resolution.clone().unwrap_or_default(),
            overdue: o.overdue,
            id: o.id,
            number: o.number,
            applicant: format!("{}（{}）", o.applicant_name, o.applicant_code),
            phone: o.phone,
            content: o.content,
            source_unit: o.source_unit,
        })
        .collect();
    Ok(render_with_token(state, headers, status, |csrf| {
        ObjectionsPage {
            chrome: Chrome::new("console"),
            csrf,
            show: super::Tab(show.to_owned()),
            rows,
            refused,
            done,
        }
    }))
}

/// `GET /console/objections?show=`: the objection ledger (6.4.5): received ones awaiting
/// the provider's check (by default), open ones, overdue ones (flagged), done, all.
async fn objections(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let done = match query.opened.as_deref() {
        Some("accepted") => Some("已受理：记录已标注“异议处理中”，已转数源单位核实。"),
        Some("returned") => Some("已退回：申请人可查看退回理由。"),
        _ => None,
    };
    let show = query.show.unwrap_or_else(|| "received".to_owned());
    let shown = (super::Refused::default(), done);
    objections_page(&state, &headers, &caller, &show, shown, StatusCode::OK).await
}

/// `POST /console/objections/{id}/acceptance`: accepts a received objection (its record
/// marked, dispatched to its source unit) or returns it with the reason the applicant
/// reads.
async fn accept_objection(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    use platform::objections::Acceptance;
    let decision = match form.get("decision") {
        "accept" => Some(Acceptance::Accept),
        "return" => Some(Acceptance::Return(form.get("reason").to_owned())),
        _ => None,
    };
    let outcome =
        match &decision {
            Some(decision) => state
                .accept_objection(&caller, &id, decision, &request_id())
                .await
                .map(|_| ())
                .map_err(ApiError::from),
            None => Err(ApiError::invalid("decision", "choose accept or return")
                .with_zh("请选择受理或退回。")),
        };
    match outcome {
        Ok(()) => {
            let what = if matches!(decision, Some(Acceptance::Accept)) {
                "accepted"
            } else {
                "returned"
            };
            Ok(see_other(&format!(
                "/console/objections?show=received&opened={what}"
            )))
        }
        Err(error) => {
            if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
                return Err(error.into());
            }
            let status = error.status();
            let refused = super::Refused::of(id, error.message_zh());
            objections_page(
                &state,
                &headers,
                &caller,
                "received",
                (refused, None),
                status,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------
// The verification ledger.

/// A feedback letter in the ledger.
struct LetterRow {
    id: String,
    number: String,
    agency: String,
    matter: String,
    subjects: usize,
    cut_off: String,
}

#[derive(Template)]
#[template(path = "console/verifications.html")]
struct VerificationsPage {
    chrome: Chrome,
    rows: Vec<LetterRow>,
}

/// `GET /console/verifications`: every agency's verification letters (Q7), newest
/// first, each downloadable as archived.
async fn verifications(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    let rows = state
        .verifications(&caller)
        .await?
        .into_iter()
        .map(|l| LetterRow {
            subjects: l.results.as_array().map_or(0, Vec::len),
            cut_off: moment(&l.cut_off_at),
            id: l.id,
            number: l.number,
            agency: l.agency,
            matter: l.matter,
        })
        .collect();
    Ok(super::render(&VerificationsPage {
        chrome: Chrome::new("console"),
        rows,
    }))
}

// ---------------------------------------------------------------------------------
// Consultations and complaints.

/// A ticket in the ledger.
struct TicketRow {
    id: String,
    number: String,
    kind: &'static str,
    category: String,
    requester: String,
    content: String,
    filed: String,
    due_on: String,
    overdue: bool,
    open: bool,
    answer: String,
    extension: String,
    rating: String,
}

#[derive(Template)]
#[template(path = "console/tickets.html")]
struct TicketsPage {
    chrome: Chrome,
    csrf: String,
    show: super::Tab,
    rows: Vec<TicketRow>,
    refused: super::Refused,
    done: Option<&'static str>,
    /// The form that records a case received by telephone or letter, as typed.
    record: RecordTicketForm,
    /// Its field at fault, and why.
    record_fault: Option<(String, String)>,
    kinds: &'static [(&'static str, &'static str)],
    categories: &'static [(&'static str, &'static str)],
}

/// A consultation or complaint received by telephone or letter, as typed.
#[derive(Deserialize, Default)]
struct RecordTicketForm {
    csrf: Option<String>,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    content: String,
}

impl Posted for RecordTicketForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl TicketsPage {
    /// The message beside the record form's `field`, if it is at fault.
    fn record_error(&self, field: &str) -> Option<&str> {
        self.record_fault
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn tickets_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    show: &str,
    (refused, done): (super::Refused, Option<&'static str>),
    status: StatusCode,
    (record, record_fault): (RecordTicketForm, Option<(String, String)>),
) -> Result<Response, PageError> {
    let show = if ["open", "overdue", "answered", "all"].contains(&show) {
        show
    } else {
        "open"
    };
    let (filter, overdue) = match show {
        "open" => (Some("open"), false),
        "overdue" => (Some("open"), true),
        "answered" => (Some("answered"), false),
        _ => (None, false),
    };
    let rows = state
        .tickets_ledger(caller, filter, overdue)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|t| TicketRow {
            kind: if t.kind == "complaint" {
                "投诉"
            } else {
                "咨询"
            },
            requester: format!("{} · {}", t.name, t.contact),
            filed: moment(&t.filed_at),
            due_on: super::day(&t.due_on),
            open: t.answered_at.is_none(),
            answer: t.answer.clone().unwrap_or_default(),
            extension: t
                .extension_reason
                .clone()
                .map(|r| format!("已延长至 {} 个工作日：{r}", t.allowed_days))
                .unwrap_or_default(),
            rating: t.rating.map_or(String::new(), |r| {
                format!("{r} / 5 {}", t.rating_comment.clone().unwrap_or_default())
            }),
            overdue: t.overdue,
            id: t.id,
            number: t.number,
            category: super::tickets::CATEGORIES
                .iter()
                .find(|(k, _)| *k == t.category)
                .map_or(t.category.clone(), |(_, zh)| (*zh).to_owned()),
            content: t.content,
        })
        .collect();
    Ok(render_with_token(state, headers, status, |csrf| {
        TicketsPage {
            chrome: Chrome::new("console"),
            csrf,
            show: super::Tab(show.to_owned()),
            rows,
            refused,
            done,
            record,
            record_fault,
            kinds: &super::tickets::KINDS,
            categories: &super::tickets::CATEGORIES,
        }
    }))
}

/// `POST /console/tickets/new`: records a consultation or complaint received by
/// telephone or letter (as `POST /api/v1/tickets`); its deadline counts from now.
async fn record_ticket(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<RecordTicketForm>,
) -> Result<Response, PageError> {
    let ticket = NewTicket {
        kind: form.kind.clone(),
        category: form.category.clone(),
        channel: Some(form.channel.clone()),
        name: form.name.clone(),
        contact: form.contact.clone(),
        content: form.content.clone(),
    };
    match state
        .file_ticket(&ticket, Some(&caller), &request_id())
        .await
    {
        Ok(filed) => Ok(see_other(&format!(
            "/console/tickets?opened=recorded&number={}",
            super::encode(&filed.number)
        ))),
        Err(TicketFailure::Ticket(TicketError::Invalid(field, message))) => {
            let fault = Some((field.to_owned(), message.zh));
            let shown = (super::Refused::default(), None);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            tickets_page(
                &state,
                &headers,
                &caller,
                "open",
                shown,
                status,
                (form, fault),
            )
            .await
        }
        Err(other) => Err(ApiError::from(other).into()),
    }
}

/// `GET /console/tickets?show=`: consultations and complaints (Q9) by state (`open` by
/// default, `overdue` flagged, `answered` with their ratings, `all`).
async fn tickets(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let done = match query.opened.as_deref() {
        Some("answered") => Some("已答复：申请人凭查询码可查看答复并评价。"),
        Some("extended") => Some("已延长办理期限。"),
        Some("recorded") => Some("已登记：办理期限自现在起计算。"),
        _ => None,
    };
    let show = query.show.unwrap_or_else(|| "open".to_owned());
    let shown = (super::Refused::default(), done);
    let record = RecordTicketForm {
        kind: "complaint".into(),
        channel: "telephone".into(),
        ..RecordTicketForm::default()
    };
    tickets_page(
        &state,
        &headers,
        &caller,
        &show,
        shown,
        StatusCode::OK,
        (record, None),
    )
    .await
}

/// A refused ticket form shown beside its ticket.
async fn ticket_refused(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    id: String,
    error: ApiError,
) -> Result<Response, PageError> {
    if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
        return Err(error.into());
    }
    let status = error.status();
    let refused = super::Refused::of(id, error.message_zh());
    let record = RecordTicketForm::default();
    tickets_page(
        state,
        headers,
        caller,
        "open",
        (refused, None),
        status,
        (record, None),
    )
    .await
}

/// `POST /console/tickets/{id}/answer`: answers the ticket.
async fn answer_ticket(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    match state
        .answer_ticket(&caller, &id, form.get("answer"), &request_id())
        .await
    {
        Ok(_) => Ok(see_other("/console/tickets?show=answered&opened=answered")),
        Err(e) => ticket_refused(&state, &headers, &caller, id, e.into()).await,
    }
}

/// `POST /console/tickets/{id}/extension`: extends a complex case, with its reason.
async fn extend_ticket(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Checked(form): Checked<PickForm>,
) -> Result<Response, PageError> {
    let days = form.get("days").parse::<i64>().unwrap_or(0);
    match state
        .extend_ticket(&caller, &id, days, form.get("reason"), &request_id())
        .await
    {
        Ok(_) => Ok(see_other("/console/tickets?opened=extended")),
        Err(e) => ticket_refused(&state, &headers, &caller, id, e.into()).await,
    }
}
