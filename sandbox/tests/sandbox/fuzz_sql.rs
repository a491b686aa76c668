//! Fuzzing SQL text to plan (issue 17, item 3), as a property with a fixed budget: deep
//! nesting and long expressions of every shape the parser and the planner recurse on
//! are answered with a clear refusal (or run, when shallow enough), on a job's thread
//! as the worker runs it — never a stack overflow, which would take the process down.
//! Failing inputs proptest finds are kept beside this file
//! (`fuzz_sql.proptest-regressions`) and run first on every later run.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use proptest::prelude::*;
use sandbox::{
    CancelToken, JOB_THREAD_STACK, JobError, JobLimits, MAX_EXPRESSION_DEPTH, Sandbox,
    SandboxConfig, job_session, run_job,
};

fn shared_sandbox() -> Arc<Sandbox> {
    static SANDBOX: OnceLock<Arc<Sandbox>> = OnceLock::new();
    SANDBOX
        .get_or_init(|| Arc::new(Sandbox::new(SandboxConfig::default()).expect("sandbox")))
        .clone()
}

/// `sql` planned and run as a job is, on a thread with a job thread's stack.
fn run_on_a_job_thread(sql: String) -> Result<(), JobError> {
    std::thread::Builder::new()
        .stack_size(JOB_THREAD_STACK)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let limits = JobLimits {
                    memory_bytes: 64 << 20,
                    timeout: Duration::from_secs(20),
                    max_result_bytes: 1 << 20,
                };
                let ctx = job_session(&limits)?;
                let dir = tempfile::tempdir().expect("tmp");
                let out = dir.path().join("result.parquet");
                run_job(
                    &ctx,
                    shared_sandbox(),
                    &[],
                    &sql,
                    &out,
                    &limits,
                    &CancelToken::new(),
                )
                .await
                .map(|_| ())
            })
        })
        .expect("a thread")
        .join()
        .expect("the job's thread ends without crashing")
}

/// SQL of one nesting shape, `depth` deep.
fn nested(shape: u8, depth: usize) -> String {
    match shape {
        0 => format!("SELECT {}1{} AS x", "(".repeat(depth), ")".repeat(depth)),
        1 => format!("SELECT 1{} AS x", " + 1".repeat(depth)),
        2 => format!("SELECT {}1 AS x", "- ".repeat(depth)),
        3 => format!("SELECT {}true AS x", "NOT ".repeat(depth)),
        4 => format!("SELECT {}1{} AS x", "abs(".repeat(depth), ")".repeat(depth)),
        5 => format!(
            "SELECT {}1{} AS x",
            "CASE WHEN true THEN ".repeat(depth),
            " END".repeat(depth)
        ),
        6 => format!(
            "{}SELECT 1 AS x{}",
            "SELECT * FROM (".repeat(depth),
            ") t".repeat(depth)
        ),
        7 => format!(
            "SELECT 1 AS x WHERE {}",
            vec!["1 = 1"; depth + 1].join(" AND ")
        ),
        _ => format!(
            "SELECT {}1{} AS x",
            "coalesce(NULL, ".repeat(depth),
            ")".repeat(depth)
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::SourceParallel("proptest-regressions")
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn deep_or_long_sql_is_refused_plainly_never_a_crash(
        shape in 0u8..9,
        depth in prop_oneof![1usize..64, 200usize..320, 1_000usize..4_000],
    ) {
        let sql = nested(shape, depth);
        match run_on_a_job_thread(sql) {
            Ok(()) => prop_assert!(
                depth <= MAX_EXPRESSION_DEPTH,
                "shape {shape} of depth {depth} ran past the limit"
            ),
            Err(JobError::Sql(refusal)) => prop_assert!(!refusal.message.is_empty()),
            Err(other) => prop_assert!(false, "shape {shape} of depth {depth}: {other}"),
        }
    }
}

/// The corpus kept in the repository (`fuzz/corpus/sql`, one input a file): the shapes
/// that once crashed or misbehaved and their neighbours, replayed on every run. Each is
/// run or refused with a message on a job's thread, never a crash.
#[test]
fn every_sql_of_the_corpus_is_run_or_refused_plainly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/sql");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz/corpus/sql")
        .map(|e| e.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "{} inputs", inputs.len());
    for path in inputs {
        let sql = std::fs::read_to_string(&path).expect("SQL text");
        if let Err(refused) = run_on_a_job_thread(sql) {
            assert!(!refused.to_string().is_empty(), "{}", path.display());
        }
    }
}
