//! Jobs: SQL that may call models, over an account's tables, with its result written as
//! Parquet into the account's workspace.

use std::fs::File;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{Expr, LogicalPlan, ScalarUDF};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, Query, Visit, Visitor};
use datafusion::sql::sqlparser::parser::ParserError;
use futures::StreamExt;

use crate::engine::{Model, Sandbox};
use crate::error::SandboxError;
use crate::run::CancelToken;
use crate::udf::{ModelUdf, ModelUsage};

/// Limits of one job.
#[derive(Clone, Debug)]
pub struct JobLimits {
    /// Memory for the query's operators (joins, sorts, aggregates); no spilling to disk.
    pub memory_bytes: usize,
    /// Wall-clock time for the whole job.
    pub timeout: Duration,
    /// Largest result file (Parquet, as written); the job fails past it.
    pub max_result_bytes: u64,
}

impl Default for JobLimits {
    fn default() -> Self {
        JobLimits {
            memory_bytes: 1 << 30,
            timeout: Duration::from_secs(600),
            max_result_bytes: 1 << 30,
        }
    }
}

/// The states of a job (as stored and on the wire: `queued`, `running`, …).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting to run.
    Queued,
    /// Running.
    Running,
    /// Finished; the result is in the workspace.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Cancelled by its owner or by suspension.
    Cancelled,
}

impl JobState {
    /// The state's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state named `name` ([`JobState::as_str`]), if there is one.
    pub fn parse(name: &str) -> Option<JobState> {
        [
            Self::Queued,
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// Whether the job has ended (succeeded, failed or been cancelled).
    pub fn has_ended(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finished job used and produced.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobReport {
    /// Rows read from tables.
    pub rows_in: u64,
    /// Rows in the result.
    pub rows_out: u64,
    /// The model calls.
    pub models: ModelUsage,
    /// Wall time.
    pub wall: Duration,
    /// CPU time of the process that ran the job, every thread (set by a job's worker
    /// process, which runs nothing else; zero when run inside another process).
    #[serde(default)]
    pub cpu: Duration,
    /// Where the result was written.
    pub result: PathBuf,
}

/// Where in a job's SQL text something is: its line and column, from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SqlPosition {
    /// The line.
    pub line: u64,
    /// The column, in characters.
    pub column: u64,
}

/// SQL refused before it read anything: what is wrong and, when the parser or planner
/// knows it, where.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SqlRefusal {
    /// What is wrong, without the position.
    pub message: String,
    /// Where.
    pub at: Option<SqlPosition>,
}

impl SqlRefusal {
    /// A refusal with no position.
    pub fn new(message: impl Into<String>) -> SqlRefusal {
        SqlRefusal {
            message: message.into(),
            at: None,
        }
    }
}

impl std::fmt::Display for SqlRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(SqlPosition { line, column }) = self.at {
            write!(f, " (at line {line}, column {column})")?;
        }
        Ok(())
    }
}

/// Why a job failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum JobError {
    /// The SQL was refused or does not plan: the caller's input.
    #[error("SQL refused: {0}")]
    Sql(SqlRefusal),
    /// The query failed while running: a value could not be computed. The message never
    /// quotes the data.
    #[error("the query failed while running: {0}")]
    Execution(String),
    /// A model failed or hit a limit.
    #[error(transparent)]
    Model(#[from] SandboxError),
    /// The query needed more memory than the job may use.
    #[error(
        "the query needs more than the job's memory limit of {limit_mib} MiB; select fewer columns or aggregate earlier"
    )]
    Memory {
        /// The limit.
        limit_mib: usize,
    },
    /// The job ran out of time.
    #[error("the job exceeded its time limit of {limit_ms} ms")]
    Timeout {
        /// The limit.
        limit_ms: u64,
    },
    /// The result grew past the job's limit.
    #[error(
        "the job's result grew past its limit of {limit_bytes} bytes (its share of the storage your institution has left, at most the platform's job limit); select fewer rows or columns, or aggregate in the SQL"
    )]
    ResultTooLarge {
        /// The limit.
        limit_bytes: u64,
    },
    /// The job was cancelled.
    #[error("the job was cancelled")]
    Cancelled,
    /// Writing the result failed: an environment problem.
    #[error("writing the result failed: {0}")]
    Io(String),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl JobError {
    /// Whether the failure can depend on the data the job read, and so tells its
    /// institution something about it (issue 14, class 5): a failure while running, a
    /// model's, a limit reached. A refused or unplannable query and a cancelled job
    /// depend only on the query and on the institution itself.
    pub fn depends_on_data(&self) -> bool {
        !matches!(self, JobError::Sql(_) | JobError::Cancelled)
    }
}

/// A session for one job: a memory pool without spilling, no URL tables, no catalog
/// listings, nothing registered yet. The caller registers exactly the account's tables.
pub fn job_session(limits: &JobLimits) -> Result<SessionContext, JobError> {
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(limits.memory_bytes, 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
        .map_err(|e| JobError::Internal(e.to_string()))?;
    let config = SessionConfig::new()
        .with_information_schema(false)
        .with_default_catalog_and_schema("creditpool", "workspace")
        .with_create_default_catalog_and_schema(true)
        // Planning errors then say where in the text they are.
        .set_bool("datafusion.sql_parser.collect_spans", true);
    Ok(SessionContext::new_with_config_rt(config, runtime))
}

/// Registers `model` in `ctx` as a SQL function named after its manifest, outside a
/// job (tools and benchmarks); returns the tally of its calls.
pub fn register_model(
    ctx: &SessionContext,
    sandbox: Arc<Sandbox>,
    model: &Model,
    cancel: &CancelToken,
) -> Arc<Mutex<ModelUsage>> {
    register_models(ctx, &sandbox, std::slice::from_ref(model), cancel)
}

/// Deepest expression a job may nest (`a + b + …` of 256 terms is 256 deep): far more
/// than any model's features need, and far less than what could exhaust a thread's stack
/// in the engine's recursive evaluation.
pub const MAX_EXPRESSION_DEPTH: usize = 256;
/// Deepest plan a job may build (operators inside operators, subqueries included).
pub const MAX_PLAN_DEPTH: usize = 256;

/// The deepest expression and the deepest plan nesting of `plan`, measured without
/// recursion (so that measuring a hostile plan cannot overflow the stack either).
pub fn plan_depths(plan: &LogicalPlan) -> (usize, usize) {
    let (mut deepest_expr, mut deepest_plan) = (0, 0);
    let mut plans: Vec<(&LogicalPlan, usize)> = vec![(plan, 1)];
    // Subqueries are measured on their own and added at their depth: their nesting is
    // bounded by the SQL parser's recursion limit.
    let mut subqueries: Vec<(Arc<LogicalPlan>, usize)> = Vec::new();
    while let Some((node, depth)) = plans.pop() {
        deepest_plan = deepest_plan.max(depth);
        for input in node.inputs() {
            plans.push((input, depth + 1));
        }
        let _ = node.apply_expressions(|e| {
            let mut exprs: Vec<(&Expr, usize)> = vec![(e, 1)];
            while let Some((e, d)) = exprs.pop() {
                deepest_expr = deepest_expr.max(d);
                match e {
                    Expr::ScalarSubquery(q)
                    | Expr::Exists(datafusion::logical_expr::expr::Exists {
                        subquery: q, ..
                    }) => {
                        subqueries.push((q.subquery.clone(), depth));
                    }
                    Expr::InSubquery(q) => subqueries.push((q.subquery.subquery.clone(), depth)),
                    _ => {}
                }
                let _ = e.apply_children(|child| {
                    exprs.push((child, d + 1));
                    Ok(TreeNodeRecursion::Continue)
                });
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    for (subquery, depth) in subqueries {
        let (expr, nesting) = plan_depths(&subquery);
        deepest_expr = deepest_expr.max(expr);
        deepest_plan = deepest_plan.max(depth + nesting);
    }
    (deepest_expr, deepest_plan)
}

fn too_deep_expression() -> JobError {
    JobError::Sql(SqlRefusal::new(format!(
        "an expression of the query is nested more than {MAX_EXPRESSION_DEPTH} deep, the most a job may use; split long chains of operators into columns of a common table expression"
    )))
}

fn too_deep_plan() -> JobError {
    JobError::Sql(SqlRefusal::new(format!(
        "the query nests operators or subqueries more than {MAX_PLAN_DEPTH} deep, the most a job may use; flatten it"
    )))
}

/// Refuses a plan nested past the limits, before anything recursive walks it.
fn refuse_deep(plan: &LogicalPlan) -> Result<(), JobError> {
    let (expression, nesting) = plan_depths(plan);
    if expression > MAX_EXPRESSION_DEPTH {
        return Err(too_deep_expression());
    }
    if nesting > MAX_PLAN_DEPTH {
        return Err(too_deep_plan());
    }
    Ok(())
}

/// Depths of the parsed SQL, stopping as soon as one passes its limit: a walk of at
/// most the limits' depth, in time linear in the text, before the planner (whose work
/// can grow with the square of an expression's depth) sees anything.
#[derive(Default)]
struct SqlDepth {
    expression: usize,
    query: usize,
}

impl Visitor for SqlDepth {
    type Break = JobError;

    fn pre_visit_expr(&mut self, _: &SqlExpr) -> ControlFlow<JobError> {
        self.expression += 1;
        if self.expression > MAX_EXPRESSION_DEPTH {
            return ControlFlow::Break(too_deep_expression());
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &SqlExpr) -> ControlFlow<JobError> {
        self.expression -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<JobError> {
        self.query += 1;
        if self.query > MAX_PLAN_DEPTH {
            return ControlFlow::Break(too_deep_plan());
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<JobError> {
        self.query -= 1;
        ControlFlow::Continue(())
    }
}

/// Parses `sql` as the session would and refuses it if nested past the limits.
fn refuse_deep_sql(ctx: &SessionContext, sql: &str, limits: &JobLimits) -> Result<(), JobError> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let mut statement = state
        .sql_to_statement(sql, &dialect)
        .map_err(|e| classify(e, limits))?;
    loop {
        match statement {
            DFStatement::Explain(explain) => statement = *explain.statement,
            DFStatement::Statement(s) => {
                return match s.visit(&mut SqlDepth::default()) {
                    ControlFlow::Break(refusal) => Err(refusal),
                    ControlFlow::Continue(()) => Ok(()),
                };
            }
            // Refused as writes by the read-only options.
            _ => return Ok(()),
        }
    }
}

/// How often a running job looks at its cancel token between batches.
const CANCEL_POLL: Duration = Duration::from_millis(10);

/// Read-only SQL: no DDL, no DML (COPY, INSERT), no statements (SET, transactions).
fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Runs `sql` in `ctx` with `models` registered as functions, writing the result to
/// `out` as Parquet. The file appears only if the job succeeds.
pub async fn run_job(
    ctx: &SessionContext,
    sandbox: Arc<Sandbox>,
    models: &[Model],
    sql: &str,
    out: &Path,
    limits: &JobLimits,
    cancel: &CancelToken,
) -> Result<JobReport, JobError> {
    let started = Instant::now();
    let usage = register_models(ctx, &sandbox, models, cancel);
    // A watchdog thread cancels the job at its deadline: a guest in the middle of a
    // batch blocks the query's task, so a timer on the same task could not interrupt it.
    let timed_out = Arc::new(AtomicBool::new(false));
    let (done, finished) = mpsc::channel::<()>();
    {
        let (cancel, timed_out, timeout) = (cancel.clone(), timed_out.clone(), limits.timeout);
        std::thread::Builder::new()
            .name("job-watchdog".into())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(timeout) {
                    timed_out.store(true, Ordering::SeqCst);
                    cancel.cancel();
                }
            })
            .map_err(|e| JobError::Internal(e.to_string()))?;
    }
    let work = async {
        let plan = plan(ctx, sql, limits).await?;
        let rows_out = write_result(ctx, plan.clone(), out, cancel, limits).await?;
        Ok::<_, JobError>((rows_in(plan.as_ref()), rows_out))
    };
    // Cancellation (by the caller or the watchdog) also stops SQL that produces no
    // batch for a long time, such as a large join under an aggregate: dropping the plan's
    // stream aborts its tasks.
    let cancelled = async {
        while !cancel.is_cancelled() {
            tokio::time::sleep(CANCEL_POLL).await;
        }
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        () = cancelled => Err(JobError::Cancelled),
    };
    let outcome = match outcome {
        Err(JobError::Cancelled) if timed_out.load(Ordering::SeqCst) => Err(JobError::Timeout {
            limit_ms: limits.timeout.as_millis() as u64,
        }),
        other => other,
    };
    let _ = done.send(());
    let (rows_in, rows_out) = match outcome {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_file(partial_path(out));
            return Err(e);
        }
    };
    std::fs::rename(partial_path(out), out).map_err(|e| JobError::Io(e.to_string()))?;
    let models = usage.lock().map(|u| u.clone()).unwrap_or_default();
    Ok(JobReport {
        rows_in,
        rows_out,
        models,
        wall: started.elapsed(),
        cpu: Duration::ZERO,
        result: out.to_path_buf(),
    })
}

/// Plans `sql` in `ctx` with `models` registered as functions, as [`run_job`] would,
/// and reads nothing: what a job's SQL is checked with when it is submitted, so that a
/// syntax error, an unknown table or column, or a query past the limits is refused at
/// once, with its position, instead of failing later.
pub async fn plan_job(
    ctx: &SessionContext,
    sandbox: Arc<Sandbox>,
    models: &[Model],
    sql: &str,
    limits: &JobLimits,
) -> Result<(), JobError> {
    register_models(ctx, &sandbox, models, &CancelToken::new());
    plan(ctx, sql, limits).await.map(drop)
}

/// Registers `models` in `ctx` as SQL functions sharing one tally of their calls.
fn register_models(
    ctx: &SessionContext,
    sandbox: &Arc<Sandbox>,
    models: &[Model],
    cancel: &CancelToken,
) -> Arc<Mutex<ModelUsage>> {
    let usage = Arc::new(Mutex::new(ModelUsage::default()));
    for model in models {
        let udf = ModelUdf::new(
            model.clone(),
            sandbox.clone(),
            usage.clone(),
            cancel.clone(),
        );
        ctx.register_udf(ScalarUDF::new_from_impl(udf));
    }
    usage
}

/// The physical plan of `sql`: read-only, and nested no deeper than the limits (checked
/// on the parsed text, then on the logical plan, before anything recursive walks it).
async fn plan(
    ctx: &SessionContext,
    sql: &str,
    limits: &JobLimits,
) -> Result<Arc<dyn ExecutionPlan>, JobError> {
    refuse_deep_sql(ctx, sql, limits)?;
    let df = ctx
        .sql_with_options(sql, read_only())
        .await
        .map_err(|e| classify(e, limits))?;
    refuse_deep(df.logical_plan())?;
    df.create_physical_plan()
        .await
        .map_err(|e| classify(e, limits))
}

/// Where a job writes its result until it succeeds (renamed to `out` then).
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

async fn write_result(
    ctx: &SessionContext,
    plan: Arc<dyn ExecutionPlan>,
    out: &Path,
    cancel: &CancelToken,
    limits: &JobLimits,
) -> Result<u64, JobError> {
    let file = File::create(partial_path(out)).map_err(|e| JobError::Io(e.to_string()))?;
    let mut writer =
        ArrowWriter::try_new(file, plan.schema(), None).map_err(|e| JobError::Io(e.to_string()))?;
    let mut stream = execute_stream(plan, ctx.task_ctx()).map_err(|e| classify(e, limits))?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        if cancel.is_cancelled() {
            return Err(JobError::Cancelled);
        }
        let batch = batch.map_err(|e| classify(e, limits))?;
        rows += batch.num_rows() as u64;
        writer
            .write(&batch)
            .map_err(|e| JobError::Io(e.to_string()))?;
        // Written plus the estimate of what is buffered: stops a runaway result early.
        if (writer.bytes_written() + writer.in_progress_size()) as u64 > limits.max_result_bytes {
            return Err(JobError::ResultTooLarge {
                limit_bytes: limits.max_result_bytes,
            });
        }
    }
    writer.close().map_err(|e| JobError::Io(e.to_string()))?;
    // The file as closed, footer included, is what is held to the limit.
    let size = std::fs::metadata(partial_path(out))
        .map_err(|e| JobError::Io(e.to_string()))?
        .len();
    if size > limits.max_result_bytes {
        return Err(JobError::ResultTooLarge {
            limit_bytes: limits.max_result_bytes,
        });
    }
    Ok(rows)
}

/// Rows read by the plan's scans.
fn rows_in(plan: &dyn ExecutionPlan) -> u64 {
    let own = if plan.children().is_empty() {
        plan.metrics().and_then(|m| m.output_rows()).unwrap_or(0) as u64
    } else {
        0
    };
    own + plan
        .children()
        .iter()
        .map(|c| rows_in(c.as_ref()))
        .sum::<u64>()
}

/// Finds what really went wrong inside a DataFusion error.
fn classify(e: DataFusionError, limits: &JobLimits) -> JobError {
    // The planner's diagnostic (with `collect_spans`) says where in the text.
    let at = e
        .diagnostic()
        .and_then(|d| d.span)
        .map(|span| SqlPosition {
            line: span.start.line,
            column: span.start.column,
        })
        .filter(|p| p.line > 0);
    let refused = |message: String| {
        JobError::Sql(match at {
            Some(at) => SqlRefusal {
                message,
                at: Some(at),
            },
            None => parser_position(message),
        })
    };
    match e.find_root() {
        DataFusionError::External(inner) => match inner.downcast_ref::<SandboxError>() {
            Some(SandboxError::Cancelled) => JobError::Cancelled,
            Some(model_error) => JobError::Model(model_error.clone()),
            None => JobError::Internal(inner.to_string()),
        },
        DataFusionError::ResourcesExhausted(_) => JobError::Memory {
            limit_mib: limits.memory_bytes >> 20,
        },
        DataFusionError::SQL(parse, _) => refused(match parse.as_ref() {
            ParserError::ParserError(m) | ParserError::TokenizerError(m) => {
                format!("syntax error: {m}")
            }
            ParserError::RecursionLimitExceeded => {
                "the query is nested too deeply; flatten it with common table expressions"
                    .to_owned()
            }
        }),
        // Planning errors speak of the query, not of the data: shown as they are.
        root @ (DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_)) => refused(root.to_string()),
        // Errors while running can quote the data they failed on (a cast error names the
        // value): say what kind of failure it was, never the value.
        DataFusionError::ArrowError(..) => JobError::Execution(
            "a value could not be converted or computed (a CAST, a parse or arithmetic); \
             the value is not shown, to keep the data in the sandbox — guard the expression \
             (TRY_CAST, CASE) and run it again"
                .to_owned(),
        ),
        _ => JobError::Execution(
            "the details are not shown because they can contain data — check the \
             expressions over the data and run it again"
                .to_owned(),
        ),
    }
}

/// `message` with the position the SQL parser wrote at its end (` at Line: 1, Column:
/// 8`) taken out of the words and into [`SqlRefusal::at`].
fn parser_position(message: String) -> SqlRefusal {
    let found = message.rfind(" at Line: ").and_then(|start| {
        let (line, column) = message[start + " at Line: ".len()..].split_once(", Column: ")?;
        let column_digits = column.len()
            - column
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let at = SqlPosition {
            line: line.parse().ok()?,
            column: column[..column_digits].parse().ok()?,
        };
        let rest = &column[column_digits..];
        Some((start, at, rest.to_owned()))
    });
    match found {
        Some((start, at, rest)) => SqlRefusal {
            message: format!("{}{rest}", &message[..start]),
            at: Some(at),
        },
        None => SqlRefusal::new(message),
    }
}
