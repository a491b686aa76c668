//! The output gate (BRIEF P8): the one door through which anything computed in a
//! workspace leaves it.
//!
//! - **Samples.** A result leaves only as a random sample of at most
//!   `min(max_sample_rows, sample_fraction × rows)` rows. Which rows is decided by
//!   HMAC-SHA256 under a server secret over the institution and each row's content, so
//!   asking again returns the same rows, and a differently worded job that produces the
//!   same rows gets the same sample. Released rows count against the institution's daily
//!   budget (`sampled_rows_per_day`); a repeat of an identical release is not counted
//!   again. Each release is in the ledger with its fingerprint and each row's hash, so a
//!   leaked row leads back to its release.
//! - **One provenance rule.** Every release path is judged on every source column the
//!   job's optimised plan reads anywhere: nothing leaves a query that read a secret
//!   column. Identifying columns reach jobs only as keyed pseudonyms
//!   (`crate::pseudonyms`), and a sample shows them as such.
//! - **Aggregates.** Groups of at least `k` subjects (distinct `subject_id`, `uscc` or
//!   `id_number` when the result has one, else rows), counts rounded to `round_to`,
//!   smaller groups suppressed.
//! - **Evaluation.** AUC, KS, Gini and bad rate by score decile of a score column
//!   against a 0/1 label column, computed here, each decile at least `k` subjects.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use storage::ids::{InstitutionId, JobId, ReleaseId, RequestId, UserId};

use catalog::Sensitivity;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::row::{RowConverter, SortField};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cells;
use crate::lineage::{self, Origin, SourceColumn};
use crate::own_data::Visible;
use crate::sketch::Sketch;
use crate::workspace::{Job, Workspaces};
use governance::accounts;
use storage::audit::{self, Event};
use storage::said::Said;
use storage::store::{Store, StoreError, Tx, hex, now, sha256_hex};

use crate::db::releases::{NewSample, NewStatistical, Refusal, Releases as _};

pub mod export;
mod tally;
pub mod trace;

pub use trace::{Traced, trace};

/// How the gate releases.
#[derive(Clone, Debug)]
pub struct GateSettings {
    /// The key that decides which rows a sample holds; never leaves the server.
    pub secret: Arc<[u8; 32]>,
    /// Most rows in one sample.
    pub max_sample_rows: usize,
    /// Largest share of a result one sample may hold.
    pub sample_fraction: f64,
    /// Fewest subjects in a released group or decile.
    pub k: u64,
    /// Released counts are rounded to a multiple of this.
    pub round_to: u64,
    /// Largest result (uncompressed, as Parquet's metadata says) the gate loads.
    pub max_result_bytes: u64,
    /// Share of a public-credit table's rows an institution may ever be given in
    /// samples of queries that read it (never less than `max_sample_rows`).
    pub lifetime_sample_share: f64,
}

impl GateSettings {
    /// The defaults of BRIEF P8 (100 rows or 1 %, k = 10, counts to 5) with `secret`.
    pub fn new(secret: [u8; 32]) -> GateSettings {
        GateSettings {
            secret: Arc::new(secret),
            max_sample_rows: 100,
            sample_fraction: 0.01,
            k: 10,
            round_to: 5,
            max_result_bytes: 512 << 20,
            lifetime_sample_share: 0.02,
        }
    }

    /// Rows of a table of `rows` rows an institution may ever be given in samples.
    pub fn lifetime_sample_limit(&self, rows: u64) -> i64 {
        let share = (rows as f64 * self.lifetime_sample_share).floor() as i64;
        share.max(self.max_sample_rows as i64)
    }

    /// The sample size for a result of `rows` rows.
    pub fn sample_size(&self, rows: usize) -> usize {
        let share = (rows as f64 * self.sample_fraction).floor() as usize;
        share.min(self.max_sample_rows)
    }

    /// `n` rounded to the nearest multiple of `round_to`.
    pub fn round(&self, n: u64) -> u64 {
        let r = self.round_to.max(1);
        (n + r / 2) / r * r
    }
}

/// Why the gate refused.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// No such job.
    #[error("no such job")]
    NotFound,
    /// The job has no result to release.
    #[error("{0}")]
    NotReady(Said),
    /// The result is too small for what was asked.
    #[error("{0}")]
    TooSmall(Said),
    /// The result is too large to be loaded for a release.
    #[error("{0}")]
    TooLarge(Said),
    /// The request names something wrong.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: Said,
    },
    /// The result's columns may not leave in this form.
    #[error("{0}")]
    Refused(Said),
    /// A daily budget is spent.
    #[error("{message}")]
    Budget {
        /// The quota's name.
        quota: &'static str,
        /// What to do, and when it resets.
        message: Said,
        /// When it resets (RFC 3339); `None` for a lifetime bound.
        resets_at: Option<String>,
    },
    /// A bug or environment problem.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for GateError {
    fn from(e: StoreError) -> Self {
        GateError::Internal(e.to_string())
    }
}

impl From<datafusion::arrow::error::ArrowError> for GateError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        GateError::Internal(e.to_string())
    }
}

impl From<datafusion::error::DataFusionError> for GateError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        GateError::Internal(e.to_string())
    }
}

/// The one provenance rule of every release path (sample, aggregate, evaluation): a
/// release is judged on every source column the job's optimised plan reads anywhere —
/// projection, condition, join, window, sort, subquery — and nothing is released from
/// a query that read a secret column. Masked and other identifying columns reach a job
/// only as pseudonyms (`pseudonyms`), so reading them reveals nothing.
fn refuse_secret_reads(
    read: &BTreeSet<SourceColumn>,
    own: &OwnSensitivity,
) -> Result<(), GateError> {
    match read
        .iter()
        .find(|c| sensitivity(c, own) == Sensitivity::Secret)
    {
        Some(secret) => Err(GateError::Refused(Said::new(
            format!(
                "the query reads the secret column {}; nothing computed from a query that reads a secret column leaves the sandbox, not even aggregates or samples. Drop it from the query",
                dotted(secret)
            ),
            format!(
                "查询读取了保密列 {}：读取保密列的查询，其结果（包括汇总和样本）都不能离开沙箱。请从查询中去掉该列。",
                dotted(secret)
            ),
        ))),
        None => Ok(()),
    }
}

/// An instant (RFC 3339) as people in China read it: `2026-12-05 12:09` (Beijing time).
fn in_beijing(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| {
            t.with_timezone(&storage::store::beijing())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| at.to_owned())
}

/// Refuses a sample whose job could match the institution's own (or a shared) table to
/// the register through a natural person's identifier: it read an identifying column of
/// the register (a pseudonym) and any column of an own or shared table (tagged masked,
/// or pseudonyms from an earlier sample uploaded again under another tag). Its rows would tell which of the people an institution knows by name or
/// number have which records (a guessed ID number confirmed, a customer found on a
/// list): a person's record is theirs to see (the standard's 6.2.2). Aggregates and
/// evaluations of such joins, counted by distinct persons, are released as usual.
fn refuse_persons_matched_in_samples(
    read: &BTreeSet<SourceColumn>,
    own: &OwnSensitivity,
) -> Result<(), GateError> {
    let in_register = |c: &SourceColumn| catalog::Manifest::builtin().table(&c.0).is_some();
    let register = read
        .iter()
        .find(|c| in_register(c) && pseudonymised(c, own));
    // Any own or shared column, whatever its tag: pseudonyms released in an earlier
    // sample, uploaded again in a column tagged public, would match just the same.
    let yours = read
        .iter()
        .filter(|c| !in_register(c))
        .max_by_key(|c| pseudonymised(c, own));
    match (register, yours) {
        (Some(register), Some(yours)) => Err(GateError::Refused(Said::new(
            format!(
                "the query reads {} of your own or a shared table and the register's {} (a person's identifier), so its rows can match people you know to their records; a sample of it would say who has which record, so none is released — release aggregates or an evaluation of it instead (they count distinct persons)",
                dotted(yours),
                dotted(register)
            ),
            format!(
                "查询同时读取了自有或共享数据的 {} 和公共信用数据中的 {}（自然人标识），结果行能把您掌握的人与其记录对应起来；样本会透露谁有哪些记录，因此不发布。请改为发布汇总或模型评估（按不同自然人计数）。",
                dotted(yours),
                dotted(register)
            ),
        ))),
        _ => Ok(()),
    }
}

/// Whether a source column reaches jobs as a pseudonym.
fn pseudonymised(column: &SourceColumn, own: &OwnSensitivity) -> bool {
    crate::pseudonyms::is_pseudonymised(&column.0, &column.1, sensitivity(column, own))
}

/// How one result column leaves.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ColumnTreatment {
    /// The column.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub data_type: String,
    /// `released` or `masked`.
    pub treatment: String,
    /// The source columns it comes from, as `table.column`.
    pub sources: Vec<String>,
}

/// A released sample.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Sample {
    /// The ledger entry.
    pub release_id: ReleaseId,
    /// The job.
    pub job_id: JobId,
    /// Rows in the whole result, rounded as the job's figures are
    /// (`workspace::coarse_count`).
    pub result_rows: i64,
    /// Rows released.
    pub rows_released: usize,
    /// The columns and how each was treated.
    pub columns: Vec<ColumnTreatment>,
    /// The rows, in the order of `columns`.
    pub rows: Vec<Vec<Value>>,
    /// SHA-256 identifying exactly this release.
    pub fingerprint: String,
    /// Whether this is a repeat of an earlier identical release (not counted again).
    pub repeated: bool,
    /// The daily budget after this release.
    pub budget: Budget,
}

/// What is left of the daily sample budget.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Budget {
    /// Rows released in the last 24 hours.
    pub used_today: i64,
    /// The limit.
    pub limit: i64,
    /// Cells (rows × columns) released in the last 24 hours.
    pub cells_used_today: i64,
    /// Their limit.
    pub cells_limit: i64,
    /// When the count starts again.
    pub resets_at: String,
}

/// The start of the budget's window: the last 24 hours (a rolling window, so that no
/// moment, such as midnight, doubles what can be taken).
fn window_start() -> String {
    (chrono::Utc::now() - chrono::Duration::hours(24))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// When the oldest release still counted leaves the window (now, if none is counted).
async fn window_frees_at(
    store: &Store,
    institution_id: &InstitutionId,
) -> Result<String, StoreError> {
    let oldest = store
        .oldest_sample_since(institution_id, &window_start())
        .await?;
    let at = oldest
        .and_then(|o| chrono::DateTime::parse_from_rfc3339(&o).ok())
        .map_or_else(chrono::Utc::now, |o| {
            o.with_timezone(&chrono::Utc) + chrono::Duration::hours(24)
        });
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Rows and cells released to an institution in the last 24 hours, and when the oldest
/// of them stops counting.
pub async fn released_today(
    store: &Store,
    institution_id: &InstitutionId,
) -> Result<(i64, i64, String), StoreError> {
    let (rows, cells) = store.sampled_since(institution_id, &window_start()).await?;
    Ok((rows, cells, window_frees_at(store, institution_id).await?))
}

/// Aggregates and evaluations released to an institution in the last 24 hours, with
/// the refusals that count like them ([`answered`]).
pub async fn statistical_today(
    store: &Store,
    institution_id: &InstitutionId,
) -> Result<i64, StoreError> {
    store
        .statistical_since(institution_id, &window_start())
        .await
}

/// The job's result, checked: it must have succeeded and its file must be the one
/// recorded; decoded from the bytes that were checked.
async fn result(
    store: &Store,
    workspaces: &Workspaces,
    settings: &GateSettings,
    institution_id: &InstitutionId,
    job_id: &JobId,
) -> Result<(Job, RecordBatch), GateError> {
    let job = workspaces
        .get(institution_id, job_id)
        .await
        .map_err(|e| match e {
            crate::workspace::WorkspaceError::NotFound => GateError::NotFound,
            other => GateError::Internal(other.to_string()),
        })?;
    if job.state != sandbox::JobState::Succeeded {
        return Err(GateError::NotReady(Said::new(
            format!(
                "the job is {}; only a succeeded job's result can be released",
                job.state
            ),
            "作业尚未成功完成：只有成功完成的作业结果才能发布。",
        )));
    }
    let root = accounts::workspace_path(store, institution_id)
        .await?
        .ok_or_else(|| {
            GateError::NotReady(Said::new(
                "the institution has no open workspace",
                "本机构没有开放的建模空间。",
            ))
        })?;
    let path = crate::workspace::result_file(&root, job_id);
    // Refuse before loading anything a result that would not fit in memory decoded.
    let decoded: u64 = std::fs::File::open(&path)
        .ok()
        .and_then(|f| {
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .ok()
        })
        .map(|b| {
            b.metadata()
                .row_groups()
                .iter()
                .map(|g| g.total_byte_size().max(0) as u64)
                .sum()
        })
        .ok_or_else(|| GateError::Internal(format!("reading {}", path.display())))?;
    if decoded > settings.max_result_bytes {
        return Err(GateError::TooLarge(Said::new(
            format!(
                "the result is {decoded} bytes decoded, more than the {} the gate loads for a release; narrow the job (fewer or shorter columns) or aggregate in SQL first",
                settings.max_result_bytes
            ),
            format!(
                "结果解码后为 {decoded} 字节，超过输出审查一次最多读取的 {} 字节：请缩小作业结果（更少或更短的列），或先在 SQL 中汇总。",
                settings.max_result_bytes
            ),
        )));
    }
    let bytes = std::fs::read(&path)
        .map_err(|e| GateError::Internal(format!("{}: {e}", path.display())))?;
    let recorded = store.result_sha256(job_id).await?;
    if recorded.as_deref() != Some(sha256_hex(&bytes).as_str()) {
        return Err(GateError::Internal(format!(
            "the result file of job {job_id} does not match its recorded hash"
        )));
    }
    // Decoded from the very bytes whose hash was checked: reading the file again could
    // read another file written in between.
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(bytes),
        )
        .and_then(|b| {
            // One batch of every row: nothing to copy into one afterwards.
            let rows = b.metadata().file_metadata().num_rows().clamp(1, 1 << 24) as usize;
            b.with_batch_size(rows).build()
        })
        .map_err(|e| GateError::Internal(format!("decoding the result of job {job_id}: {e}")))?;
    let schema = datafusion::arrow::array::RecordBatchReader::schema(&reader);
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| GateError::Internal(format!("decoding the result of job {job_id}: {e}")))?;
    let batch = match <[RecordBatch; 1]>::try_from(batches) {
        Ok([one]) => one,
        Err(batches) => {
            concat_batches(&schema, &batches).map_err(|e| GateError::Internal(e.to_string()))?
        }
    };
    Ok((job, batch))
}

/// Sensitivities of the columns of the institution's own and shared tables.
type OwnSensitivity = HashMap<(String, String), Sensitivity>;

/// The sensitivity of a source column: from the catalog, or from its owner's tags.
fn sensitivity(column: &SourceColumn, own: &OwnSensitivity) -> Sensitivity {
    if let Some(s) = own.get(column) {
        return *s;
    }
    catalog::Manifest::builtin()
        .table(&column.0)
        .and_then(|t| t.column(&column.1))
        .map_or(Sensitivity::Public, |c| c.sensitivity)
}

fn dotted(c: &SourceColumn) -> String {
    format!("{}.{}", c.0, c.1)
}

/// What the plan read anywhere, each result column's origin, and the optimised plan.
type Lineage = (
    BTreeSet<SourceColumn>,
    Vec<Origin>,
    datafusion::logical_expr::LogicalPlan,
);

/// Lineage of the job's result: what it read anywhere, and each column's origin.
async fn lineage_of(
    store: &Store,
    workspaces: &Workspaces,
    institution_id: &InstitutionId,
    job: &Job,
    width: usize,
    own: &[Visible],
) -> Result<Lineage, GateError> {
    // The release is judged against the tables the job read: if any of them is no longer
    // visible under the same name (a share revoked, a table deleted or replaced), refuse.
    let given = store.job_inputs(&job.id).await?;
    let given: serde_json::Map<String, Value> = given
        .and_then(|g| serde_json::from_str(&g).ok())
        .unwrap_or_default();
    let now = crate::workspace::inputs_json(own);
    for (name, table) in &given {
        if now.get(name) != Some(table) {
            return Err(GateError::Refused(Said::new(
                format!(
                    "the table '{name}' this job read is no longer yours to read under that name (a share was revoked, or the table was deleted or replaced); nothing from this result is released — run the job again"
                ),
                format!(
                    "该作业读取的数据表“{name}”已不能以此名称读取（共享已撤销，或数据表已删除、替换），本结果不发布任何内容：请重新运行作业。"
                ),
            )));
        }
    }
    let grants = accounts::granted_tables(store, institution_id).await?;
    let tables = crate::session::JobTables::of(workspaces.catalog(), &grants, own)
        .map_err(GateError::Internal)?;
    let ctx = crate::session::build(
        &sandbox::JobLimits::default(),
        &tables,
        &workspaces.pseudonyms(institution_id),
    )
    .await
    .map_err(GateError::Internal)?;
    let sandbox = workspaces
        .sandbox()
        .map_err(|e| GateError::Internal(e.to_string()))?;
    for path in crate::models::active_paths(store, institution_id).await? {
        let bytes =
            std::fs::read(&path).map_err(|e| GateError::Internal(format!("{path}: {e}")))?;
        let model = sandbox
            .load(&bytes)
            .map_err(|e| GateError::Internal(e.to_string()))?;
        sandbox::register_model(&ctx, sandbox.clone(), &model, &sandbox::CancelToken::new());
    }
    let plan = ctx
        .sql(&job.sql)
        .await
        .map_err(|e| {
            GateError::Refused(Said::new(
                format!(
                    "the job's query no longer plans over the institution's current tables and models ({e}); run it again"
                ),
                "作业的查询已无法在本机构当前的数据表和模型上执行（表或模型已变化）：请重新运行作业。",
            ))
        })?
        .into_optimized_plan()?;
    let read = lineage::columns_read(&plan);
    let mut origins = lineage::origins(&plan);
    if origins.len() != width {
        origins = vec![Origin::Derived(read.clone()); width];
    }
    Ok((read, origins, plan))
}

/// Significant figures of a computed number in a sample.
pub const SAMPLE_SIGNIFICANT_FIGURES: i32 = 4;
/// Longest computed text in a sample, in characters.
pub const SAMPLE_MAX_COMPUTED_CHARS: usize = 8;
/// Longest computed text in a sample, in UTF-8 bytes (so 8 characters of any script
/// carry no more than 16 bytes).
pub const SAMPLE_MAX_COMPUTED_BYTES: usize = 16;

/// How each column of a sample leaves, or why the sample is refused. A sample carries
/// a bounded amount of each row (issue 14, class 3): a cell is a source cell passed
/// through (pseudonymised if identifying), or a value computed to a bounded width — a
/// number rounded to [`SAMPLE_SIGNIFICANT_FIGURES`], a boolean, a date, or a text of at
/// most [`SAMPLE_MAX_COMPUTED_CHARS`] characters and [`SAMPLE_MAX_COMPUTED_BYTES`]
/// bytes — so that no cell can carry many rows (a string or array aggregation, a long
/// computed string, a computed timestamp's 64 bits).
fn treatments(
    batch: &RecordBatch,
    read: &BTreeSet<SourceColumn>,
    origins: &[Origin],
    own: &OwnSensitivity,
) -> Result<Vec<ColumnTreatment>, GateError> {
    use datafusion::arrow::datatypes::DataType;
    refuse_secret_reads(read, own)?;
    let schema = batch.schema();
    let mut out = Vec::new();
    for ((field, origin), column) in schema.fields().iter().zip(origins).zip(batch.columns()) {
        let sources: Vec<String> = origin.sources().iter().map(dotted).collect();
        let treatment = match origin {
            Origin::Column(c) if pseudonymised(c, own) => "pseudonymised",
            Origin::Column(_) => "released",
            Origin::Derived(_) => match field.data_type() {
                t if t.is_floating()
                    || t.is_integer()
                    || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) =>
                {
                    "rounded"
                }
                DataType::Boolean | DataType::Date32 | DataType::Date64 => "released",
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    if (0..column.len()).all(|r| {
                        cells::text(column.as_ref(), r).is_none_or(|v| {
                            v.chars().count() <= SAMPLE_MAX_COMPUTED_CHARS
                                && v.len() <= SAMPLE_MAX_COMPUTED_BYTES
                        })
                    }) =>
                {
                    "released"
                }
                other => {
                    return Err(GateError::Refused(Said::new(
                        format!(
                            "result column '{}' is computed ({other}) and not a number, a date, a boolean or a text of at most {SAMPLE_MAX_COMPUTED_CHARS} characters ({SAMPLE_MAX_COMPUTED_BYTES} bytes); a sample carries one bounded cell per column and row, so that no cell holds many rows (string or array aggregation, long computed text). Select source columns unchanged, or compute a number or a date",
                            field.name()
                        ),
                        format!(
                            "结果列“{}”是计算得到的（{other}），既不是数字、日期、布尔值，也不是不超过 {SAMPLE_MAX_COMPUTED_CHARS} 个字符的文本：样本每行每列只带一个有限的单元格，以免一个单元格装下多行数据（字符串或数组聚合、长文本）。请原样选择来源列，或计算出数字或日期。",
                            field.name()
                        ),
                    )));
                }
            },
        };
        out.push(ColumnTreatment {
            name: field.name().clone(),
            data_type: catalog::sql_type(field.data_type()),
            treatment: treatment.into(),
            sources,
        });
    }
    Ok(out)
}

/// `x` to `figures` significant figures.
pub fn round_significant(x: f64, figures: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    // Through decimal text, so the result is the double nearest the rounded decimal.
    let digits = usize::try_from(figures.max(1) - 1).unwrap_or(0);
    format!("{x:.digits$e}").parse().unwrap_or(x)
}

/// Which rows of `batch` a sample of `n` holds, for `institution_id`: the `n` rows with
/// the smallest HMAC of their content. Returns (indices in sample order, each row's hash).
pub fn choose(
    batch: &RecordBatch,
    secret: &[u8; 32],
    institution_id: &InstitutionId,
    n: usize,
) -> Result<(Vec<u32>, Vec<String>), GateError> {
    let fields = batch
        .schema()
        .fields()
        .iter()
        .map(|f| SortField::new(f.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields).map_err(|e| GateError::Internal(e.to_string()))?;
    let rows = converter
        .convert_columns(batch.columns())
        .map_err(|e| GateError::Internal(e.to_string()))?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let mut keyed: Vec<(Vec<u8>, u32)> = (0..batch.num_rows())
        .map(|i| {
            let mut context = ring::hmac::Context::with_key(&key);
            context.update(institution_id.as_bytes());
            context.update(&[0]);
            context.update(rows.row(i).as_ref());
            (context.sign().as_ref().to_vec(), i as u32)
        })
        .collect();
    keyed.sort();
    keyed.truncate(n);
    let hashes = keyed
        .iter()
        .map(|(_, i)| sha256_hex(rows.row(*i as usize).as_ref()))
        .collect();
    Ok((keyed.into_iter().map(|(_, i)| i).collect(), hashes))
}

/// Releases the sample of a job's result; audited, in the ledger, within the budget. A
/// refusal counts against the budget of statistical releases ([`answered`]).
#[allow(clippy::too_many_arguments)]
pub async fn sample(
    store: &Store,
    workspaces: &Workspaces,
    settings: &GateSettings,
    institution_id: &InstitutionId,
    job_id: &JobId,
    own: &[Visible],
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Sample, GateError> {
    let release = sample_release(
        store,
        workspaces,
        settings,
        institution_id,
        job_id,
        own,
        actor,
        request_id,
    );
    answered(
        store,
        institution_id,
        job_id,
        "sample",
        actor,
        request_id,
        release,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn sample_release(
    store: &Store,
    workspaces: &Workspaces,
    settings: &GateSettings,
    institution_id: &InstitutionId,
    job_id: &JobId,
    own: &[Visible],
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Sample, GateError> {
    let (job, batch) = result(store, workspaces, settings, institution_id, job_id).await?;
    let (read, origins, plan) = lineage_of(
        store,
        workspaces,
        institution_id,
        &job,
        batch.num_columns(),
        own,
    )
    .await?;
    let own_sensitivity = crate::own_data::sensitivities(own);
    let treatments = treatments(&batch, &read, &origins, &own_sensitivity)?;
    refuse_persons_matched_in_samples(&read, &own_sensitivity)?;
    // Which rows a sample holds is an output too: they must be selected, as they are
    // filled, by their own subject's data alone (not kept or dropped by a join or a
    // subquery over other subjects, such as the officers behind an organisation).
    rows_of_one_subject(&plan, None, own).map_err(|reason| {
        GateError::Refused(Said::new(
            format!(
                "each row of a sample must be one subject's, selected and filled by that subject's data alone: {reason}; nothing is released"
            ),
            format!(
                "样本的每一行必须只属于一个主体，并且只由该主体自己的数据筛选和填充；本结果不满足（{reason}），不发布任何内容。"
            ),
        ))
    })?;
    // The public-credit tables the query read, with their sizes, for the lifetime bound.
    let sources: Vec<(String, u64)> = read
        .iter()
        .map(|(table, _)| table)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter_map(|t| {
            workspaces
                .catalog()
                .table(t)
                .ok()
                .map(|c| (t.clone(), c.row_count))
        })
        .collect();
    // A column tagged identifying after the job ran holds values, not pseudonyms.
    for (i, t) in treatments.iter().enumerate() {
        let column = batch.column(i);
        if t.treatment == "pseudonymised"
            && (0..column.len()).any(|r| {
                !column.is_null(r)
                    && !cells::text(column.as_ref(), r)
                        .is_some_and(|v| crate::pseudonyms::is_pseudonym(&v))
            })
        {
            return Err(GateError::Refused(Said::new(
                format!(
                    "result column '{}' comes from {}, tagged as identifying after this job ran, so the result holds its values rather than pseudonyms; run the job again",
                    t.name,
                    t.sources.join(", ")
                ),
                format!(
                    "结果列“{}”来自 {}，该列在作业运行后被标记为标识信息，结果中是原值而非假名：请重新运行作业。",
                    t.name,
                    t.sources.join("、")
                ),
            )));
        }
    }
    let n = settings.sample_size(batch.num_rows());
    if n == 0 {
        return Err(GateError::TooSmall(Said::new(
            format!(
                "a result of fewer than {} rows gives a sample of 0 rows (at most {:.0} % of a result, and at most {} rows); release aggregates of it instead",
                (1.0 / settings.sample_fraction).ceil(),
                settings.sample_fraction * 100.0,
                settings.max_sample_rows
            ),
            format!(
                "结果少于 {} 行，抽不出样本（样本至多为结果的 {:.0}%，且不超过 {} 行）：请改为发布汇总。",
                (1.0 / settings.sample_fraction).ceil(),
                settings.sample_fraction * 100.0,
                settings.max_sample_rows
            ),
        )));
    }
    let (indices, row_hashes) = choose(&batch, &settings.secret, institution_id, n)?;
    let indices = UInt32Array::from(indices);
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), &indices, None))
        .collect::<Result<_, _>>()
        .map_err(|e| GateError::Internal(e.to_string()))?;
    let rows: Vec<Vec<Value>> = (0..indices.len())
        .map(|r| {
            columns
                .iter()
                .zip(&treatments)
                .map(|(column, t)| {
                    let cell = cells::cell(column.as_ref(), r);
                    match (t.treatment.as_str(), &cell) {
                        ("rounded", Value::Number(n)) => {
                            let x = round_significant(
                                n.as_f64().unwrap_or(f64::NAN),
                                SAMPLE_SIGNIFICANT_FIGURES,
                            );
                            if n.is_f64() {
                                json!(x)
                            } else {
                                json!(x as i64)
                            }
                        }
                        // Decimals come as text.
                        ("rounded", Value::String(text)) => {
                            text.parse::<f64>().map_or(Value::Null, |x| {
                                json!(round_significant(x, SAMPLE_SIGNIFICANT_FIGURES))
                            })
                        }
                        _ => cell,
                    }
                })
                .collect()
        })
        .collect();
    let mut sorted_hashes = row_hashes.clone();
    sorted_hashes.sort();
    let fingerprint = sha256_hex(
        format!(
            "sample\n{institution_id}\n{job_id}\n{}",
            sorted_hashes.join("\n")
        )
        .as_bytes(),
    );

    // Each cell as shown, keyed, for leak tracing (computed before the write lock).
    let shown = trace::released_cells(&settings.secret, &rows);
    let quota = accounts::quotas(store, institution_id)
        .await?
        .unwrap_or_default();
    let mut tx = store.write().await?;
    let earlier = store
        .sample_with(&mut tx, institution_id, job_id, &fingerprint)
        .await?;
    let (used, used_cells) = store
        .sampled_since_in(&mut tx, institution_id, &window_start())
        .await?;
    let frees_at = window_frees_at(store, institution_id).await?;
    // Cells, not only rows: a row of forty columns carries more than a row of two.
    let cells = (n * treatments.len().max(1)) as i64;
    let (release_id, repeated, used, used_cells) = match earlier {
        Some(id) => (id, true, used, used_cells),
        None => {
            // The lifetime bound of each public-credit table the query read.
            for (table, rows) in &sources {
                let limit = settings.lifetime_sample_limit(*rows);
                let before = store.sampled_from(&mut tx, institution_id, table).await?;
                if before + n as i64 > limit {
                    return Err(GateError::Budget {
                        quota: "sampled_rows_per_table",
                        message: Said::new(
                            format!(
                                "quota sampled_rows_per_table: samples of queries that read {table} have given your institution {before} rows, and this one would pass the {limit} it may ever have of that table ({:.0} % of its rows, at least {}); release aggregates instead",
                                settings.lifetime_sample_share * 100.0,
                                settings.max_sample_rows
                            ),
                            format!(
                                "读取 {table} 的查询已为本机构抽样 {before} 行，本次抽样将超过该表终身可抽样的 {limit} 行（其行数的 {:.0}%，至少 {} 行）：请改为发布汇总。",
                                settings.lifetime_sample_share * 100.0,
                                settings.max_sample_rows
                            ),
                        ),
                        resets_at: None,
                    });
                }
            }
            if used + n as i64 > quota.sampled_rows_per_day {
                return Err(GateError::Budget {
                    quota: "sampled_rows_per_day",
                    message: Said::new(
                        format!(
                            "quota sampled_rows_per_day: this sample of {n} rows would take your institution to {} of its {} rows in the last 24 hours; rows start to count again as releases age, the oldest resets at {frees_at}",
                            used + n as i64,
                            quota.sampled_rows_per_day,
                        ),
                        format!(
                            "本次抽样 {n} 行后，本机构 24 小时内的抽样将达 {} 行，超过上限 {} 行；额度随发布满 24 小时陆续恢复，最早一笔于 {} 恢复。",
                            used + n as i64,
                            quota.sampled_rows_per_day,
                            in_beijing(&frees_at)
                        ),
                    ),
                    resets_at: Some(frees_at.clone()),
                });
            }
            if used_cells + cells > quota.sampled_cells_per_day {
                return Err(GateError::Budget {
                    quota: "sampled_cells_per_day",
                    message: Said::new(
                        format!(
                            "quota sampled_cells_per_day: this sample of {n} rows × {} columns = {cells} cells would take your institution to {} of its {} cells in the last 24 hours; select fewer columns, or wait: cells start to count again as releases age, the oldest resets at {frees_at}",
                            treatments.len(),
                            used_cells + cells,
                            quota.sampled_cells_per_day,
                        ),
                        format!(
                            "本次抽样 {n} 行 × {} 列 = {cells} 个单元格，本机构 24 小时内将达 {} 个，超过上限 {} 个：请少选几列，或等待额度恢复（最早一笔于 {} 恢复）。",
                            treatments.len(),
                            used_cells + cells,
                            quota.sampled_cells_per_day,
                            in_beijing(&frees_at)
                        ),
                    ),
                    resets_at: Some(frees_at.clone()),
                });
            }
            let id = ReleaseId::random();
            let tables: Vec<&str> = sources.iter().map(|(t, _)| t.as_str()).collect();
            store
                .insert_sample(
                    &mut tx,
                    &NewSample {
                        id: &id,
                        institution_id,
                        job_id,
                        rows: n as i64,
                        cells,
                        fingerprint: &fingerprint,
                        released_by: actor,
                        released_at: &now(),
                        row_hashes: &serde_json::to_string(&row_hashes).unwrap_or_default(),
                        // The sample's data items (附件3 实验结果样本数据项), for product
                        // registration.
                        request: &json!({ "columns": treatments.iter().map(|t| json!({ "name": t.name, "type": t.data_type, "treatment": t.treatment })).collect::<Vec<_>>() })
                            .to_string(),
                        sources: &tables,
                        shown: &shown,
                    },
                )
                .await?;
            (id, false, used + n as i64, used_cells + cells)
        }
    };
    audit::append(
        &mut tx,
        Event {
            actor,
            action: if repeated { "release.sample_repeated" } else { "release.sample" },
            subject: &release_id,
            detail: json!({
                "institution_id": institution_id,
                "job_id": job_id,
                "rows": n,
                "cells": cells,
                "result_rows": batch.num_rows(),
                "fingerprint": fingerprint,
                "pseudonymised_columns": treatments.iter().filter(|t| t.treatment == "pseudonymised").map(|t| t.name.clone()).collect::<Vec<_>>(),
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Sample {
        release_id,
        job_id: job_id.clone(),
        result_rows: crate::workspace::coarse_count(batch.num_rows() as i64),
        rows_released: n,
        columns: treatments,
        rows,
        fingerprint,
        repeated,
        budget: Budget {
            used_today: used,
            limit: quota.sampled_rows_per_day,
            cells_used_today: used_cells,
            cells_limit: quota.sampled_cells_per_day,
            resets_at: frees_at,
        },
    })
}

/// An aggregate request.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateRequest {
    /// Columns to group by (at most 5; none for one overall group).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Numeric columns to sum per group.
    #[serde(default)]
    pub sum: Vec<String>,
    /// Numeric columns to average per group.
    #[serde(default)]
    pub mean: Vec<String>,
}

/// Columns that identify a subject, in order of preference, for counting subjects.
pub const SUBJECT_COLUMNS: [&str; 4] = ["subject_id", "uscc", "id_number", "person_id"];
/// The subject columns that name another subject than the row's own (an officer of the
/// organisation the row is about).
pub const OTHER_SUBJECT_COLUMNS: [&str; 1] = ["person_id"];

/// The result column that counts subjects: one that is exactly a subject identifier of
/// a source table, so that repeating rows cannot make a small group look large.
fn subject_column(
    schema: &datafusion::arrow::datatypes::Schema,
    origins: &[Origin],
    field: &str,
) -> Result<String, GateError> {
    schema
        .fields()
        .iter()
        .enumerate()
        .find_map(|(i, f)| match origins.get(i) {
            Some(Origin::Column((_, source))) if SUBJECT_COLUMNS.contains(&source.as_str()) => {
                Some(f.name().clone())
            }
            _ => None,
        })
        .ok_or_else(|| GateError::Invalid {
            field: field.into(),
            message: Said::new(
                format!(
                    "the result has no subject column to count subjects by; select one of {} unchanged in the job",
                    SUBJECT_COLUMNS.join(", ")
                ),
                format!(
                    "结果中没有可用于计数主体的列：请在作业中原样选择 {} 之一。",
                    SUBJECT_COLUMNS.join("、")
                ),
            ),
        })
}

/// Refuses a result whose rows need not each describe the subject counted by `subject`
/// (issue 14, class 2: k faked by a join): see [`lineage::one_subject_per_row`].
fn one_subject_per_row(
    plan: &datafusion::logical_expr::LogicalPlan,
    schema: &datafusion::arrow::datatypes::Schema,
    subject: &str,
    own: &[Visible],
) -> Result<(), GateError> {
    let index = schema.index_of(subject).unwrap_or(usize::MAX);
    rows_of_one_subject(plan, Some(index), own).map_err(|reason| {
        GateError::Refused(Said::new(
            format!("subjects cannot be counted by '{subject}': {reason}; nothing is released"),
            format!("无法按“{subject}”计数主体（{reason}），不发布任何内容。"),
        ))
    })
}

/// [`lineage::one_subject_per_row`] with the platform's subject columns and table kinds.
fn rows_of_one_subject(
    plan: &datafusion::logical_expr::LogicalPlan,
    counted: Option<usize>,
    own: &[Visible],
) -> Result<(), String> {
    let kind = |table: &str| {
        if catalog::Manifest::builtin().table(table).is_some() {
            lineage::TableKind::Catalog
        } else if own.iter().any(|v| v.own && v.sql_name == table) || table.ends_with(')') {
            // The reader's own tables, and table functions (`generate_series()`): data
            // the institution has anyway, describing no subject of the pool.
            lineage::TableKind::Own
        } else {
            lineage::TableKind::Shared
        }
    };
    lineage::one_subject_per_row(
        plan,
        counted,
        &SUBJECT_COLUMNS,
        &OTHER_SUBJECT_COLUMNS,
        &kind,
    )
}

/// Refuses when an institution's aggregates and evaluations of the last 24 hours, with
/// their refusals, reach `statistical_releases_per_day`; read in `tx` when given.
async fn statistical_budget(
    store: &Store,
    mut tx: Option<&mut Tx>,
    institution_id: &InstitutionId,
    quota: &accounts::Quotas,
) -> Result<(), GateError> {
    let since = window_start();
    let used = match tx.as_deref_mut() {
        Some(tx) => {
            store
                .statistical_since_in(tx, institution_id, &since)
                .await?
        }
        None => store.statistical_since(institution_id, &since).await?,
    };
    if used < quota.statistical_releases_per_day {
        return Ok(());
    }
    let oldest = match tx {
        Some(tx) => {
            store
                .oldest_statistical_since_in(tx, institution_id, &since)
                .await?
        }
        None => {
            store
                .oldest_statistical_since(institution_id, &since)
                .await?
        }
    };
    let resets_at = oldest
        .and_then(|o| chrono::DateTime::parse_from_rfc3339(&o).ok())
        .map_or_else(chrono::Utc::now, |o| {
            o.with_timezone(&chrono::Utc) + chrono::Duration::hours(24)
        })
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Err(GateError::Budget {
        quota: "statistical_releases_per_day",
        message: Said::new(
            format!(
                "quota statistical_releases_per_day: your institution has had {used} aggregates and evaluations in the last 24 hours, refused releases of any kind included (a refusal tells something about the data too), its limit; no release is computed until they start to count again as they age, the oldest resets at {resets_at}"
            ),
            format!(
                "本机构 24 小时内已有 {used} 次汇总和评估（含被拒绝的各类发布：拒绝本身也透露数据信息），已达上限；额度恢复前不再计算任何发布，最早一笔于 {} 恢复。",
                in_beijing(&resets_at)
            ),
        ),
        resets_at: Some(resets_at),
    })
}

/// The lock under which an institution's releases are answered one at a time.
fn answer_lock(institution_id: &InstitutionId) -> Arc<tokio::sync::Mutex<()>> {
    type Locks = std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;
    static LOCKS: std::sync::OnceLock<Locks> = std::sync::OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    locks.entry(institution_id.to_string()).or_default().clone()
}

/// A release of any kind, answered within the budget of statistical releases: checked
/// before anything is computed, and a refusal (too few rows or subjects, differencing,
/// rows without a subject, a sampled cell too wide) recorded and counted like an
/// aggregate, since whether a release is refused tells something about the data too.
#[allow(clippy::too_many_arguments)]
async fn answered<T>(
    store: &Store,
    institution_id: &InstitutionId,
    job_id: &JobId,
    kind: &str,
    actor: &UserId,
    request_id: &RequestId,
    release: impl std::future::Future<Output = Result<T, GateError>>,
) -> Result<T, GateError> {
    // One answer at a time per institution: the budget is checked, the answer computed
    // and recorded under one lock, so that requests sent at once cannot all pass the
    // check before any of them is counted.
    let lock = answer_lock(institution_id);
    let _answering = lock.lock().await;
    let quota = accounts::quotas(store, institution_id)
        .await?
        .unwrap_or_default();
    statistical_budget(store, None, institution_id, &quota).await?;
    let outcome = release.await;
    // Every refusal counts, whatever its kind: a field found wrong in the data (a label
    // that is not 0 or 1), a value that fails to compute, too few subjects, differencing.
    if let Err(
        e @ (GateError::Refused(_)
        | GateError::TooSmall(_)
        | GateError::Invalid { .. }
        | GateError::Internal(_)),
    ) = &outcome
    {
        let id = ReleaseId::random();
        let at = now();
        let mut tx = store.write().await?;
        store
            .insert_refusal(
                &mut tx,
                &Refusal {
                    id: &id,
                    institution_id,
                    job_id,
                    kind,
                    reason: &e.to_string(),
                    refused_at: &at,
                },
            )
            .await?;
        audit::append(
            &mut tx,
            Event {
                actor,
                action: "release.refused",
                subject: &id,
                detail: json!({
                    "institution_id": institution_id,
                    "job_id": job_id,
                    "kind": kind,
                    "reason": e.to_string(),
                }),
                request_id,
            },
        )
        .await?;
        tx.commit().await?;
    }
    outcome
}

/// Releases threshold-checked aggregates of a job's result, within the budget of
/// statistical releases (refusals counted: [`answered`]).
#[allow(clippy::too_many_arguments)]
pub async fn aggregate(
    store: &Store,
    workspaces: &Workspaces,
    settings: &GateSettings,
    institution_id: &InstitutionId,
    job_id: &JobId,
    request: &AggregateRequest,
    own: &[Visible],
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Released<AggregateFigures>, GateError> {
    let release = aggregate_release(
        store,
        workspaces,
        settings,
        institution_id,
        job_id,
        request,
        own,
        actor,
        request_id,
    );
    answered(
        store,
        institution_id,
        job_id,
        "aggregate",
        actor,
        request_id,
        release,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn aggregate_release(
    store: &Store,
    workspaces: &Workspaces,
    settings: &GateSettings,
    institution_id: &InstitutionId,
    job_id: &JobId,
    request: &AggregateRequest,
    own: &[Visible],
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Released<AggregateFigures>, GateError> {
    let (job, batch) = result(store, workspaces, settings, institution_id, job_id).await?;
    let schema = batch.schema();
    if request.group_by.len() > 5 {
        return Err(GateError::Invalid {
            field: "group_by".into(),
            message: Said::new("group by at most 5 columns", "最多按 5 列分组。"),
        });
    }
    let numeric = |t: &datafusion::arrow::datatypes::DataType| t.is_numeric();
    for (list, name) in [
        (&request.group_by, "group_by"),
        (&request.sum, "sum"),
        (&request.mean, "mean"),
    ] {
        for (i, column) in list.iter().enumerate() {
            let Ok(field) = schema.field_with_name(column) else {
                return Err(GateError::Invalid {
                    field: format!("{name}[{i}]"),
                    message: Said::new(
                        format!("the result has no column '{column}'"),
                        format!("结果中没有“{column}”列。"),
                    ),
                });
            };
            if list[..i].contains(column) {
                return Err(GateError::Invalid {
                    field: format!("{name}[{i}]"),
                    message: Said::new(
                        format!("column '{column}' is named twice in {name}; name it once"),
                        format!("“{column}”列选了两次：请只选一次。"),
                    ),
                });
            }
            if name != "group_by" && !numeric(field.data_type()) {
                return Err(GateError::Invalid {
                    field: format!("{name}[{i}]"),
                    message: Said::new(
                        format!(
                            "column '{column}' is {}, not a number",
                            catalog::sql_type(field.data_type())
                        ),
                        format!(
                            "“{column}”列是 {}，不是数字。",
                            catalog::sql_type(field.data_type())
                        ),
                    ),
                });
            }
        }
    }
    let (read, origins, plan) = lineage_of(
        store,
        workspaces,
        institution_id,
        &job,
        batch.num_columns(),
        own,
    )
    .await?;
    let own_sensitivity = crate::own_data::sensitivities(own);
    refuse_secret_reads(&read, &own_sensitivity)?;
    // Grouping by an identifier would make a group of every subject: refuse it plainly.
    for (i, column) in request.group_by.iter().enumerate() {
        let index = schema.index_of(column).unwrap_or(0);
        if let Some(identifier) = origins
            .get(index)
            .into_iter()
            .flat_map(Origin::sources)
            .find(|c| pseudonymised(c, &own_sensitivity))
        {
            return Err(GateError::Invalid {
                field: format!("group_by[{i}]"),
                message: Said::new(
                    format!(
                        "'{column}' comes from {}, which jobs see as a pseudonym of one subject: a group per subject would be suppressed whole; group by a property of the subjects instead",
                        dotted(&identifier)
                    ),
                    format!(
                        "“{column}”来自 {}，作业中是单个主体的假名：按它分组每组只有一个主体，会被整组抑制；请按主体的某种属性分组。",
                        dotted(&identifier)
                    ),
                ),
            });
        }
    }
    let subject = subject_column(&schema, &origins, "group_by")?;
    one_subject_per_row(&plan, &schema, &subject, own)?;
    // The batch decoded from the bytes whose hash was checked, never the file again;
    // counted in one pass off the runtime's threads.
    let index = |c: &String| schema.index_of(c).unwrap_or(0);
    let keys: Vec<usize> = request.group_by.iter().map(index).collect();
    let mut measured: Vec<usize> = Vec::new();
    for c in request.sum.iter().chain(&request.mean) {
        if !measured.contains(&index(c)) {
            measured.push(index(c));
        }
    }
    let at = |c: &String| measured.iter().position(|m| *m == index(c)).unwrap_or(0);
    let secret = settings.secret.clone();
    let counted = batch.clone();
    let subject_index = index(&subject);
    let name = subject.clone();
    let columns = measured.clone();
    let (groups, tally) = tokio::task::spawn_blocking(move || {
        let subjects =
            tally::subject_keys(&counted, subject_index, &name, &SubjectKeys::new(&secret))?;
        let groups = tally::Groups::of(&counted, &keys)?;
        let tally = tally::Tally::of(&counted, &groups, &subjects, &columns)?;
        Ok::<_, GateError>((groups, tally))
    })
    .await
    .map_err(|e| GateError::Internal(format!("counting the aggregate: {e}")))??;
    let mut out = Vec::new();
    let mut released = vec![false; groups.len()];
    let mut suppressed = 0u64;
    for (g, row) in groups.first_rows.iter().enumerate() {
        let n = tally.subjects(g);
        if n < settings.k || tally.dominated(g) {
            suppressed += 1;
            continue;
        }
        released[g] = true;
        let mut group = serde_json::Map::new();
        for key in &request.group_by {
            group.insert(
                key.clone(),
                cells::cell(batch.column(index(key)).as_ref(), *row),
            );
        }
        group.insert("subjects".into(), json!(settings.round(n)));
        for (kind, list) in [("sum", &request.sum), ("mean", &request.mean)] {
            for c in list {
                let v = if kind == "sum" {
                    tally.sum(g, at(c))
                } else {
                    tally.mean(g, at(c))
                };
                group.insert(
                    format!("{kind}_{c}"),
                    json!(v.map(|v| round_significant(v, SAMPLE_SIGNIFICANT_FIGURES))),
                );
            }
        }
        out.push(group);
    }
    let groups_released = out.len();
    let figures = AggregateFigures {
        job_id: job_id.clone(),
        subjects_counted_by: subject.clone(),
        k: settings.k,
        counts_rounded_to: settings.round_to,
        dominance: Dominance {
            n: DOMINANCE_N,
            k: DOMINANCE_K,
        },
        p_percent: P_PERCENT,
        groups: out,
        groups_suppressed: suppressed,
    };
    let output = serde_json::to_value(&figures)
        .map_err(|e| GateError::Internal(format!("writing the aggregate: {e}")))?;
    // The subjects of each released group, sketched for the differencing check.
    let sketches: Vec<(String, i64, Sketch)> = tally
        .sketches(|g| released[g])
        .into_iter()
        .enumerate()
        .filter_map(|(g, sketch)| {
            let row = groups.first_rows[g];
            let key = Value::Array(
                request
                    .group_by
                    .iter()
                    .map(|c| cells::cell(batch.column(index(c)).as_ref(), row))
                    .collect(),
            )
            .to_string();
            Some((key, tally.subjects(g) as i64, sketch?))
        })
        .collect();
    let release = record(
        store,
        settings,
        Release {
            institution_id,
            job_id,
            kind: "aggregate",
            rows: groups_released,
            output: &output,
            request: &serde_json::to_value(request).unwrap_or_default(),
            groups: &sketches,
        },
        actor,
        request_id,
    )
    .await?;
    Ok(Released {
        figures,
        release_id: release.0,
        fingerprint: release.1,
    })
}

/// A statistical release as the institution receives it: its figures, the release's
/// id in the ledger and the fingerprint the ledger keeps of the figures.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Released<T> {
    /// The released figures.
    #[serde(flatten)]
    pub figures: T,
    /// The release's id in the ledger.
    pub release_id: ReleaseId,
    /// SHA-256 over the release's kind, institution, job and figures.
    pub fingerprint: String,
}

/// The figures of an aggregate release: one object per released group, with the
/// group-by values, `subjects` (rounded) and `sum_<column>` / `mean_<column>` figures
/// (to 3 significant figures; null when no row has a value).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AggregateFigures {
    /// The job whose result was aggregated.
    pub job_id: JobId,
    /// The column whose distinct values are counted as subjects.
    pub subjects_counted_by: String,
    /// Groups of fewer subjects are suppressed.
    pub k: u64,
    /// Every count is rounded to a multiple of this.
    pub counts_rounded_to: u64,
    /// The dominance rule applied to sums and means.
    pub dominance: Dominance,
    /// The p% rule's share: a group is suppressed when its second-largest subject
    /// could estimate the largest to within this share.
    pub p_percent: f64,
    /// The released groups.
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<serde_json::Map<String, Value>>,
    /// How many groups were suppressed (fewer than `k` subjects, or dominated).
    pub groups_suppressed: u64,
}

/// The nk-dominance rule applied: a group whose `n` largest subjects make more than
/// `k` of a figure's total is suppressed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Dominance {
    /// How many of the largest subjects are added up.
    pub n: usize,
    /// The share of the total they may not exceed.
    pub k: f64,
}

/// The figures of an evaluation release.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EvaluationFigures {
    /// The job whose result was evaluated.
    pub job_id: JobId,
    /// The score's metrics.
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// A score's separation of bads from goods, every figure weighing subjects, not rows.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Metrics {
    /// Distinct subjects scored (rounded).
    pub subjects: u64,
    /// Rows scored (rounded).
    pub scored_rows: u64,
    /// The share of bad subjects.
    pub bad_rate: f64,
    /// The area under the ROC curve.
    pub auc: f64,
    /// 2 × AUC − 1.
    pub gini: f64,
    /// The Kolmogorov–Smirnov statistic: the largest gap between the bads' and the
    /// goods' cumulative shares.
    pub ks: f64,
    /// Ten deciles from the riskiest (highest score) to the safest.
    pub deciles: Vec<Decile>,
    /// The fewest subjects a decile may hold.
    pub k: u64,
}

/// One tenth of the scored rows, by score.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Decile {
    /// 1 is the riskiest tenth.
    pub decile: usize,
    /// Distinct subjects in the decile (rounded).
    pub subjects: u64,
    /// Rows in the decile (rounded).
    pub scored_rows: u64,
    /// The share of bad subjects in the decile, each subject weighing one.
    pub bad_rate: f64,
}

/// An evaluation request.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReleaseEvaluationRequest)]
pub struct EvaluationRequest {
    /// The score column (higher = riskier).
    pub score: String,
    /// The outcome column: 1 or true for bad (default), 0 or false for good.
    pub label: String,
}

/// The metrics of a score against 0/1 labels; `scores`, `bads` and `subjects` (each
/// row's subject, hashed) of equal length. Returns the metrics and the fewest distinct
/// subjects of any decile.
///
/// Every figure weighs subjects, not rows (issue 14, class 2): each row counts as
/// 1 / (its subject's rows), so a subject with a thousand rows weighs what a subject
/// with one does, and cannot make a decile's bad rate, the AUC or the KS its own label.
pub fn metrics(
    scores: &[f64],
    bads: &[bool],
    subjects: &[u64],
    k: u64,
    round: impl Fn(u64) -> u64,
) -> (Metrics, usize) {
    metrics_of(
        scores,
        bads,
        subjects,
        &rows_per_subject(subjects),
        k,
        round,
    )
}

/// How many rows each subject has.
fn rows_per_subject(subjects: &[u64]) -> KeyMap<f64> {
    let mut rows_of: KeyMap<f64> =
        KeyMap::with_capacity_and_hasher(subjects.len(), Default::default());
    for s in subjects {
        *rows_of.entry(*s).or_default() += 1.0;
    }
    rows_of
}

/// [`metrics`] with each subject's rows counted already ([`rows_per_subject`]).
fn metrics_of(
    scores: &[f64],
    bads: &[bool],
    subjects: &[u64],
    rows_of: &KeyMap<f64>,
    k: u64,
    round: impl Fn(u64) -> u64,
) -> (Metrics, usize) {
    let n = scores.len();
    let weight: Vec<f64> = subjects.iter().map(|s| 1.0 / rows_of[s]).collect();
    let order = evaluation::rank_order(scores);
    let evaluation::Separation {
        auc,
        ks,
        bad_weight: total_bad,
        good_weight: total_good,
    } = evaluation::separation(scores, bads, &weight, &order);
    // Deciles from the highest score: decile 1 is the riskiest tenth of the rows. Each
    // is counted in distinct subjects, and its bad rate weighs subjects, not rows.
    let one_row_each = rows_of.len() == n;
    let distinct = |rows: &[usize]| {
        if one_row_each {
            return rows.len();
        }
        let mut set = KeySet::with_capacity_and_hasher(rows.len(), Default::default());
        set.extend(rows.iter().map(|i| subjects[*i]));
        set.len()
    };
    let mut fewest = usize::MAX;
    let deciles: Vec<Decile> = (0..10)
        .map(|d| {
            let (lo, hi) = (n * (9 - d) / 10, n * (10 - d) / 10);
            let members = &order[lo..hi];
            let weighed: f64 = members.iter().map(|i| weight[*i]).sum();
            let bad: f64 = members
                .iter()
                .filter(|i| bads[**i])
                .map(|i| weight[*i])
                .sum();
            let subjects = distinct(members);
            fewest = fewest.min(subjects);
            Decile {
                decile: d + 1,
                subjects: round(subjects as u64),
                scored_rows: round(members.len() as u64),
                bad_rate: if weighed > 0.0 {
                    (bad / weighed * 1000.0).round() / 1000.0
                } else {
                    0.0
                },
            }
        })
        .collect();
    let r4 = |x: f64| (x * 10_000.0).round() / 10_000.0;
    let metrics = Metrics {
        subjects: round(distinct(&order) as u64),
        scored_rows: round(n as u64),
        bad_rate: r4(total_bad / (total_bad + total_good)),
        auc: r4(auc),
        gini: r4(2.0 * auc - 1.0),
        ks: r4(ks),
        deciles,
        k,
    };
    (metrics, fewest)
}

/// Evaluates a score column against a label column of a job's result, inside the
/// sandbox; only the metrics leave, within the budget of statistical releases
/// (refusals counted: [`answered`]).
#[allow(clippy::too_many_arguments)]
pub async fn evaluate(
    store: &Store,
    workspaces: &Workspaces,
    settings: &GateSettings,
    institution_id: &InstitutionId,
    job_id: &JobId,
    request: &EvaluationRequest,
    own: &[Visible],
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Released<EvaluationFigures>, GateError> {
    let release = evaluation_release(
        store,
        workspaces,
        settings,
        institution_id,
        job_id,
        request,
        own,
        actor,
        request_id,
    );
    answered(
        store,
        institution_id,
        job_id,
        "evaluation",
        actor,
        request_id,
        release,
    )
    .await
}

/// The scored rows of an evaluation, in three columns of equal length.
struct Scored {
    scores: Vec<f64>,
    bads: Vec<bool>,
    subjects: Vec<u64>,
}

/// The scored rows of an evaluation: each row's score, whether it is bad, and its
/// subject's key, rows with an empty or non-finite score or an empty label left out.
/// Refuses labels other than 0 and 1 and rows without a subject.
fn scored(
    batch: &RecordBatch,
    score: usize,
    label: usize,
    subject: usize,
    name: &str,
    keys: &SubjectKeys,
) -> Result<Scored, GateError> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
    let of_row = tally::subject_keys(batch, subject, name, keys)?;
    let score_of = datafusion::arrow::compute::cast(batch.column(score), &DataType::Float64)?;
    let score_of = score_of.as_primitive::<Float64Type>();
    // Labels as SQL's CAST(label AS INT) reads them: booleans 0 and 1, numbers truncated.
    let label_of = datafusion::arrow::compute::cast(batch.column(label), &DataType::Int64)?;
    let label_of = label_of.as_primitive::<Int64Type>();
    let (mut scores, mut bads, mut subjects) = (Vec::new(), Vec::new(), Vec::new());
    for (row, subject) in of_row.iter().enumerate() {
        if !batch.column(score).is_valid(row) || !batch.column(label).is_valid(row) {
            continue;
        }
        let label = if label_of.is_null(row) {
            -1
        } else {
            label_of.value(row)
        };
        if !(label == 0 || label == 1) {
            return Err(GateError::Invalid {
                field: "label".into(),
                message: Said::new(
                    "the label column holds values other than 0 and 1 (or false and true); map it to 0/1 in the job",
                    "结果列（标签）中有 0 和 1（或 false 和 true）以外的值：请在作业中把它转换为 0/1。",
                ),
            });
        }
        let score = if score_of.is_null(row) {
            f64::NAN
        } else {
            score_of.value(row)
        };
        if score.is_finite() {
            scores.push(score);
            bads.push(label == 1);
            subjects.push(*subject);
        }
    }
    Ok(Scored {
        scores,
        bads,
        subjects,
    })
}

#[allow(clippy::too_many_arguments)]
async fn evaluation_release(
    store: &Store,
    workspaces: &Workspaces,
    settings: &GateSettings,
    institution_id: &InstitutionId,
    job_id: &JobId,
    request: &EvaluationRequest,
    own: &[Visible],
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Released<EvaluationFigures>, GateError> {
    let (job, batch) = result(store, workspaces, settings, institution_id, job_id).await?;
    let schema = batch.schema();
    let (read, origins, plan) = lineage_of(
        store,
        workspaces,
        institution_id,
        &job,
        batch.num_columns(),
        own,
    )
    .await?;
    refuse_secret_reads(&read, &crate::own_data::sensitivities(own))?;
    let subject = subject_column(&schema, &origins, "score")?;
    one_subject_per_row(&plan, &schema, &subject, own)?;
    if request.score == request.label {
        return Err(GateError::Invalid {
            field: "label".into(),
            message: Said::new(
                "the score and the label are the same column; the label is the outcome (0 or 1) the score should predict",
                "评分列和结果列是同一列：结果列应是评分要预测的结果（0 或 1）。",
            ),
        });
    }
    for (field, column) in [("score", &request.score), ("label", &request.label)] {
        let Ok(f) = schema.field_with_name(column) else {
            return Err(GateError::Invalid {
                field: field.into(),
                message: Said::new(
                    format!("the result has no column '{column}'"),
                    format!("结果中没有“{column}”列。"),
                ),
            });
        };
        if !(f.data_type().is_numeric()
            || (field == "label"
                && f.data_type() == &datafusion::arrow::datatypes::DataType::Boolean))
        {
            return Err(GateError::Invalid {
                field: field.into(),
                message: Said::new(
                    format!(
                        "column '{column}' is {}, not a number",
                        catalog::sql_type(f.data_type())
                    ),
                    format!(
                        "“{column}”列是 {}，不是数字。",
                        catalog::sql_type(f.data_type())
                    ),
                ),
            });
        }
    }
    // The batch decoded from the bytes whose hash was checked, never the file again;
    // read off the runtime's threads.
    let secret = settings.secret.clone();
    let (score, label) = (
        schema.index_of(&request.score).unwrap_or(0),
        schema.index_of(&request.label).unwrap_or(0),
    );
    let subject_index = schema.index_of(&subject).unwrap_or(0);
    let name = subject.clone();
    let Scored {
        scores,
        bads,
        subjects,
    } = tokio::task::spawn_blocking(move || {
        scored(
            &batch,
            score,
            label,
            subject_index,
            &name,
            &SubjectKeys::new(&secret),
        )
    })
    .await
    .map_err(|e| GateError::Internal(format!("reading the scores: {e}")))??;
    let bad = bads.iter().filter(|b| **b).count() as u64;
    let good = bads.len() as u64 - bad;
    if (scores.len() as u64) < 10 * settings.k || bad < settings.k || good < settings.k {
        return Err(GateError::TooSmall(Said::new(
            format!(
                "an evaluation needs at least {} scored rows with at least {} bads and {} goods (each decile at least {} subjects); this result has fewer (its counts are not shown: they could carry data)",
                10 * settings.k,
                settings.k,
                settings.k,
                settings.k,
            ),
            format!(
                "模型评估至少需要 {} 个有评分的行，其中坏样本和好样本各至少 {} 个（每个十分位至少 {} 个主体）；本结果不足（具体数量不显示：它们可能携带数据）。",
                10 * settings.k,
                settings.k,
                settings.k,
            ),
        )));
    }
    let rows_of = rows_per_subject(&subjects);
    let (metrics, fewest) = metrics_of(&scores, &bads, &subjects, &rows_of, settings.k, |n| {
        settings.round(n)
    });
    if (fewest as u64) < settings.k {
        return Err(GateError::TooSmall(Said::new(
            format!(
                "a score decile holds fewer than {} distinct subjects (counted by '{subject}': several rows of one subject count once); evaluate over more subjects",
                settings.k
            ),
            format!(
                "有评分十分位的不同主体少于 {} 个（按“{subject}”计数，同一主体的多行只算一次）：请在更多主体上评估。",
                settings.k
            ),
        )));
    }
    let figures = EvaluationFigures {
        job_id: job_id.clone(),
        metrics,
    };
    let output = serde_json::to_value(&figures)
        .map_err(|e| GateError::Internal(format!("writing the evaluation: {e}")))?;
    let n = rows_of.len() as i64;
    let sketches = [("all".to_owned(), n, Sketch::of(rows_of.keys().copied()))];
    let release = record(
        store,
        settings,
        Release {
            institution_id,
            job_id,
            kind: "evaluation",
            rows: 0,
            output: &output,
            request: &serde_json::to_value(request).unwrap_or_default(),
            groups: &sketches,
        },
        actor,
        request_id,
    )
    .await?;
    Ok(Released {
        figures,
        release_id: release.0,
        fingerprint: release.1,
    })
}

/// The nk-dominance rule (ACRO's default): a group whose `DOMINANCE_N` largest subjects
/// make more than `DOMINANCE_K` of a summed or averaged column's total (by absolute
/// value, each subject's rows added up) is suppressed, since its figure all but gives
/// those subjects' values — one subject repeated many times, or one very large.
pub const DOMINANCE_N: usize = 2;
/// See [`DOMINANCE_N`].
pub const DOMINANCE_K: f64 = 0.9;
/// The p% rule (ACRO's default, p = 10 %): a group is suppressed when the subjects other
/// than its two largest add up to less than p of the largest, since the second largest
/// could then estimate the largest's value to within p. With these parameters the rule
/// never fires where nk-dominance does not (were the rest below 10 % of the largest, the
/// two largest would make more than 90 % of the total); it is applied all the same, so
/// that the rules hold whatever either's parameters become.
pub const P_PERCENT: f64 = 0.10;

/// Whether a group whose subjects contribute `parts` (each subject's rows added up, by
/// absolute value) is sensitive: dominated by its largest subjects (nk-dominance) or
/// estimable by its second largest (the p% rule).
#[cfg(test)]
fn sensitive(parts: &mut [f64]) -> bool {
    parts.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = parts.iter().sum();
    let top: f64 = parts.iter().take(DOMINANCE_N).sum();
    let largest = parts.first().copied().unwrap_or(0.0);
    let second = parts.get(1).copied().unwrap_or(0.0);
    sensitive_by(total, top, largest, second)
}

/// [`sensitive`] from a group's total, the sum of its [`DOMINANCE_N`] largest parts, and
/// its largest and second largest part.
/// A total that is not a finite number (a subject's value infinite, or undefined) is
/// sensitive too: the figure would show that one subject's value.
fn sensitive_by(total: f64, top: f64, largest: f64, second: f64) -> bool {
    if !total.is_finite() {
        return true;
    }
    if total <= 0.0 {
        return false;
    }
    top > DOMINANCE_K * total || total - largest - second < P_PERCENT * largest
}

/// Hashes keys that are uniformly random already (keyed hashes of subjects) as
/// themselves: sets of a million of them cost no hashing.
#[derive(Default)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A set of subject keys ([`KeyHasher`]).
pub type KeySet = std::collections::HashSet<u64, std::hash::BuildHasherDefault<KeyHasher>>;
/// A map from subject keys ([`KeyHasher`]).
pub type KeyMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// Subjects' keys in sketches: keyed, so sketches reveal nothing of who is in a group.
///
/// A key is SipHash-2-4 of the subject under a 128-bit key derived from the gate's
/// secret (HMAC-SHA256 of "creditpool subject keys"): a pseudorandom function made for
/// short inputs, about twenty times faster than an HMAC per subject, which took half
/// the time of an aggregate or evaluation of a million subjects. Sketches recorded
/// before it (HMAC-SHA256 keys) do not match these keys; there was no deployment then.
struct SubjectKeys {
    k0: u64,
    k1: u64,
}

impl SubjectKeys {
    fn new(secret: &[u8; 32]) -> SubjectKeys {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let tag = ring::hmac::sign(&key, b"creditpool subject keys");
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&tag.as_ref()[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        SubjectKeys {
            k0: word(0),
            k1: word(8),
        }
    }

    /// The key of `subject`.
    fn of(&self, subject: &str) -> u64 {
        use std::hash::Hasher;
        let mut hasher = siphasher::sip::SipHasher24::new_with_keys(self.k0, self.k1);
        hasher.write(subject.as_bytes());
        hasher.finish()
    }
}

/// An aggregate or evaluation about to be recorded.
struct Release<'a> {
    institution_id: &'a InstitutionId,
    job_id: &'a JobId,
    kind: &'a str,
    rows: usize,
    output: &'a Value,
    request: &'a Value,
    /// Each released group: its key, its subjects (exact) and their sketch.
    groups: &'a [(String, i64, Sketch)],
}

/// Records an aggregate or evaluation release in the ledger and the audit log, within
/// the institution's daily count of such releases and only if no released group differs
/// from one the institution was given before by fewer than k subjects (differencing:
/// the two would single those subjects out). Checked and recorded in one transaction.
async fn record(
    store: &Store,
    settings: &GateSettings,
    release: Release<'_>,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<(ReleaseId, String), GateError> {
    let Release {
        institution_id,
        job_id,
        kind,
        rows,
        output,
        request,
        groups,
    } = release;
    let fingerprint =
        sha256_hex(format!("{kind}\n{institution_id}\n{job_id}\n{output}").as_bytes());
    let quota = accounts::quotas(store, institution_id)
        .await?
        .unwrap_or_default();
    let id = ReleaseId::random();
    let mut tx = store.write().await?;
    statistical_budget(store, Some(&mut tx), institution_id, &quota).await?;
    let k = settings.k as i64;
    for (key, n, sketch) in groups {
        let earlier = store
            .groups_between(&mut tx, institution_id, n - k, n + k)
            .await?;
        for (release_id, bytes) in earlier {
            let Some(before) = Sketch::from_bytes(&bytes) else {
                continue;
            };
            if let Some(d) = sketch.difference(&before)
                && d > 0
                && (d as i64) < k
            {
                return Err(GateError::Refused(Said::new(
                    format!(
                        "the group {key} differs from a group of your earlier release {release_id} by fewer than {k} subjects; the two together would single those subjects out, so this release is refused — widen or narrow the population by at least {k} subjects"
                    ),
                    format!(
                        "分组 {key} 与本机构此前发布 {release_id} 中的一个分组相差不到 {k} 个主体，两者相减即可识别这些主体，因此拒绝发布：请把总体扩大或缩小至少 {k} 个主体。"
                    ),
                )));
            }
        }
    }
    let groups: Vec<(i64, Vec<u8>)> = groups
        .iter()
        .map(|(_, n, sketch)| (*n, sketch.to_bytes()))
        .collect();
    store
        .insert_statistical(
            &mut tx,
            &NewStatistical {
                id: &id,
                institution_id,
                job_id,
                kind,
                rows: rows as i64,
                fingerprint: &fingerprint,
                released_by: actor,
                released_at: &now(),
                request: &request.to_string(),
                groups: &groups,
            },
        )
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: if kind == "aggregate" {
                "release.aggregate"
            } else {
                "release.evaluation"
            },
            subject: &id,
            detail: json!({
                "institution_id": institution_id,
                "job_id": job_id,
                "request": request,
                "fingerprint": fingerprint,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((id, fingerprint))
}

/// A release in the ledger.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LedgerEntry {
    /// The release.
    pub release_id: String,
    /// The institution that received it.
    pub institution_id: String,
    /// The job it was taken from.
    pub job_id: String,
    /// `sample`, `aggregate` or `evaluation`.
    pub kind: String,
    /// Rows released (a sample's rows; a statistical release's groups).
    pub rows: i64,
    /// SHA-256 identifying exactly what was released.
    pub fingerprint: String,
    /// Who released it.
    pub released_by: String,
    /// When (RFC 3339).
    pub released_at: String,
}

/// The ledger of releases, of one institution or of all, newest first, at most `limit`,
/// those released before `before` (a time and a release id, the last of a page) if given.
pub async fn ledger(
    store: &Store,
    institution_id: Option<&InstitutionId>,
    before: Option<(&str, &str)>,
    limit: i64,
) -> Result<Vec<LedgerEntry>, GateError> {
    Ok(store
        .release_ledger(institution_id.map(|i| i.as_str()), before, limit)
        .await?
        .into_iter()
        .map(
            |(
                release_id,
                institution_id,
                job_id,
                kind,
                rows,
                fingerprint,
                released_by,
                released_at,
            )| {
                LedgerEntry {
                    release_id,
                    institution_id,
                    job_id,
                    kind,
                    rows,
                    fingerprint,
                    released_by,
                    released_at,
                }
            },
        )
        .collect())
}

/// Hex of a random 32-byte secret.
pub fn new_secret() -> [u8; 32] {
    storage::store::random_bytes::<32>()
}

/// Reads the gate's secret from `path`, creating it (readable by the owner only) on
/// first use.
pub fn load_or_create_secret(path: &std::path::Path) -> std::io::Result<[u8; 32]> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = text.trim();
            let mut secret = [0u8; 32];
            if text.len() != 64 {
                return Err(std::io::Error::other(format!(
                    "{} does not hold a 32-byte hex key",
                    path.display()
                )));
            }
            for (i, byte) in secret.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| {
                    std::io::Error::other(format!("{} does not hold a hex key", path.display()))
                })?;
            }
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = new_secret();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            use std::io::Write;
            options.open(path)?.write_all(hex(&secret).as_bytes())?;
            Ok(secret)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_sizes_follow_the_smaller_of_the_caps() {
        let g = GateSettings::new([7; 32]);
        assert_eq!(g.sample_size(99), 0);
        assert_eq!(g.sample_size(100), 1);
        assert_eq!(g.sample_size(5_000), 50);
        assert_eq!(g.sample_size(10_000), 100);
        assert_eq!(g.sample_size(1_000_000), 100);
    }

    /// The tally finds what [`sensitive`] finds, group by group, with a subject's rows
    /// added up first.
    #[test]
    fn dominance_is_decided_per_group_over_each_subjects_total() {
        use datafusion::arrow::array::{Float64Array, StringArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        let mut rows: Vec<(&str, String, f64)> = Vec::new();
        // Group a: 50, 45 and five of 1 (dominated); subject a0's 50 comes in two rows.
        rows.push(("a", "a0".into(), 30.0));
        rows.push(("a", "a0".into(), 20.0));
        rows.push(("a", "a1".into(), 45.0));
        for i in 2..7 {
            rows.push(("a", format!("a{i}"), 1.0));
        }
        // Group b: ten of 10 (not dominated), one with its 10 in two rows.
        for i in 0..10 {
            rows.push(("b", format!("b{i}"), if i == 0 { 4.0 } else { 10.0 }));
        }
        rows.push(("b", "b0".into(), 6.0));
        let schema = std::sync::Arc::new(Schema::new(vec![
            Field::new("region", DataType::Utf8, false),
            Field::new("subject_id", DataType::Utf8, false),
            Field::new("capital", DataType::Float64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                std::sync::Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                std::sync::Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| r.1.clone()),
                )),
                std::sync::Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .expect("batch");
        let keys = SubjectKeys::new(&[7; 32]);
        let subjects = tally::subject_keys(&batch, 1, "subject_id", &keys).expect("keys");
        let dominated = |by: &[usize]| {
            let groups = tally::Groups::of(&batch, by).expect("groups");
            let tally = tally::Tally::of(&batch, &groups, &subjects, &[2]).expect("tally");
            (0..groups.len())
                .map(|g| tally.dominated(g))
                .collect::<Vec<_>>()
        };
        // By region: a (first in key order) is dominated, b is not.
        assert_eq!(dominated(&[0]), [true, false]);
        // One overall group: a and b together are not dominated.
        assert_eq!(dominated(&[]), [false]);
    }

    /// The one-pass tally agrees with counting the slow way: groups in key order (empty
    /// keys last), distinct subjects, sums and means without nulls, and dominance over
    /// each subject's rows added up, on pseudo-random results with repeated subjects,
    /// empty keys and empty values.
    #[test]
    fn the_tally_agrees_with_counting_group_by_group() {
        use datafusion::arrow::array::{Float64Array, Int64Array, StringArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use std::collections::BTreeMap;
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for round in 0..20 {
            let rows = 1 + next(3_000) as usize;
            let spread = 1 + next(400);
            let region: Vec<Option<String>> = (0..rows)
                .map(|_| (next(9) > 0).then(|| format!("r{}", next(4))))
                .collect();
            let size: Vec<i64> = (0..rows).map(|_| next(3) as i64).collect();
            let subject: Vec<String> = (0..rows).map(|_| format!("s{}", next(spread))).collect();
            let value: Vec<Option<f64>> = (0..rows)
                .map(|_| (next(7) > 0).then(|| next(1_000) as f64 - 100.0))
                .collect();
            let batch = RecordBatch::try_new(
                std::sync::Arc::new(Schema::new(vec![
                    Field::new("region", DataType::Utf8, true),
                    Field::new("size", DataType::Int64, false),
                    Field::new("subject_id", DataType::Utf8, false),
                    Field::new("value", DataType::Float64, true),
                ])),
                vec![
                    std::sync::Arc::new(StringArray::from(region.clone())),
                    std::sync::Arc::new(Int64Array::from(size.clone())),
                    std::sync::Arc::new(StringArray::from(subject.clone())),
                    std::sync::Arc::new(Float64Array::from(value.clone())),
                ],
            )
            .expect("batch");
            let keys = SubjectKeys::new(&[round as u8; 32]);
            let subjects = tally::subject_keys(&batch, 2, "subject_id", &keys).expect("keys");
            let groups = tally::Groups::of(&batch, &[0, 1]).expect("groups");
            let tally = tally::Tally::of(&batch, &groups, &subjects, &[3]).expect("tally");
            // The slow way: empty regions sort last (`None` mapped above every name).
            let mut expected: BTreeMap<(Option<()>, String, i64), BTreeMap<String, f64>> =
                BTreeMap::new();
            let mut sums: BTreeMap<(Option<()>, String, i64), (f64, u64)> = BTreeMap::new();
            for i in 0..rows {
                let key = (
                    region[i].as_ref().map_or(Some(()), |_| None),
                    region[i].clone().unwrap_or_default(),
                    size[i],
                );
                let part = expected
                    .entry(key.clone())
                    .or_default()
                    .entry(subject[i].clone())
                    .or_default();
                let sum = sums.entry(key).or_default();
                if let Some(v) = value[i] {
                    *part += v.abs();
                    sum.0 += v;
                    sum.1 += 1;
                }
            }
            assert_eq!(groups.len(), expected.len(), "round {round}");
            for (g, (key, parts)) in expected.iter().enumerate() {
                let row = groups.first_rows[g];
                assert_eq!(
                    region[row].clone().unwrap_or_default(),
                    key.1,
                    "round {round}"
                );
                assert_eq!(size[row], key.2, "round {round}");
                assert_eq!(tally.subjects(g), parts.len() as u64, "round {round}");
                let (sum, values) = sums[key];
                let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                    (Some(a), Some(b)) => (a - b).abs() < 1e-6 * (1.0 + b.abs()),
                    (a, b) => a.is_none() && b.is_none(),
                };
                assert!(close(tally.sum(g, 0), (values > 0).then_some(sum)));
                assert!(close(
                    tally.mean(g, 0),
                    (values > 0).then(|| sum / values as f64)
                ));
                let mut parts: Vec<f64> = parts.values().copied().collect();
                assert_eq!(
                    tally.dominated(g),
                    super::sensitive(&mut parts),
                    "round {round}"
                );
            }
            // Every subject of a released group is in its sketch, and only those.
            let sketches = tally.sketches(|g| g % 2 == 0);
            for (g, (_, parts)) in expected.iter().enumerate() {
                let Some(sketch) = &sketches[g] else {
                    assert_eq!(g % 2, 1);
                    continue;
                };
                let again = Sketch::of(parts.keys().map(|s| keys.of(s)));
                assert_eq!(sketch.difference(&again), Some(0), "round {round}");
            }
        }
    }

    #[test]
    fn a_figure_that_is_not_finite_is_sensitive() {
        let sensitive = |parts: &[f64]| super::sensitive(&mut parts.to_vec());
        assert!(sensitive(&[
            f64::INFINITY,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0
        ]));
        assert!(sensitive(&[f64::NAN, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]));
    }

    #[test]
    fn groups_dominated_by_few_subjects_or_estimable_by_the_second_largest_are_sensitive() {
        let sensitive = |parts: &[f64]| super::sensitive(&mut parts.to_vec());
        // Ten equal subjects: neither rule.
        assert!(!sensitive(&[10.0; 10]));
        // nk-dominance: the two largest make 95 % of the total.
        assert!(sensitive(&[50.0, 45.0, 1.0, 1.0, 1.0, 1.0, 1.0]));
        // One subject repeated (its rows added up) dominates as one.
        assert!(sensitive(&[1_000.0, 5.0, 5.0, 5.0, 5.0, 5.0]));
        // The two largest at 90 % exactly are not "more than 90 %"; the rest is 11 % of
        // the largest, above p.
        assert!(!sensitive(&[50.0, 40.0, 2.5, 2.5, 2.5, 2.5]));
        // Nothing to protect in a zero total; order does not matter.
        assert!(!sensitive(&[0.0; 10]));
        assert!(sensitive(&[1.0, 1.0, 1.0, 1.0, 45.0, 50.0, 1.0]));
        // With ACRO's parameters the p% rule fires only where nk-dominance does: over
        // many pseudo-random groups, never one without the other.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 1_000) as f64
        };
        for _ in 0..20_000 {
            let len = 2 + (next() as usize % 12);
            let mut parts: Vec<f64> = (0..len).map(|_| next()).collect();
            let total: f64 = parts.iter().sum();
            parts.sort_by(|a, b| b.total_cmp(a));
            let p_rule = total > 0.0 && total - parts[0] - parts[1] < P_PERCENT * parts[0];
            let nk = total > 0.0 && parts[0] + parts[1] > DOMINANCE_K * total;
            assert!(!p_rule || nk, "{parts:?}");
            assert_eq!(super::sensitive(&mut parts), nk, "{parts:?}");
        }
    }

    #[test]
    fn computed_numbers_keep_four_significant_figures() {
        assert_eq!(round_significant(211_199_999.9, 4), 211_200_000.0);
        assert_eq!(round_significant(0.000_123_456, 4), 0.000_123_5);
        assert_eq!(round_significant(-98_765.4, 4), -98_770.0);
        assert_eq!(round_significant(0.0, 4), 0.0);
        assert!(round_significant(f64::NAN, 4).is_nan());
    }

    #[test]
    fn counts_round_to_the_nearest_multiple() {
        let g = GateSettings::new([7; 32]);
        assert_eq!(
            [
                g.round(10),
                g.round(12),
                g.round(13),
                g.round(17),
                g.round(18)
            ],
            [10, 10, 15, 15, 20]
        );
    }

    #[test]
    fn metrics_of_a_perfect_and_a_useless_score() {
        let scores: Vec<f64> = (0..200).map(f64::from).collect();
        let bads: Vec<bool> = (0..200).map(|i| i >= 150).collect();
        let subjects: Vec<u64> = (0..200).collect();
        let (m, fewest) = metrics(&scores, &bads, &subjects, 10, |n| n);
        assert_eq!(fewest, 20);
        assert_eq!(m.auc, 1.0);
        assert_eq!(m.gini, 1.0);
        assert_eq!(m.ks, 1.0);
        assert_eq!(m.deciles[0].bad_rate, 1.0);
        assert_eq!(m.deciles[9].bad_rate, 0.0);
        let flat = vec![1.0; 200];
        let (m, _) = metrics(&flat, &bads, &subjects, 10, |n| n);
        assert_eq!(m.auc, 0.5);
        assert_eq!(m.ks, 0.0);
        // Rows repeated for a few subjects: deciles are counted in distinct subjects.
        let few: Vec<u64> = (0..200).map(|i| i % 5).collect();
        let (m, fewest) = metrics(&scores, &bads, &few, 10, |n| n);
        assert_eq!(fewest, 5);
        assert_eq!(m.subjects, 5);
        assert_eq!(m.scored_rows, 200);
    }

    #[test]
    fn a_subject_with_many_rows_weighs_what_one_with_a_single_row_does() {
        // Ten subjects in one decile-sized population, one of them bad with 1,000 rows:
        // weighed by rows, the bad rate would be 1000/1009 and give its label away.
        let mut scores = Vec::new();
        let mut bads = Vec::new();
        let mut subjects = Vec::new();
        for s in 0..100u64 {
            let rows = if s == 0 { 1_000 } else { 1 };
            for _ in 0..rows {
                scores.push(s as f64);
                bads.push(s % 10 == 0);
                subjects.push(s);
            }
        }
        let (m, _) = metrics(&scores, &bads, &subjects, 10, |n| n);
        assert_eq!(m.bad_rate, 0.1, "ten bad subjects of 100: {m:?}");
        // The subject of 1,000 rows fills the lowest deciles; there it counts once.
        let lowest = &m.deciles[9];
        assert_eq!(lowest.subjects, 1, "{m:?}");
        assert_eq!(lowest.bad_rate, 1.0);
        // The same population with one row a subject gives the same AUC and KS.
        let once: Vec<usize> = (0..scores.len())
            .filter(|i| *i == 0 || subjects[*i] != subjects[*i - 1])
            .collect();
        let pick = |v: &[f64]| once.iter().map(|i| v[*i]).collect::<Vec<_>>();
        let (one_row, _) = metrics(
            &pick(&scores),
            &once.iter().map(|i| bads[*i]).collect::<Vec<_>>(),
            &once.iter().map(|i| subjects[*i]).collect::<Vec<_>>(),
            10,
            |n| n,
        );
        assert_eq!(m.auc, one_row.auc);
        assert_eq!(m.ks, one_row.ks);
        assert_eq!(m.bad_rate, one_row.bad_rate);
    }

    #[test]
    fn with_one_row_per_subject_the_auc_is_the_plain_auc() {
        let scores: Vec<f64> = (0..500).map(|i| ((i * 37) % 101) as f64).collect();
        let bads: Vec<bool> = (0..500)
            .map(|i| (i * 37) % 101 > 60 || i % 7 == 0)
            .collect();
        let subjects: Vec<u64> = (0..500).collect();
        let ours = metrics(&scores, &bads, &subjects, 10, |n| n).0.auc;
        let labels: Vec<f64> = bads.iter().map(|b| f64::from(u8::from(*b))).collect();
        let theirs = evaluation::auc(&scores, &labels);
        assert!((ours - theirs).abs() < 1e-4, "{ours} vs {theirs}");
    }
}
