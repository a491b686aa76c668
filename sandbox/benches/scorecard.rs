//! Benchmarks of the sandbox (issue #3): the example scorecard over the sample data's
//! scale-1 and scale-10 feature tables as (a) the WASM model, (b) the native UDF built
//! from the same Rust source, (c) the same formula as a plain SQL expression; then
//! instance acquisition and the fixed cost of a batch. Figures and the command are
//! recorded in docs/benchmarks.md:
//!
//! ```text
//! cargo bench -p sandbox --bench scorecard            # scales 1 and 10
//! cargo bench -p sandbox --bench scorecard -- 1       # scale 1 only
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{ArrayRef, Float64Array};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use sandbox::{CancelToken, Sandbox, SandboxConfig};

/// Rows per batch, DataFusion's default.
const BATCH: usize = 8192;
/// Timed runs of each query; the best is reported.
const RUNS: usize = 5;

/// The scorecard of `samples/models/scorecard` written in SQL.
const SQL_SCORECARD: &str = "GREATEST(300, LEAST(900, 600 + (50 / ln(2)) * \
    (-(-2.6 + 0.55 * penalties_5y + 0.7 * abnormal_listings + 0.8 * judgements_unfulfilled \
       + 1.5 * dishonesty_listed - 0.04 * LEAST(years_established, 30)) - ln(19))))";

const ARGUMENTS: &str =
    "penalties_5y, abnormal_listings, judgements_unfulfilled, dishonesty_listed, years_established";

/// Generates the sample data at `scale` and computes the scorecard's feature table from
/// it, held in memory so that the timings below measure scoring, not Parquet and joins.
async fn feature_table(scale: f64) -> (MemTable, usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    tests::generate(dir.path(), 2026, scale, 0);
    let ctx = SessionContext::new();
    let catalog = catalog::Catalog::open(dir.path()).expect("catalog");
    catalog
        .register(&ctx, &samples::features::TABLES)
        .await
        .expect("register");
    let df = ctx
        .sql(&samples::features::table_query())
        .await
        .expect("feature query plans");
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await.expect("feature query runs");
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    eprintln!(
        "scale {scale}: {rows} feature rows from freshly generated sample data in {:.1?}",
        started.elapsed()
    );
    (
        MemTable::try_new(schema, vec![batches]).expect("table"),
        rows,
    )
}

async fn best_of(ctx: &SessionContext, expression: &str) -> Duration {
    let sql = format!("SELECT SUM({expression}) FROM features");
    ctx.sql(&sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("warm-up run");
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let started = Instant::now();
        ctx.sql(&sql)
            .await
            .expect("plan")
            .collect()
            .await
            .expect("run");
        best = best.min(started.elapsed());
    }
    best
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() {
    let scales: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let scales = if scales.is_empty() {
        vec![1.0, 10.0]
    } else {
        scales
    };
    let sandbox = Arc::new(Sandbox::new(SandboxConfig::default()).expect("sandbox"));
    let model = sandbox
        .load(&tests::wasm_model("scorecard-model"))
        .expect("model");

    println!(
        "{:>6}  {:>10}  {:>14}  {:>14}  {:>14}  {:>11}  {:>8}",
        "scale", "rows", "wasm rows/s", "native rows/s", "sql rows/s", "wasm/native", "wasm/sql"
    );
    for scale in scales {
        let (table, rows) = feature_table(scale).await;
        let ctx = SessionContext::new();
        ctx.register_table("features", Arc::new(table))
            .expect("table");
        ctx.register_udf(samples::native::scorecard_udf());
        sandbox::register_model(&ctx, sandbox.clone(), &model, &CancelToken::new());
        let wasm = best_of(&ctx, &format!("scorecard({ARGUMENTS})")).await;
        let native = best_of(&ctx, &format!("scorecard_native({ARGUMENTS})")).await;
        let sql = best_of(&ctx, SQL_SCORECARD).await;
        let rate = |d: Duration| rows as f64 / d.as_secs_f64();
        println!(
            "{scale:>6}  {rows:>10}  {:>14.0}  {:>14.0}  {:>14.0}  {:>11.2}  {:>8.2}",
            rate(wasm),
            rate(native),
            rate(sql),
            wasm.as_secs_f64() / native.as_secs_f64(),
            wasm.as_secs_f64() / sql.as_secs_f64()
        );
    }

    // Instance acquisition: a new store and instance, ready to score. Dropping it (which
    // resets the slot's memory) is outside the timing; that cost is part of every batch
    // below, which creates and drops its instance inside the timing.
    let acquisitions: Vec<Duration> = (0..5000)
        .map(|_| {
            let started = Instant::now();
            let instance = sandbox.instantiate_once(&model).expect("instance");
            let took = started.elapsed();
            drop(instance);
            took
        })
        .collect();
    println!(
        "instance acquisition: median {:.1?} over 5000",
        median(acquisitions)
    );

    // A whole batch through `run_batch`: check, instantiate, copy in, score, validate
    // and copy out, drop (which resets the instance's memory). Each size is measured on
    // a sandbox of its own, in the steady state of batches of that size: the fixed cost
    // is a one-row batch, the rest is per row.
    let time_batch = |n: usize| {
        let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
        let model = sandbox
            .load(&tests::wasm_model("scorecard-model"))
            .expect("model");
        let input: Vec<ArrayRef> = (0..5)
            .map(|k| {
                Arc::new(Float64Array::from(
                    (0..n).map(|i| ((i + k) % 3) as f64).collect::<Vec<_>>(),
                )) as ArrayRef
            })
            .collect();
        for _ in 0..200 {
            sandbox.run_batch(&model, &input).expect("batch");
        }
        median(
            (0..2000)
                .map(|_| {
                    let started = Instant::now();
                    sandbox.run_batch(&model, &input).expect("batch");
                    started.elapsed()
                })
                .collect(),
        )
    };
    let fixed = time_batch(1);
    let full = time_batch(BATCH);
    let per_row = (full.as_secs_f64() - fixed.as_secs_f64()) / (BATCH - 1) as f64;
    println!(
        "batch of {BATCH} rows: median {full:.1?}; fixed cost (a one-row batch) {fixed:.1?}; \
         {:.1} ns a row",
        per_row * 1e9
    );
}
