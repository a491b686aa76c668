//! The example models, built from Rust with the guest SDK, run in the sandbox and agree
//! with the same source compiled natively.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use sandbox::{CancelToken, JobLimits, Sandbox, SandboxConfig, job_session, run_job};

/// Public-credit features per enterprise, as an institution would compute them.
pub const FEATURES: &str = "FROM enterprises e \
    LEFT JOIN (SELECT subject_id, CAST(COUNT(*) AS DOUBLE) AS n FROM admin_penalties \
               WHERE status = 'active' AND decision_date > DATE '2021-11-01' GROUP BY subject_id) p ON p.subject_id = e.subject_id \
    LEFT JOIN (SELECT subject_id, CAST(COUNT(*) AS DOUBLE) AS n FROM abnormal_operations \
               WHERE removed_date IS NULL GROUP BY subject_id) a ON a.subject_id = e.subject_id \
    LEFT JOIN (SELECT subject_id, CAST(COUNT(*) AS DOUBLE) AS n FROM judicial_records \
               WHERE fulfilled = false GROUP BY subject_id) j ON j.subject_id = e.subject_id \
    LEFT JOIN (SELECT subject_id, 1.0 AS n FROM dishonesty_list WHERE removed_date IS NULL GROUP BY subject_id) d \
               ON d.subject_id = e.subject_id";

/// The scorecard's arguments over [`FEATURES`].
pub fn arguments() -> &'static str {
    "COALESCE(p.n, 0), COALESCE(a.n, 0), COALESCE(j.n, 0), COALESCE(d.n, 0), \
     CAST(2026 - date_part('year', e.establishment_date) AS DOUBLE)"
}

async fn session() -> SessionContext {
    let ctx = job_session(&JobLimits::default()).expect("session");
    let catalog = catalog::Catalog::open(tests::sample_data()).expect("catalog");
    catalog
        .register(
            &ctx,
            &[
                "enterprises",
                "admin_penalties",
                "abnormal_operations",
                "judicial_records",
                "dishonesty_list",
            ],
        )
        .await
        .expect("register");
    ctx
}

#[tokio::test]
async fn the_wasm_scorecard_agrees_with_the_native_one() {
    let sandbox = Arc::new(
        Sandbox::new(SandboxConfig {
            max_concurrent_instances: 8,
            ..SandboxConfig::default()
        })
        .expect("sandbox"),
    );
    let model = sandbox
        .load(&tests::wasm_model("scorecard-model"))
        .expect("the SDK-built model loads");
    assert_eq!(model.manifest().name, "scorecard");
    assert_eq!(model.manifest().inputs.len(), 5);
    assert_eq!(
        model.manifest().description,
        "Logistic scorecard over penalties, listings, judgements and age."
    );

    let dir = tempfile::tempdir().expect("tmp");
    let wasm_out = dir.path().join("wasm.parquet");
    let sql = format!(
        "SELECT e.uscc, scorecard({}) AS score {FEATURES}",
        arguments()
    );
    let report = run_job(
        &session().await,
        sandbox.clone(),
        &[model],
        &sql,
        &wasm_out,
        &JobLimits::default(),
        &CancelToken::new(),
    )
    .await
    .expect("wasm job");
    assert_eq!(report.rows_out, 2000);

    let native_ctx = session().await;
    native_ctx.register_udf(samples::native::scorecard_udf());
    let native_out = dir.path().join("native.parquet");
    let sql = format!(
        "SELECT e.uscc, scorecard_native({}) AS score {FEATURES}",
        arguments()
    );
    run_job(
        &native_ctx,
        sandbox,
        &[],
        &sql,
        &native_out,
        &JobLimits::default(),
        &CancelToken::new(),
    )
    .await
    .expect("native job");

    let (wasm, native) = (
        tests::keyed_scores(&wasm_out),
        tests::keyed_scores(&native_out),
    );
    assert_eq!(wasm.len(), 2000);
    let mut distinct = std::collections::BTreeSet::new();
    for (uscc, w) in &wasm {
        let n = native[uscc];
        // exp and ln come from different libm builds on wasm32 and on the host, so the
        // last bits may differ; the scores agree far below a point.
        assert!((w - n).abs() < 1e-9, "{uscc}: wasm {w} native {n}");
        distinct.insert((w * 1000.0) as i64);
    }
    assert!(
        distinct.len() > 50,
        "the scorecard separates subjects: {} distinct scores",
        distinct.len()
    );
}
