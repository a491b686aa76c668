//! An institution's workspace as pages (issue 19): the dashboard (its status, what is
//! left of each quota and when it resets, the progress reports due), the tables its
//! jobs may read, the SQL editor and the jobs with their live status, and the output
//! gate's releases from a job's result: a sample shown as a table and downloadable as
//! CSV or Parquet, aggregates, and a model's evaluation with its ROC curve and decile
//! chart drawn as SVG on the server. Every rule is the platform's (`Platform::
//! quota_usage`, `tables`, `jobs`, `submit_job`, `release_*`), as through the API; these
//! pages are served on the institutions' runtime, below the public side's priority.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use governance::accounts;
use governance::identity::{Caller, Role};
use platform::jobs::{JobsError, Tables, Usage};
use platform::releases::Asked;
use policies::access::Action;
use serde::Deserialize;
use storage::ids::{InstitutionId, JobId};
use storage::states::InstitutionStatus;
use workbench::gate::{AggregateRequest, EvaluationRequest, Sample};
use workbench::models::ModelInfo;
use workbench::workspace::{Job, WorkspaceError};

use super::csrf::{Checked, Posted, TokenOnly};
use super::session::{SignedIn, see_other};
use super::{Chrome, Faults, PageError, moment, render, render_with_token};
use crate::api::{ApiError, AppState, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspace", get(dashboard))
        .route("/workspace/tables", get(tables))
        .route("/workspace/jobs", get(jobs).post(submit))
        .route("/workspace/jobs/{job}", get(job))
        .route("/workspace/jobs/{job}/status", get(status))
        .route("/workspace/jobs/{job}/cancel", post(cancel))
        .route("/workspace/jobs/{job}/sample", post(sample))
        .route("/workspace/jobs/{job}/aggregate", post(aggregate))
        .route("/workspace/jobs/{job}/evaluation", post(evaluate))
}

/// The institution whose workspace `caller` works in: an institution's users only.
pub(super) fn own(caller: &Caller) -> Result<InstitutionId, PageError> {
    match (caller.role, &caller.institution_id) {
        (Role::Institution, Some(id)) => Ok(id.clone()),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the workspace is for the users of an institution with an account",
        )
        .with_zh("工作台仅供已开户机构的用户使用。")
        .into()),
    }
}

/// A size as a person reads it.
pub(super) fn bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n.max(0) as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A reporting period's status in words.
pub(super) fn period_zh(status: &str) -> &'static str {
    match status {
        "in_progress" => "进行中",
        "due" => "待提交",
        "overdue" => "已逾期",
        "submitted" => "已按时提交",
        _ => "逾期提交",
    }
}

/// An institution's status in words.
pub(super) fn institution_status_zh(status: InstitutionStatus) -> &'static str {
    match status {
        InstitutionStatus::Active => "正常",
        InstitutionStatus::Suspended => "已暂停",
        InstitutionStatus::Terminated => "已终止",
    }
}

/// A job's state in words.
pub(super) fn state_zh(job: &Job) -> &'static str {
    match job.state.as_str() {
        "queued" => "排队中",
        "running" => "运行中",
        "succeeded" => "已完成",
        "failed" => "失败",
        _ => "已取消",
    }
}

// ---------------------------------------------------------------------------------
// The dashboard.

/// One quota as a gauge.
pub(super) struct Gauge {
    pub(super) label: &'static str,
    pub(super) used: i64,
    pub(super) limit: i64,
    pub(super) used_text: String,
    pub(super) limit_text: String,
    pub(super) left_text: String,
    /// When the count starts again, in words.
    pub(super) resets: String,
}

impl Gauge {
    fn of(
        label: &'static str,
        used: i64,
        limit: i64,
        resets: Resets<'_>,
        text: fn(i64) -> String,
    ) -> Gauge {
        Gauge {
            label,
            used: used.clamp(0, limit.max(0)),
            limit: limit.max(1),
            used_text: text(used),
            limit_text: text(limit),
            left_text: text((limit - used).max(0)),
            resets: match resets {
                // A window with nothing counted in it has nothing to free.
                Resets::At(Some(at)) if used > 0 => format!("{} 起恢复", moment(at)),
                Resets::At(_) if used == 0 => "尚未使用".to_owned(),
                Resets::At(_) => "每次使用满 24 小时后恢复".to_owned(),
                Resets::When(how) => how.to_owned(),
            },
        }
    }

    /// Whether less than a tenth is left.
    pub(super) fn low(&self) -> bool {
        self.used * 10 >= self.limit * 9
    }
}

/// When what a quota counts is freed: at a moment (none while nothing is counted), or
/// as something else happens.
enum Resets<'a> {
    At(Option<&'a str>),
    When(&'static str),
}

pub(super) fn gauges(usage: &Usage) -> Vec<Gauge> {
    let count = |n: i64| n.to_string();
    let seconds = |n: i64| format!("{n} 秒");
    let storage = &usage.storage_bytes;
    let held = i64::try_from(storage.used.saturating_add(storage.reserved)).unwrap_or(i64::MAX);
    vec![
        Gauge::of(
            "同时运行的作业",
            usage.concurrent_jobs.used,
            usage.concurrent_jobs.limit,
            Resets::When("作业结束即释放"),
            count,
        ),
        Gauge::of(
            "今日作业运行时间",
            usage.job_seconds_per_day.used,
            usage.job_seconds_per_day.limit,
            Resets::At(usage.job_seconds_per_day.resets_at.as_deref()),
            seconds,
        ),
        Gauge::of(
            "今日失败作业",
            usage.failed_jobs_per_day.used,
            usage.failed_jobs_per_day.limit,
            Resets::At(usage.failed_jobs_per_day.resets_at.as_deref()),
            count,
        ),
        Gauge::of(
            "存储空间（含运行中作业预留）",
            held,
            storage.limit,
            Resets::When("删除数据或结果即释放"),
            bytes,
        ),
        Gauge::of(
            "24 小时内抽样行数",
            usage.sampled_rows_per_day.used,
            usage.sampled_rows_per_day.limit,
            Resets::At(usage.sampled_rows_per_day.resets_at.as_deref()),
            count,
        ),
        Gauge::of(
            "24 小时内抽样单元格数",
            usage.sampled_cells_per_day.used,
            usage.sampled_cells_per_day.limit,
            Resets::At(usage.sampled_cells_per_day.resets_at.as_deref()),
            count,
        ),
        Gauge::of(
            "24 小时内统计发布（汇总、评估）",
            usage.statistical_releases_per_day.used,
            usage.statistical_releases_per_day.limit,
            Resets::At(usage.statistical_releases_per_day.resets_at.as_deref()),
            count,
        ),
    ]
}

/// A reporting period as the dashboard shows it.
struct PeriodView {
    start: String,
    end: String,
    due_on: String,
    status: &'static str,
    late: bool,
}

/// A job in a list.
struct JobRow {
    id: String,
    state: &'static str,
    state_class: &'static str,
    submitted: String,
    first_line: String,
}

impl From<&Job> for JobRow {
    fn from(job: &Job) -> Self {
        let first = job.sql.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let mut first_line: String = first.trim().chars().take(80).collect();
        if first.trim().chars().count() > 80 || job.sql.trim().lines().count() > 1 {
            first_line.push_str(" …");
        }
        JobRow {
            id: job.id.to_string(),
            state: state_zh(job),
            state_class: job.state.as_str(),
            submitted: moment(&job.submitted_at),
            first_line,
        }
    }
}

/// A suspended or terminated institution: why, and by when to rectify.
struct Stopped {
    status: &'static str,
    reason: String,
    deadline: Option<String>,
    since: String,
}

#[derive(Template)]
#[template(path = "workspace/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    name: String,
    uscc: String,
    stopped: Option<Stopped>,
    gauges: Vec<Gauge>,
    requests_per_minute: i64,
    periods: Vec<PeriodView>,
    recent: Vec<JobRow>,
}

/// `GET /workspace`: the institution's status, its quotas as gauges, the progress
/// reports due and its latest jobs. A suspended institution sees why and the
/// rectification deadline, and nothing else.
async fn dashboard(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    state
        .institution(&caller, &id, Action::ReadOwnStatus)
        .await?;
    let institution = accounts::get(&state.store, &id).await?;
    let chrome = Chrome::new("workspace");
    if institution.status != InstitutionStatus::Active {
        let last = institution.lifecycle.iter().rev().find(|e| {
            e.action
                == if institution.status == InstitutionStatus::Suspended {
                    "suspended"
                } else {
                    "terminated"
                }
        });
        let stopped = Stopped {
            status: if institution.status == InstitutionStatus::Suspended {
                "已暂停"
            } else {
                "已终止"
            },
            reason: last.map(|e| e.reason.clone()).unwrap_or_default(),
            deadline: last
                .and_then(|e| e.rectification_deadline.as_deref())
                .map(super::day),
            since: last.map(|e| moment(&e.at)).unwrap_or_default(),
        };
        return Ok(render(&DashboardPage {
            chrome,
            name: institution.name,
            uscc: institution.uscc,
            stopped: Some(stopped),
            gauges: Vec::new(),
            requests_per_minute: 0,
            periods: Vec::new(),
            recent: Vec::new(),
        }));
    }
    let usage = state.quota_usage(&caller, &id).await?;
    state
        .institution(&caller, &id, Action::SubmitReport)
        .await?;
    let today = platform::store::china_today();
    let periods = governance::progress::schedule(&state.store, &id, today, state.settings.reports)
        .await?
        .into_iter()
        .filter(|p| p.status != "in_progress")
        .rev()
        .take(4)
        .map(|p| PeriodView {
            start: super::date_zh(p.start),
            end: super::date_zh(p.end),
            due_on: super::date_zh(p.due_on),
            late: matches!(p.status.as_str(), "overdue" | "submitted_late"),
            status: period_zh(&p.status),
        })
        .collect();
    let recent = state
        .jobs(&caller, &id, None, 5)
        .await?
        .iter()
        .map(JobRow::from)
        .collect();
    Ok(render(&DashboardPage {
        chrome,
        name: institution.name,
        uscc: institution.uscc,
        stopped: None,
        gauges: gauges(&usage),
        requests_per_minute: usage.requests_per_minute.limit,
        periods,
        recent,
    }))
}

// ---------------------------------------------------------------------------------
// Tables.

/// An own or shared table's column as the page shows it.
struct ColumnView {
    name: String,
    data_type: String,
    label: String,
    sensitivity: &'static str,
}

fn sensitivity_zh(s: &str) -> &'static str {
    match s {
        "public" => "公开",
        "masked" => "脱敏（作业读到的是哈希值）",
        "secret" => "保密（作业不可读）",
        _ => "—",
    }
}

fn sharing_zh(s: &str) -> &'static str {
    match s {
        "private" => "仅本机构",
        "institutions" => "共享给其他机构",
        "pool" => "共享到产品池",
        _ => "—",
    }
}

/// A table as the page shows it.
struct TableView {
    sql_name: String,
    title: String,
    detail: String,
    columns: Vec<ColumnView>,
}

fn table_views(tables: Tables) -> (Vec<TableView>, Vec<TableView>) {
    let granted = tables
        .items
        .into_iter()
        .map(|t| TableView {
            title: format!("{}（{}）", t.name_zh, t.name_en),
            detail: format!("数源单位：{}", t.source_unit),
            sql_name: t.id,
            columns: t
                .columns
                .into_iter()
                .map(|c| ColumnView {
                    label: c.name_zh.unwrap_or_default(),
                    sensitivity: sensitivity_zh(c.sensitivity.unwrap_or("public")),
                    data_type: if c.nullable {
                        c.data_type
                    } else {
                        format!("{} NOT NULL", c.data_type)
                    },
                    name: c.name,
                })
                .collect(),
        })
        .collect();
    let own = tables
        .own_and_shared
        .into_iter()
        .map(|t| TableView {
            title: if t.own {
                "本机构自有数据".to_owned()
            } else {
                format!("机构 {} 共享的数据", t.owner)
            },
            detail: format!("约 {} 行 · {}", t.rows, sharing_zh(&t.sharing)),
            sql_name: t.id,
            columns: t
                .columns
                .into_iter()
                .map(|c| ColumnView {
                    label: String::new(),
                    sensitivity: sensitivity_zh(&c.sensitivity),
                    data_type: c.column_type,
                    name: c.name,
                })
                .collect(),
        })
        .collect();
    (granted, own)
}

#[derive(Template)]
#[template(path = "workspace/tables.html")]
struct TablesPage {
    chrome: Chrome,
    granted: Vec<TableView>,
    own: Vec<TableView>,
}

/// `GET /workspace/tables`: the granted tables of the data supply list and the own and
/// shared tables, each with its columns as the institution's SQL sees them.
async fn tables(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    let (granted, own) = table_views(state.tables(&caller, &id).await?);
    Ok(render(&TablesPage {
        chrome: Chrome::new("workspace"),
        granted,
        own,
    }))
}

// ---------------------------------------------------------------------------------
// Jobs.

/// Where the SQL went wrong, shown under the editor: the line, and a caret under the
/// column.
struct SqlAt {
    line: u64,
    column: u64,
    text: String,
    caret: String,
}

/// The SQL editor's page: the form, what the SQL may read, and the jobs.
#[derive(Template)]
#[template(path = "workspace/jobs.html")]
struct JobsPage {
    chrome: Chrome,
    csrf: String,
    sql: String,
    faults: Faults,
    at: Option<SqlAt>,
    granted: Vec<TableView>,
    own: Vec<TableView>,
    models: Vec<ModelInfo>,
    recent: Vec<JobRow>,
    /// The link to older jobs, when there are more.
    older: Option<String>,
    max_sql: usize,
}

/// Jobs on a page of the list.
const JOBS_PAGE: i64 = 20;

#[derive(Default, Deserialize)]
struct JobsQuery {
    /// The page after the job submitted at this moment…
    before_at: Option<String>,
    /// …with this id.
    before: Option<String>,
}

/// The editor as shown: the SQL typed, and what is wrong with it and where.
#[derive(Default)]
struct Editor {
    sql: String,
    faults: Faults,
    at: Option<SqlAt>,
}

async fn jobs_page(
    asker: Asker<'_>,
    id: &InstitutionId,
    query: JobsQuery,
    editor: Editor,
    status: StatusCode,
) -> Result<Response, PageError> {
    let Asker {
        state,
        headers,
        caller,
    } = asker;
    let (granted, own) = table_views(state.tables(caller, id).await?);
    let models = workbench::models::list(&state.store, id).await?;
    let before_job = query.before.map(JobId::from);
    let before = query.before_at.as_deref().zip(before_job.as_ref());
    let listed = state.jobs(caller, id, before, JOBS_PAGE).await?;
    let older = (listed.len() == JOBS_PAGE as usize)
        .then(|| listed.last())
        .flatten()
        .map(|j| {
            format!(
                "/workspace/jobs?before_at={}&before={}",
                super::encode(&j.submitted_at),
                super::encode(j.id.as_str())
            )
        });
    let recent = listed.iter().map(JobRow::from).collect();
    Ok(render_with_token(state, headers, status, |csrf| JobsPage {
        chrome: Chrome::new("workspace"),
        csrf,
        sql: editor.sql,
        faults: editor.faults,
        at: editor.at,
        granted,
        own,
        models,
        recent,
        older,
        max_sql: workbench::workspace::MAX_SQL_BYTES,
    }))
}

/// `GET /workspace/jobs`: the SQL editor, the tables and model functions at hand, and
/// the institution's jobs, newest first.
async fn jobs(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    query: Result<Query<JobsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    // An address whose query cannot be read shows the first page.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let asker = Asker {
        state: &state,
        headers: &headers,
        caller: &caller,
    };
    jobs_page(asker, &id, query, Editor::default(), StatusCode::OK).await
}

#[derive(Deserialize)]
struct JobForm {
    csrf: Option<String>,
    #[serde(default)]
    sql: String,
}

impl Posted for JobForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /workspace/jobs`: queues the SQL and opens the job's page; SQL that cannot run
/// comes back in the editor with what is wrong and where.
async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<JobForm>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    let asker = Asker {
        state: &state,
        headers: &headers,
        caller: &caller,
    };
    // A browser sends a textarea's line ends as CRLF; the SQL is kept as typed.
    let sql = form.sql.replace("\r\n", "\n");
    match state.submit_job(&caller, &id, &sql, &request_id()).await {
        Ok(job) => Ok(see_other(&format!("/workspace/jobs/{}", job.id))),
        Err(JobsError::Workspace(WorkspaceError::Sql(refusal))) => {
            let at = refusal.at.map(|at| {
                let text = sql
                    .lines()
                    .nth(at.line.saturating_sub(1) as usize)
                    .unwrap_or("")
                    .to_owned();
                SqlAt {
                    line: at.line,
                    column: at.column,
                    caret: format!("{}^", " ".repeat(at.column.saturating_sub(1) as usize)),
                    text,
                }
            });
            // The engine's own words stay as it said them: they name the SQL at fault.
            let message = match &at {
                Some(at) => format!(
                    "SQL 无法运行（第 {} 行第 {} 列）：{}",
                    at.line, at.column, refusal.message
                ),
                None => format!("SQL 无法运行：{}", refusal.message),
            };
            let editor = Editor {
                sql,
                faults: Faults::field("sql", message),
                at,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            jobs_page(asker, &id, JobsQuery::default(), editor, status).await
        }
        Err(e) => {
            let error = ApiError::from(e);
            let status = error.status();
            if status.is_server_error() || status == StatusCode::NOT_FOUND {
                return Err(error.into());
            }
            let editor = Editor {
                sql,
                faults: Faults::of(&error, &["sql"]),
                at: None,
            };
            jobs_page(asker, &id, JobsQuery::default(), editor, status).await
        }
    }
}

/// A job's page as shown.
struct JobView {
    id: String,
    state: &'static str,
    state_class: &'static str,
    live: bool,
    succeeded: bool,
    sql: String,
    submitted: String,
    ended: Option<String>,
    error: Option<String>,
    report: Option<workbench::workspace::JobUsage>,
    report_bytes: String,
    columns: Vec<ResultColumn>,
}

/// A column of a job's result.
struct ResultColumn {
    name: String,
    data_type: String,
    /// Whether it can be summed and averaged.
    numeric: bool,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        let columns = job
            .result_schema
            .as_ref()
            .and_then(|s| s.as_array())
            .map(|cols| {
                cols.iter()
                    .map(|c| {
                        let text = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("");
                        let data_type = text("type").to_owned();
                        ResultColumn {
                            name: text("name").to_owned(),
                            numeric: ["INT", "REAL", "DOUBLE", "DECIMAL"]
                                .iter()
                                .any(|n| data_type.contains(n)),
                            data_type,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        JobView {
            id: job.id.to_string(),
            state: state_zh(&job),
            state_class: job.state.as_str(),
            live: matches!(job.state.as_str(), "queued" | "running"),
            succeeded: job.state.as_str() == "succeeded",
            submitted: moment(&job.submitted_at),
            ended: job.ended_at.as_deref().map(moment),
            error: job.error.clone(),
            report_bytes: job
                .report
                .as_ref()
                .map_or(String::new(), |r| bytes(r.result_bytes)),
            report: job.report,
            sql: job.sql,
            columns,
        }
    }
}

/// A sample as the page shows it.
struct SampleView {
    release_id: String,
    fingerprint: String,
    repeated: bool,
    result_rows: i64,
    columns: Vec<(String, &'static str)>,
    rows: Vec<Vec<String>>,
    budget: String,
}

impl From<Sample> for SampleView {
    fn from(sample: Sample) -> Self {
        SampleView {
            release_id: sample.release_id.to_string(),
            fingerprint: sample.fingerprint,
            repeated: sample.repeated,
            result_rows: sample.result_rows,
            columns: sample
                .columns
                .into_iter()
                .map(|c| {
                    let treatment = if c.treatment == "masked" {
                        "脱敏"
                    } else {
                        "原值"
                    };
                    (c.name, treatment)
                })
                .collect(),
            rows: sample
                .rows
                .iter()
                .map(|row| row.iter().map(cell).collect())
                .collect(),
            budget: format!(
                "24 小时内已抽 {} / {} 行、{} / {} 个单元格，{} 起恢复",
                sample.budget.used_today,
                sample.budget.limit,
                sample.budget.cells_used_today,
                sample.budget.cells_limit,
                moment(&sample.budget.resets_at)
            ),
        }
    }
}

/// A value as a table cell shows it: numbers with their thousands grouped.
fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => grouped(&i.to_string()),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => grouped(&format!("{f:.0}")),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Digits with a comma between every three (`-1234567` → `-1,234,567`).
fn grouped(digits: &str) -> String {
    let (sign, digits) = digits.strip_prefix('-').map_or(("", digits), |d| ("-", d));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// An aggregate as the page shows it.
struct AggregateView {
    release_id: String,
    fingerprint: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    suppressed: u64,
    k: u64,
    rounded_to: u64,
}

/// An evaluation as the page shows it, with its charts.
struct EvaluationView {
    release_id: String,
    fingerprint: String,
    auc: String,
    gini: String,
    ks: String,
    bad_rate: String,
    subjects: u64,
    roc: super::charts::Roc,
    deciles: super::charts::Bars,
}

/// What was just released from the job, shown above the release forms.
#[derive(Default)]
struct Releases {
    sample: Option<SampleView>,
    aggregate: Option<AggregateView>,
    evaluation: Option<EvaluationView>,
}

#[derive(Template)]
#[template(path = "workspace/job.html")]
struct JobPage {
    chrome: Chrome,
    csrf: String,
    job: JobView,
    shown: Shown,
}

/// What a job's page shows besides the job: what was just released, or the refusal of
/// a release form with what was chosen in it.
#[derive(Default)]
struct Shown {
    released: Releases,
    faults: Faults,
    /// Which release form the faults are of (`sample`, `aggregate`, `evaluation`).
    faulted: &'static str,
    /// The aggregate or evaluation form as posted.
    chosen: HashMap<String, String>,
}

/// Who asks for a page, with the request's headers (for the form token).
#[derive(Clone, Copy)]
struct Asker<'a> {
    state: &'a AppState,
    headers: &'a HeaderMap,
    caller: &'a Caller,
}

impl JobPage {
    /// Whether `column` was ticked as `role` in the aggregate form.
    fn ticked(&self, role: &str, column: &str) -> bool {
        self.shown.chosen.contains_key(&format!("{role}:{column}"))
    }

    /// Whether `column` is chosen for the evaluation's `field`: as posted, else a
    /// column whose name says it (`score`; `defaulted`, `label`, `bad`).
    fn selected(&self, field: &str, column: &str) -> bool {
        match self.shown.chosen.get(field) {
            Some(posted) => posted == column,
            None if field == "score" => ["score", "risk"].iter().any(|w| column.contains(w)),
            None => matches!(column, "defaulted" | "default" | "label" | "bad" | "is_bad"),
        }
    }
}

/// The job's page with what was released or refused.
async fn job_page(
    asker: Asker<'_>,
    job_id: &JobId,
    shown: Shown,
    status: StatusCode,
) -> Result<Response, PageError> {
    let id = own(asker.caller)?;
    let job = asker.state.job(asker.caller, &id, job_id).await?;
    Ok(render_with_token(
        asker.state,
        asker.headers,
        status,
        |csrf| JobPage {
            chrome: Chrome::new("workspace"),
            csrf,
            job: job.into(),
            shown,
        },
    ))
}

/// `GET /workspace/jobs/{job}`: the job, its status (kept live while it runs), its
/// resource report or error, and the release forms once it has succeeded. Another
/// institution's job is not found.
async fn job(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(job): Path<JobId>,
) -> Result<Response, PageError> {
    let asker = Asker {
        state: &state,
        headers: &headers,
        caller: &caller,
    };
    job_page(asker, &job, Shown::default(), StatusCode::OK).await
}

#[derive(Template)]
#[template(path = "workspace/_job_status.html")]
struct StatusFragment {
    job: JobView,
}

/// `GET /workspace/jobs/{job}/status`: the job's status alone, polled by its page while
/// it runs (htmx); once it has ended, the page reloads whole (`HX-Refresh`) to show the
/// report and the release forms.
async fn status(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(job): Path<JobId>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    let job: JobView = state.job(&caller, &id, &job).await?.into();
    let live = job.live;
    let mut response = render(&StatusFragment { job });
    if !live {
        response
            .headers_mut()
            .insert("hx-refresh", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `POST /workspace/jobs/{job}/cancel`: cancels a queued or running job.
async fn cancel(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(job): Path<JobId>,
    Checked(_): Checked<TokenOnly>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    state.cancel_job(&caller, &id, &job, &request_id()).await?;
    Ok(see_other(&format!("/workspace/jobs/{job}")))
}

#[derive(Deserialize)]
struct SampleForm {
    csrf: Option<String>,
    /// `page` (shown here), `csv` or `parquet` (downloaded).
    #[serde(default)]
    format: String,
}

impl Posted for SampleForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// A release refused: shown beside its form (`sample`, `aggregate`, `evaluation`) when
/// the institution can do something about it; a server's failure or an unknown job is
/// the error page.
async fn refused(
    asker: Asker<'_>,
    job: &JobId,
    form: &'static str,
    error: ApiError,
    fields: &[&str],
    chosen: HashMap<String, String>,
) -> Result<Response, PageError> {
    let status = error.status();
    if status.is_server_error() || status == StatusCode::NOT_FOUND {
        return Err(error.into());
    }
    let shown = Shown {
        faults: Faults::of(&error, fields),
        faulted: form,
        chosen,
        ..Shown::default()
    };
    job_page(asker, job, shown, status).await
}

/// `POST /workspace/jobs/{job}/sample`: a random sample of the result through the gate,
/// shown as a table, or downloaded as CSV or Parquet. Asking again for the same sample
/// is a repeat, not counted again.
async fn sample(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(job): Path<JobId>,
    Checked(form): Checked<SampleForm>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    let asker = Asker {
        state: &state,
        headers: &headers,
        caller: &caller,
    };
    let request = request_id();
    let asked = Asked {
        caller: &caller,
        institution_id: &id,
        job_id: &job,
        request_id: &request,
    };
    let sample = match state.release_sample(asked).await {
        Ok(sample) => sample,
        Err(e) => return refused(asker, &job, "sample", e.into(), &[], HashMap::new()).await,
    };
    match form.format.as_str() {
        "csv" | "parquet" => Ok(crate::api::sample_file(&sample, &form.format)?),
        _ => {
            let shown = Shown {
                released: Releases {
                    sample: Some(sample.into()),
                    ..Releases::default()
                },
                ..Shown::default()
            };
            job_page(asker, &job, shown, StatusCode::CREATED).await
        }
    }
}

/// The aggregate form: a ticked box per column and role (`group:NAME`, `sum:NAME`,
/// `mean:NAME`).
#[derive(Deserialize)]
struct AggregateForm {
    csrf: Option<String>,
    #[serde(flatten)]
    ticked: HashMap<String, String>,
}

impl Posted for AggregateForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The columns ticked as `role`, in a stable order.
fn ticked(form: &HashMap<String, String>, role: &str) -> Vec<String> {
    let mut columns: Vec<String> = form
        .keys()
        .filter_map(|k| k.strip_prefix(role).and_then(|k| k.strip_prefix(':')))
        .map(str::to_owned)
        .collect();
    columns.sort();
    columns
}

/// `POST /workspace/jobs/{job}/aggregate`: counts of subjects, sums and means by group,
/// as the gate releases them (small or dominated groups suppressed, counts rounded).
async fn aggregate(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(job): Path<JobId>,
    Checked(form): Checked<AggregateForm>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    let chosen = form.ticked;
    let request = AggregateRequest {
        group_by: ticked(&chosen, "group"),
        sum: ticked(&chosen, "sum"),
        mean: ticked(&chosen, "mean"),
    };
    let request_id = request_id();
    let asked = Asked {
        caller: &caller,
        institution_id: &id,
        job_id: &job,
        request_id: &request_id,
    };
    let asker = Asker {
        state: &state,
        headers: &headers,
        caller: &caller,
    };
    let released = match state.release_aggregate(asked, &request).await {
        Ok(released) => released,
        Err(e) => {
            let fields = ["group_by", "sum", "mean"];
            return refused(asker, &job, "aggregate", e.into(), &fields, chosen).await;
        }
    };
    let figures = released.figures;
    let mut names: Vec<String> = request.group_by.clone();
    names.push("subjects".into());
    names.extend(request.sum.iter().map(|c| format!("sum_{c}")));
    names.extend(request.mean.iter().map(|c| format!("mean_{c}")));
    let rows = figures
        .groups
        .iter()
        .map(|g| {
            names
                .iter()
                .map(|n| g.get(n).map_or(String::new(), cell))
                .collect()
        })
        .collect();
    let headers_zh = names
        .iter()
        .map(|n| {
            if n == "subjects" {
                "主体数".to_owned()
            } else if let Some(c) = n.strip_prefix("sum_") {
                format!("{c} 合计")
            } else if let Some(c) = n.strip_prefix("mean_") {
                format!("{c} 平均")
            } else {
                n.clone()
            }
        })
        .collect();
    let view = AggregateView {
        release_id: released.release_id.to_string(),
        fingerprint: released.fingerprint,
        headers: headers_zh,
        rows,
        suppressed: figures.groups_suppressed,
        k: figures.k,
        rounded_to: figures.counts_rounded_to,
    };
    let shown = Shown {
        released: Releases {
            aggregate: Some(view),
            ..Releases::default()
        },
        chosen,
        ..Shown::default()
    };
    job_page(asker, &job, shown, StatusCode::CREATED).await
}

#[derive(Deserialize)]
struct EvaluationForm {
    csrf: Option<String>,
    #[serde(default)]
    score: String,
    #[serde(default)]
    label: String,
}

impl Posted for EvaluationForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /workspace/jobs/{job}/evaluation`: a score's AUC, Gini, KS and deciles against
/// a label column, as the gate releases them, with the ROC curve and the deciles' bad
/// rates drawn.
async fn evaluate(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(job): Path<JobId>,
    Checked(form): Checked<EvaluationForm>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    let chosen = HashMap::from([
        ("score".to_owned(), form.score.clone()),
        ("label".to_owned(), form.label.clone()),
    ]);
    let request = EvaluationRequest {
        score: form.score,
        label: form.label,
    };
    let request_id = request_id();
    let asked = Asked {
        caller: &caller,
        institution_id: &id,
        job_id: &job,
        request_id: &request_id,
    };
    let asker = Asker {
        state: &state,
        headers: &headers,
        caller: &caller,
    };
    let released = match state.release_evaluation(asked, &request).await {
        Ok(released) => released,
        Err(e) => {
            let fields = ["score", "label"];
            return refused(asker, &job, "evaluation", e.into(), &fields, chosen).await;
        }
    };
    let m = &released.figures.metrics;
    let view = EvaluationView {
        release_id: released.release_id.to_string(),
        fingerprint: released.fingerprint.clone(),
        auc: format!("{:.3}", m.auc),
        gini: format!("{:.3}", m.gini),
        ks: format!("{:.3}", m.ks),
        bad_rate: format!("{:.1}%", m.bad_rate * 100.0),
        subjects: m.subjects,
        roc: super::charts::Roc::of_deciles(&m.deciles),
        deciles: super::charts::Bars::of_deciles(&m.deciles),
    };
    let shown = Shown {
        released: Releases {
            evaluation: Some(view),
            ..Releases::default()
        },
        chosen,
        ..Shown::default()
    };
    job_page(asker, &job, shown, StatusCode::CREATED).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_numbers_read_with_their_thousands_grouped() {
        assert_eq!(cell(&serde_json::json!(567000000.0)), "567,000,000");
        assert_eq!(cell(&serde_json::json!(-1234)), "-1,234");
        assert_eq!(cell(&serde_json::json!(123)), "123");
        assert_eq!(cell(&serde_json::json!(0.125)), "0.125");
        assert_eq!(cell(&serde_json::json!(null)), "");
        assert_eq!(
            cell(&serde_json::json!("=A1")),
            "=A1",
            "a page escapes; no formula runs"
        );
    }
}
