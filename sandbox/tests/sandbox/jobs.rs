//! Jobs: SQL calling a model over registered Parquet tables, the read-only SQL rules,
//! limits and cancellation.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use datafusion::prelude::SessionContext;
use sandbox::{
    CancelToken, JobError, JobLimits, Limit, Model, Sandbox, SandboxConfig, SandboxError,
    job_session, run_job,
};

use crate::{LINEAR_WAT, variant, wasm};

fn data() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().to_path_buf();
        samples::generate(
            &samples::GenerateOptions {
                scale: 0.01,
                seed: 1,
                as_of: samples::default_as_of(),
                out: path.clone(),
                threads: 0,
            },
            &|_| {},
        )
        .expect("generate");
        (dir, path)
    });
    p
}

/// A job session holding only the granted tables.
async fn session(limits: &JobLimits) -> SessionContext {
    let ctx = job_session(limits).expect("session");
    let catalog = catalog::Catalog::open(data()).expect("catalog");
    catalog
        .register(
            &ctx,
            &["enterprises", "admin_penalties", "abnormal_operations"],
        )
        .await
        .expect("register");
    ctx
}

fn sandbox(config: SandboxConfig) -> Arc<Sandbox> {
    Arc::new(
        Sandbox::new(SandboxConfig {
            max_concurrent_instances: 8,
            ..config
        })
        .expect("sandbox"),
    )
}

const FEATURES: &str = "FROM enterprises e \
    LEFT JOIN (SELECT subject_id, CAST(COUNT(*) AS DOUBLE) AS n FROM admin_penalties GROUP BY subject_id) p ON p.subject_id = e.subject_id \
    LEFT JOIN (SELECT subject_id, CAST(COUNT(*) AS DOUBLE) AS n FROM abnormal_operations GROUP BY subject_id) a ON a.subject_id = e.subject_id";

fn score_sql(expression: &str) -> String {
    format!("SELECT e.uscc, {expression} AS score {FEATURES}")
}

const MODEL_CALL: &str = "linear_score(COALESCE(p.n, 0), COALESCE(a.n, 0), CAST(2026 - date_part('year', e.establishment_date) AS DOUBLE))";
const PLAIN_SQL: &str = "600 - 50 * COALESCE(p.n, 0) - 30 * COALESCE(a.n, 0) + 5 * CAST(2026 - date_part('year', e.establishment_date) AS DOUBLE)";

async fn job(
    s: &Arc<Sandbox>,
    models: &[Model],
    sql: &str,
    out: &Path,
    limits: &JobLimits,
    cancel: &CancelToken,
) -> Result<sandbox::JobReport, JobError> {
    let ctx = session(limits).await;
    run_job(&ctx, s.clone(), models, sql, out, limits, cancel).await
}

#[tokio::test]
async fn a_model_in_sql_agrees_with_the_same_formula_in_plain_sql() {
    let s = sandbox(SandboxConfig::default());
    let model = s.load(&wasm(LINEAR_WAT)).expect("load");
    let dir = tempfile::tempdir().expect("tmp");
    let limits = JobLimits::default();
    let report = job(
        &s,
        &[model],
        &score_sql(MODEL_CALL),
        &dir.path().join("wasm.parquet"),
        &limits,
        &CancelToken::new(),
    )
    .await
    .expect("model job");
    let plain = job(
        &s,
        &[],
        &score_sql(PLAIN_SQL),
        &dir.path().join("sql.parquet"),
        &limits,
        &CancelToken::new(),
    )
    .await
    .expect("plain job");
    assert_eq!(report.rows_out, 1000);
    assert_eq!(plain.rows_out, 1000);
    assert_eq!(report.models.rows, 1000);
    assert!(report.models.batches >= 1 && report.models.fuel > 0);
    // CPU time is measured, and no more than every core busy for the whole job.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    assert!(
        report.models.cpu > std::time::Duration::ZERO && report.models.cpu <= report.wall * cores,
        "cpu {:?} wall {:?}",
        report.models.cpu,
        report.wall
    );
    assert!(report.rows_in >= 1000, "rows read: {}", report.rows_in);
    let (a, b) = (
        tests::keyed_scores(&report.result),
        tests::keyed_scores(&plain.result),
    );
    assert_eq!(a.len(), 1000);
    for (uscc, score) in &a {
        assert_eq!(Some(score), b.get(uscc), "{uscc}");
    }
    assert!(!dir.path().join("wasm.parquet.partial").exists());
}

#[tokio::test]
async fn write_and_escape_attempts_are_refused_and_write_nothing() {
    let s = sandbox(SandboxConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("r.parquet");
    for (sql, expected) in [
        ("CREATE TABLE x AS SELECT 1", "DDL"),
        (
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc/'",
            "DDL",
        ),
        ("DROP TABLE enterprises", "DDL"),
        ("CREATE VIEW v AS SELECT * FROM enterprises", "DDL"),
        (
            "COPY (SELECT * FROM enterprises) TO '/tmp/leak.parquet'",
            "DML",
        ),
        ("INSERT INTO enterprises SELECT * FROM enterprises", "DML"),
        ("SET datafusion.execution.batch_size = 1", "Statement"),
        ("SELECT * FROM '/etc/passwd'", "not found"),
        (
            "SELECT * FROM 'https://example.com/data.parquet'",
            "not found",
        ),
        ("SELECT * FROM persons", "persons"),
        ("SELECT * FROM information_schema.tables", "not found"),
        ("SELECT * FROM read_parquet('/etc/passwd')", "read_parquet"),
        (
            "SELEC uscc FROM enterprises",
            "syntax error: Expected: an SQL statement, found: SELEC (at line 1, column 1)",
        ),
        (
            "SELECT uscc FROM enterprises WHERE uscc = = 1",
            "found: = (at line 1, column 43)",
        ),
    ] {
        let e = job(
            &s,
            &[],
            sql,
            &out,
            &JobLimits::default(),
            &CancelToken::new(),
        )
        .await
        .expect_err(sql);
        assert!(matches!(e, JobError::Sql(_)), "{sql}: {e:?}");
        assert!(e.to_string().contains(expected), "{sql}: {e}");
        assert!(
            !out.exists() && !dir.path().join("r.parquet.partial").exists(),
            "{sql} left a file"
        );
    }
    assert!(!Path::new("/tmp/leak.parquet").exists());
}

#[tokio::test]
async fn sql_that_does_not_plan_is_refused_before_reading_with_its_position() {
    // Issue 17: a job is planned when it is submitted, and a refusal says where.
    let s = sandbox(SandboxConfig::default());
    let limits = JobLimits::default();
    for (sql, words, line, column) in [
        ("SELEC uscc FROM enterprises", "found: SELEC", 1, 1),
        (
            "SELECT uscc\nFROM enterprises\nWHERE uscc = = 1",
            "found: =",
            3,
            14,
        ),
        ("SELECT uscc FROM enterprise", "enterprise", 1, 18),
        ("SELECT usc FROM enterprises", "usc", 1, 8),
        (
            "SELECT uscc,\n  no_such_function(uscc) FROM enterprises",
            "no_such_function",
            2,
            3,
        ),
    ] {
        let ctx = session(&limits).await;
        let refused = sandbox::plan_job(&ctx, s.clone(), &[], sql, &limits)
            .await
            .expect_err(sql);
        let JobError::Sql(refusal) = refused else {
            panic!("{sql}: {refused:?}");
        };
        assert!(refusal.message.contains(words), "{sql}: {refusal}");
        assert!(!refusal.message.contains("Line:"), "{sql}: {refusal}");
        assert_eq!(
            refusal.at,
            Some(sandbox::SqlPosition { line, column }),
            "{sql}: {refusal}"
        );
    }
    // SQL that plans is accepted.
    let ctx = session(&limits).await;
    sandbox::plan_job(
        &ctx,
        s.clone(),
        &[],
        "SELECT COUNT(*) AS n FROM enterprises",
        &limits,
    )
    .await
    .expect("plans");
}

#[tokio::test]
async fn a_failing_model_fails_the_job_naming_the_model_and_leaves_no_result() {
    let s = sandbox(SandboxConfig {
        fuel_per_batch: 10_000_000,
        ..SandboxConfig::default()
    });
    let looping = s
        .load(&variant(&[(
            "(local.set $rows (i32.load offset=4 (local.get $in)))",
            "(loop $l (br $l))",
        )]))
        .expect("load");
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("r.parquet");
    let e = job(
        &s,
        &[looping],
        &score_sql(MODEL_CALL),
        &out,
        &JobLimits::default(),
        &CancelToken::new(),
    )
    .await
    .expect_err("fails");
    match &e {
        JobError::Model(SandboxError::LimitExceeded { model, limit, .. }) => {
            assert_eq!(model, "linear_score");
            assert_eq!(*limit, Limit::Fuel);
        }
        other => panic!("{other:?}"),
    }
    assert!(!out.exists() && !dir.path().join("r.parquet.partial").exists());
    // The next job runs normally.
    let good = s.load(&wasm(LINEAR_WAT)).expect("load");
    job(
        &s,
        &[good],
        &score_sql(MODEL_CALL),
        &out,
        &JobLimits::default(),
        &CancelToken::new(),
    )
    .await
    .expect("next job");
}

fn slow_sandbox() -> Arc<Sandbox> {
    sandbox(SandboxConfig {
        fuel_per_batch: u64::MAX / 4,
        batch_timeout: Duration::from_secs(60),
        ..SandboxConfig::default()
    })
}

fn looping(s: &Sandbox) -> Model {
    s.load(&variant(&[(
        "(local.set $rows (i32.load offset=4 (local.get $in)))",
        "(loop $l (br $l))",
    )]))
    .expect("load")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_interrupts_a_guest_in_the_middle_of_a_batch() {
    let s = slow_sandbox();
    let model = looping(&s);
    let dir = tempfile::tempdir().expect("tmp");
    let cancel = CancelToken::new();
    let trigger = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        trigger.cancel();
    });
    let started = Instant::now();
    let e = job(
        &s,
        &[model],
        &score_sql(MODEL_CALL),
        &dir.path().join("r.parquet"),
        &JobLimits::default(),
        &cancel,
    )
    .await
    .expect_err("cancelled");
    assert!(matches!(e, JobError::Cancelled), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_time_limit_interrupts_a_guest_too() {
    let s = slow_sandbox();
    let model = looping(&s);
    let dir = tempfile::tempdir().expect("tmp");
    let limits = JobLimits {
        timeout: Duration::from_millis(400),
        ..JobLimits::default()
    };
    let started = Instant::now();
    let e = job(
        &s,
        &[model],
        &score_sql(MODEL_CALL),
        &dir.path().join("r.parquet"),
        &limits,
        &CancelToken::new(),
    )
    .await
    .expect_err("times out");
    assert!(matches!(e, JobError::Timeout { limit_ms: 400 }), "{e:?}");
    assert!(e.to_string().contains("400 ms"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_query_over_its_memory_limit_fails_clearly() {
    let s = sandbox(SandboxConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let limits = JobLimits {
        memory_bytes: 256 << 10,
        ..JobLimits::default()
    };
    let sql = "SELECT a.subject_id, b.name FROM enterprises a JOIN enterprises b ON a.region_code = b.region_code ORDER BY b.name, a.subject_id";
    let e = job(
        &s,
        &[],
        sql,
        &dir.path().join("r.parquet"),
        &limits,
        &CancelToken::new(),
    )
    .await
    .expect_err("over memory");
    assert!(matches!(e, JobError::Memory { limit_mib: 0 }), "{e:?}");
}

#[tokio::test]
async fn a_result_past_its_size_limit_fails_and_leaves_no_file() {
    let s = sandbox(SandboxConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let limits = JobLimits {
        max_result_bytes: 16 << 10,
        ..JobLimits::default()
    };
    let out = dir.path().join("r.parquet");
    let e = job(
        &s,
        &[],
        "SELECT subject_id, name, region_code FROM enterprises",
        &out,
        &limits,
        &CancelToken::new(),
    )
    .await
    .expect_err("too large");
    assert!(
        matches!(e, JobError::ResultTooLarge { limit_bytes } if limit_bytes == 16 << 10),
        "{e:?}"
    );
    assert!(e.to_string().contains("16384 bytes"), "{e}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert!(left.is_empty(), "{left:?}");
    // The same job under the default limit succeeds.
    job(
        &s,
        &[],
        "SELECT subject_id, name, region_code FROM enterprises",
        &out,
        &JobLimits::default(),
        &CancelToken::new(),
    )
    .await
    .expect("fits");
    assert!(out.is_file());
}

#[tokio::test]
async fn models_compose_in_one_query() {
    let s = sandbox(SandboxConfig::default());
    let score = s.load(&wasm(LINEAR_WAT)).expect("load");
    let band = s
        .load(&wasm(include_str!("../../../samples/models/risk_band.wat")))
        .expect("load");
    let dir = tempfile::tempdir().expect("tmp");
    let sql = format!(
        "SELECT risk_band({MODEL_CALL}) AS band, COUNT(*) AS n {FEATURES} GROUP BY 1 ORDER BY 1"
    );
    let report = job(
        &s,
        &[score, band],
        &sql,
        &dir.path().join("bands.parquet"),
        &JobLimits::default(),
        &CancelToken::new(),
    )
    .await
    .expect("job");
    assert!(
        report.rows_out >= 1 && report.rows_out <= 3,
        "{}",
        report.rows_out
    );
    assert_eq!(
        report.models.rows, 2000,
        "each model scored every enterprise"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_sql_that_produces_no_batch_for_a_long_time() {
    // A triple self-join under an aggregate: a billion rows, and no output batch until
    // the end. Cancellation must not wait for one.
    let s = sandbox(SandboxConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let cancel = CancelToken::new();
    let trigger = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        trigger.cancel();
    });
    let started = Instant::now();
    let e = job(
        &s,
        &[],
        "SELECT COUNT(*) FROM enterprises a, enterprises b, enterprises c \
         WHERE a.name <> b.name OR b.name <> c.name",
        &dir.path().join("r.parquet"),
        &JobLimits::default(),
        &cancel,
    )
    .await
    .expect_err("cancelled");
    assert!(matches!(e, JobError::Cancelled), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(!dir.path().join("r.parquet").exists());
}

#[tokio::test]
async fn errors_while_running_never_quote_the_data() {
    // A cast error would name the value it failed on: the job says what kind of failure
    // it was, not the value.
    let s = sandbox(SandboxConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let e = job(
        &s,
        &[],
        "SELECT CAST(name AS INT) FROM enterprises",
        &dir.path().join("r.parquet"),
        &JobLimits::default(),
        &CancelToken::new(),
    )
    .await
    .expect_err("the cast fails");
    let message = e.to_string();
    assert!(message.contains("could not be converted"), "{message}");
    assert!(
        !message.contains("公司") && !message.contains("有限"),
        "{message}"
    );
    // Such a failure can depend on the data: it is counted against the institution's
    // failures (issue 14, class 5).
    assert!(matches!(e, JobError::Execution(_)), "{e:?}");
    assert!(e.depends_on_data());
    // Planning errors, which speak only of the query, stay precise, and depend on the
    // query alone.
    let e = job(
        &s,
        &[],
        "SELECT no_such_column FROM enterprises",
        &dir.path().join("r.parquet"),
        &JobLimits::default(),
        &CancelToken::new(),
    )
    .await
    .expect_err("unknown column");
    assert!(e.to_string().contains("no_such_column"), "{e}");
    assert!(!e.depends_on_data(), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_sql_is_refused_by_name_and_never_overflows_a_stack() {
    // Issue 14 (class 7), issue 17: one expression of 3,000 terms (about 6 KB of SQL)
    // used to overflow the job thread's stack and abort the whole server. Jobs run on the
    // job queue's runtime, as the gateway runs them.
    let queue = sandbox::JobQueue::new(1).expect("queue");
    let s = sandbox(SandboxConfig::default());
    let dir = tempfile::tempdir().expect("tmp");
    let run = |sql: String, name: &str| {
        let (s, out) = (s.clone(), dir.path().join(name));
        queue.submit(Box::new(move |cancel: CancelToken| {
            Box::pin(async move {
                let limits = JobLimits::default();
                let ctx = session(&limits).await;
                run_job(&ctx, s, &[], &sql, &out, &limits, &cancel).await
            })
        }))
    };
    let terms = |n: usize, op: &str| (0..n).map(|i| format!("{i}")).collect::<Vec<_>>().join(op);
    let long = run(
        format!("SELECT {} AS total FROM enterprises", terms(3_000, " + ")),
        "long.parquet",
    );
    let concatenated = run(
        format!(
            "SELECT uscc FROM enterprises WHERE name = {}",
            (0..3_000).map(|_| "name").collect::<Vec<_>>().join(" || ")
        ),
        "concat.parquet",
    );
    let nested = run(
        format!(
            "SELECT {}1{} FROM enterprises",
            "(".repeat(500),
            ")".repeat(500)
        ),
        "nested.parquet",
    );
    // At the limit a job runs.
    let deepest = run(
        format!(
            "SELECT {} AS total FROM enterprises",
            terms(sandbox::MAX_EXPRESSION_DEPTH - 10, " + ")
        ),
        "deepest.parquet",
    );
    for (id, expected) in [
        (long, "nested more than 256 deep"),
        (concatenated, "nested more than 256 deep"),
        (nested, "nested too deeply"),
    ] {
        let status = queue.wait(id).await.expect("ended");
        let error = status.outcome.expect("an outcome").expect_err("refused");
        assert!(matches!(error, JobError::Sql(_)), "{error:?}");
        assert!(error.to_string().contains(expected), "{error}");
    }
    let status = queue.wait(deepest).await.expect("ended");
    let report = status.outcome.expect("an outcome").expect("runs");
    assert!(report.rows_out > 0);
    assert!(!dir.path().join("long.parquet").exists());
    // The queue still runs jobs: nothing crashed.
    let after = run("SELECT uscc FROM enterprises".into(), "after.parquet");
    assert!(
        queue
            .wait(after)
            .await
            .expect("ended")
            .outcome
            .expect("o")
            .is_ok()
    );
}

#[test]
fn plan_depth_is_measured_without_recursion() {
    // Built and dropped on a large stack (both recurse), measured on a small one.
    use datafusion::logical_expr::{Expr, LogicalPlanBuilder, lit};
    let depths = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let mut expr: Expr = lit(0i64);
            for i in 1..1_500i64 {
                expr = expr + lit(i);
            }
            let plan = LogicalPlanBuilder::empty(true)
                .project(vec![expr])
                .expect("project")
                .build()
                .expect("plan");
            let depths = std::thread::scope(|scope| {
                std::thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn_scoped(scope, || sandbox::plan_depths(&plan))
                    .expect("thread")
                    .join()
                    .expect("measured on 64 KiB of stack")
            });
            drop(plan);
            depths
        })
        .expect("thread")
        .join()
        .expect("built");
    assert_eq!(depths, (1_500, 2));
}
