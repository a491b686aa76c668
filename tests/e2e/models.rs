//! The example models, built from Rust with the guest SDK, run in the sandbox and agree
//! with the same source compiled natively.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::Float64Type;
use datafusion::prelude::SessionContext;
use sandbox::{CancelToken, JobLimits, Sandbox, SandboxConfig, job_session, run_job};

use samples::features::{ARGUMENTS, FROM as FEATURES};

async fn session() -> SessionContext {
    let ctx = job_session(&JobLimits::default()).expect("session");
    let catalog = catalog::Catalog::open(tests::sample_data()).expect("catalog");
    catalog
        .register(&ctx, &samples::features::TABLES)
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
        ARGUMENTS
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
        ARGUMENTS
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
        // The same IEEE arithmetic in the same order: bit for bit the same.
        assert_eq!(w.to_bits(), n.to_bits(), "{uscc}: wasm {w} native {n}");
        distinct.insert((w * 1000.0) as i64);
    }
    assert!(
        distinct.len() > 50,
        "the scorecard separates subjects: {} distinct scores",
        distinct.len()
    );
}

/// Five float64 columns of `rows` rows; row `i` of column `k` is NULL where `null(i, k)`.
fn feature_columns(rows: usize, null: impl Fn(usize, usize) -> bool) -> Vec<ArrayRef> {
    (0..5)
        .map(|k| {
            Arc::new(Float64Array::from(
                (0..rows)
                    .map(|i| (!null(i, k)).then_some(((i * 7 + k * 3) % 11) as f64))
                    .collect::<Vec<_>>(),
            )) as ArrayRef
        })
        .collect()
}

fn check_against_native(inputs: &[ArrayRef], scores: &Float64Array) {
    let columns: Vec<&Float64Array> = inputs.iter().map(|a| a.as_primitive()).collect();
    assert_eq!(scores.len(), columns[0].len());
    for row in 0..scores.len() {
        if columns.iter().any(|c| c.is_null(row)) {
            assert!(scores.is_null(row), "row {row}: a NULL argument gives NULL");
            continue;
        }
        let x: Vec<f64> = columns.iter().map(|c| c.value(row)).collect();
        let native = scorecard_model::scorecard(x[0], x[1], x[2], x[3], x[4]);
        assert!(scores.is_valid(row), "row {row} has all its arguments");
        assert_eq!(scores.value(row).to_bits(), native.to_bits(), "row {row}");
    }
}

#[test]
fn the_sdk_gives_null_wherever_an_argument_is_null() {
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let model = sandbox
        .load(&tests::wasm_model("scorecard-model"))
        .expect("model");
    // Nulls in different columns on different rows, including the first and last rows
    // and rows that straddle bitmap bytes.
    let inputs = feature_columns(1000, |i, k| (i + 3 * k) % 23 == 0 || i == 0 || i == 999);
    let (out, usage) = sandbox.run_batch(&model, &inputs).expect("batch");
    let scores = out.as_primitive::<Float64Type>();
    assert!((150..300).contains(&scores.null_count()));
    check_against_native(&inputs, scores);
    assert_eq!(usage.rows, 1000);
}

#[test]
fn a_batch_larger_than_the_sdk_arena_is_scored_from_the_heap() {
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let model = sandbox
        .load(&tests::wasm_model("scorecard-model"))
        .expect("model");
    // 5 × 80,000 float64 values are 3.2 MB, more than the SDK's 2 MiB arena.
    let inputs = feature_columns(80_000, |i, k| i % 1000 == k);
    let (out, usage) = sandbox.run_batch(&model, &inputs).expect("batch");
    check_against_native(&inputs, out.as_primitive::<Float64Type>());
    assert!(
        usage.peak_memory_bytes > 4 << 20,
        "the guest grew its memory for the heap: {} bytes",
        usage.peak_memory_bytes
    );
}

/// P4: a model written in C from the ABI document and header alone loads and scores.
#[test]
fn a_c_model_written_from_the_abi_alone_scores_correctly() {
    use datafusion::arrow::array::Int64Array;
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let model = sandbox
        .load(&tests::c_model("samples/models/c/debt_burden.c"))
        .expect("the C model passes the upload checks");
    let manifest = model.manifest();
    assert_eq!(manifest.name, "debt_burden");
    assert_eq!(
        manifest
            .inputs
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["judgements_unfulfilled", "years_established"]
    );

    let rows = 3000;
    let judgements = Int64Array::from(
        (0..rows)
            .map(|i| (i % 13 != 5).then_some((i % 4) as i64))
            .collect::<Vec<_>>(),
    );
    let years = Float64Array::from(
        (0..rows)
            .map(|i| (i % 17 != 3).then_some((i % 40) as f64 - 2.0))
            .collect::<Vec<_>>(),
    );
    let inputs: Vec<ArrayRef> = vec![Arc::new(judgements.clone()), Arc::new(years.clone())];
    let (out, usage) = sandbox.run_batch(&model, &inputs).expect("batch");
    let out = out.as_primitive::<Float64Type>();
    assert_eq!((out.len(), usage.rows), (rows, rows));
    for i in 0..rows {
        if judgements.is_null(i) || years.is_null(i) {
            assert!(out.is_null(i), "row {i} has a NULL argument");
            continue;
        }
        let expected = 100.0 * judgements.value(i) as f64 / (1.0 + years.value(i).max(0.0));
        assert_eq!(out.value(i).to_bits(), expected.to_bits(), "row {i}");
    }
    assert!(
        out.null_count() > 300,
        "NULLs came through: {}",
        out.null_count()
    );
}

/// P4: the gradient-boosted example model agrees with its native build and, run in the
/// sandbox on an institution's own loans joined to public-credit features, separates
/// defaulters from the rest.
#[tokio::test]
async fn the_gradient_boosted_model_agrees_with_native_and_finds_the_defaulters() {
    let sandbox = Arc::new(Sandbox::new(SandboxConfig::default()).expect("sandbox"));
    let model = sandbox
        .load(&tests::wasm_model("gbt-model"))
        .expect("the model passes the upload checks");
    assert_eq!(model.manifest().name, "default_risk");

    let ctx = session().await;
    ctx.register_udf(samples::native::default_risk_udf());
    ctx.register_parquet(
        "loans",
        tests::sample_data()
            .join("own-data/demo_loan_outcomes.parquet")
            .to_str()
            .expect("utf-8 path"),
        datafusion::prelude::ParquetReadOptions::default(),
    )
    .await
    .expect("loans");
    let features = "f.penalties_5y, f.abnormal_listings, f.judgements_unfulfilled, \
                    f.dishonesty_listed, f.years_established";
    let sql = format!(
        "SELECT l.loan_id, default_risk({features}) AS wasm, \
                default_risk_native({features}) AS native, CAST(l.defaulted AS DOUBLE) AS y \
         FROM loans l JOIN ({}) f ON f.uscc = l.uscc",
        samples::features::table_query()
    );
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("risk.parquet");
    let report = run_job(
        &ctx,
        sandbox,
        &[model],
        &sql,
        &out,
        &JobLimits::default(),
        &CancelToken::new(),
    )
    .await
    .expect("job");
    assert!(report.rows_out > 300, "loans scored: {}", report.rows_out);

    let file = std::fs::File::open(&out).expect("result");
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    for batch in reader {
        let batch = batch.expect("batch");
        let column = |k: usize| batch.column(k).as_primitive::<Float64Type>().clone();
        let (wasm, native, y) = (column(1), column(2), column(3));
        for i in 0..batch.num_rows() {
            let (w, n) = (wasm.value(i), native.value(i));
            // exp comes from different libm builds on wasm32 and the host: the last
            // bits may differ, the probabilities agree to 1e-12.
            assert!((w - n).abs() < 1e-12, "wasm {w} native {n}");
            assert!(0.0 < w && w < 1.0);
            scores.push(w);
            labels.push(y.value(i));
        }
    }
    let auc = evaluation::auc(&scores, &labels);
    assert!(
        auc > 0.62,
        "the model ranks defaulters higher: AUC {auc:.3}"
    );
}
