//! The optional `creditpool.log` import (ABI §6): kept up to 4 KiB a batch, the rest
//! counted; bad pointers are ignored, never trusted.

use sandbox::{CancelToken, JobLimits, job_session, run_job};

use crate::{assert_healthy, inputs, sandbox, variant};

const SCORE_START: &str = "(local.set $rows (i32.load offset=4 (local.get $in)))";

/// The linear model, importing the log and calling it with `call` at the start of each
/// batch; the message "batch scored" sits at address 64.
fn logging_model(call: &str) -> Vec<u8> {
    variant(&[
        (
            "(module\n",
            "(module\n  (import \"creditpool\" \"log\" (func $log (param i32 i32)))\n  (data (i32.const 64) \"batch scored\")\n",
        ),
        (SCORE_START, &format!("{call}\n    {SCORE_START}")),
    ])
}

#[test]
fn a_model_may_log_and_the_text_reaches_the_batch_usage() {
    let s = sandbox();
    let model = s
        .load(&logging_model("(call $log (i32.const 64) (i32.const 12))"))
        .expect("a model importing creditpool.log loads");
    let (_, usage) = s
        .run_batch(&model, &inputs(&[1.0], &[0.0], &[2.0]))
        .expect("batch");
    assert_eq!(usage.log, "batch scored");
    assert_eq!(usage.log_dropped, 0);
}

#[test]
fn log_text_over_four_kib_a_batch_is_dropped_and_counted() {
    let s = sandbox();
    // 1,000 calls of 12 bytes: 12,000 bytes, of which 4,096 are kept.
    let model = s
        .load(&logging_model(
            "(local.set $i (i32.const 0))
    (block $done (loop $again
      (br_if $done (i32.ge_u (local.get $i) (i32.const 1000)))
      (call $log (i32.const 64) (i32.const 12))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $again)))
    (local.set $i (i32.const 0))",
        ))
        .expect("loads");
    let (out, usage) = s
        .run_batch(&model, &inputs(&[1.0], &[0.0], &[2.0]))
        .expect("the batch still scores");
    assert_eq!(out.len(), 1);
    assert_eq!(usage.log.len(), 4096);
    assert_eq!(usage.log_dropped, 12_000 - 4096);
}

#[test]
fn a_log_call_with_a_pointer_outside_memory_is_ignored() {
    let s = sandbox();
    let model = s
        .load(&logging_model(
            "(call $log (i32.const 0x7ffffff0) (i32.const 100))
    (call $log (i32.const 64) (i32.const -1))",
        ))
        .expect("loads");
    let (out, usage) = s
        .run_batch(&model, &inputs(&[1.0], &[0.0], &[2.0]))
        .expect("the batch still scores");
    assert_eq!(out.len(), 1);
    assert_eq!(usage.log, "");
    assert_healthy(&s);
}

#[tokio::test]
async fn a_jobs_report_carries_the_models_log() {
    let s = std::sync::Arc::new(sandbox());
    let model = s
        .load(&logging_model("(call $log (i32.const 64) (i32.const 12))"))
        .expect("loads");
    let limits = JobLimits::default();
    let ctx = job_session(&limits).expect("session");
    let dir = tempfile::tempdir().expect("tmp");
    let report = run_job(
        &ctx,
        s.clone(),
        &[model],
        "SELECT linear_score(1.0, 0.0, 2.0) AS score",
        &dir.path().join("out.parquet"),
        &limits,
        &CancelToken::new(),
    )
    .await
    .expect("job");
    assert!(report.models.log.contains("batch scored"), "{report:?}");
}
