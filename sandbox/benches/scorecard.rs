//! Benchmarks of the sandbox (issue #3): the scorecard as a WASM model, as a native UDF
//! and as a plain SQL expression over the same feature table; instance acquisition;
//! fixed cost per batch. Figures and the command are recorded in docs/benchmarks.md:
//!
//! ```text
//! cargo bench -p sandbox --bench scorecard            # 1M and 10M rows
//! cargo bench -p sandbox --bench scorecard -- 100000  # one size
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use sandbox::{CancelToken, Sandbox, SandboxConfig};

const BATCH: usize = 8192;

/// Deterministic features shaped like the sample data's (mostly zero counts).
fn features(rows: usize) -> MemTable {
    let schema = Arc::new(Schema::new(
        ["p", "a", "j", "d", "y"]
            .iter()
            .map(|n| Field::new(*n, DataType::Float64, false))
            .collect::<Vec<_>>(),
    ));
    let mut batches = Vec::new();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for start in (0..rows).step_by(BATCH) {
        let n = BATCH.min(rows - start);
        let mut cols: Vec<Vec<f64>> = (0..5).map(|_| Vec::with_capacity(n)).collect();
        for _ in 0..n {
            let r = next();
            cols[0].push((r % 7 / 4) as f64);
            cols[1].push((r >> 8 & 7 == 0) as u8 as f64);
            cols[2].push((r >> 12 & 15 == 0) as u8 as f64);
            cols[3].push((r >> 16 & 63 == 0) as u8 as f64);
            cols[4].push((r >> 24 & 31) as f64);
        }
        let arrays: Vec<ArrayRef> = cols
            .into_iter()
            .map(|c| Arc::new(Float64Array::from(c)) as ArrayRef)
            .collect();
        batches.push(RecordBatch::try_new(schema.clone(), arrays).expect("batch"));
    }
    MemTable::try_new(schema, vec![batches]).expect("table")
}

const SQL_SCORECARD: &str = "GREATEST(300, LEAST(900, 600 + (50 / ln(2)) * ln(exp(-(-2.6 + 0.55 * p + 0.7 * a + 0.8 * j + 1.5 * d - 0.04 * LEAST(y, 30))) / 19)))";

async fn time_query(ctx: &SessionContext, expression: &str) -> Duration {
    let sql = format!("SELECT SUM({expression}) FROM features");
    // One warm-up run, then the best of three.
    ctx.sql(&sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let mut best = Duration::MAX;
    for _ in 0..3 {
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
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000, 10_000_000]
    } else {
        sizes
    };
    let sandbox = Arc::new(Sandbox::new(SandboxConfig::default()).expect("sandbox"));
    let model = sandbox
        .load(&tests::wasm_model("scorecard-model"))
        .expect("model");

    println!(
        "scorecard over {} five-column float64 feature rows, batches of {BATCH}",
        sizes
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" and ")
    );
    println!(
        "{:>10}  {:>16}  {:>16}  {:>16}  {:>10}  {:>10}",
        "rows", "wasm rows/s", "native rows/s", "sql rows/s", "wasm/native", "wasm/sql"
    );
    for rows in sizes {
        let ctx = SessionContext::new();
        ctx.register_table("features", Arc::new(features(rows)))
            .expect("table");
        ctx.register_udf(samples::native::scorecard_udf());
        sandbox::register_model(&ctx, sandbox.clone(), &model, &CancelToken::new());
        let wasm = time_query(&ctx, "scorecard(p, a, j, d, y)").await;
        let native = time_query(&ctx, "scorecard_native(p, a, j, d, y)").await;
        let sql = time_query(&ctx, SQL_SCORECARD).await;
        let rate = |d: Duration| rows as f64 / d.as_secs_f64();
        println!(
            "{rows:>10}  {:>16.0}  {:>16.0}  {:>16.0}  {:>10.2}  {:>10.2}",
            rate(wasm),
            rate(native),
            rate(sql),
            wasm.as_secs_f64() / native.as_secs_f64(),
            wasm.as_secs_f64() / sql.as_secs_f64()
        );
    }

    // Instance acquisition: create and drop one instance.
    let samples: Vec<Duration> = (0..2000)
        .map(|_| {
            let started = Instant::now();
            sandbox.instantiate_once(&model).expect("instance");
            started.elapsed()
        })
        .collect();
    println!(
        "instance acquisition: median {:?} over 2000",
        median(samples)
    );

    // Fixed cost per batch: a full 8192-row batch minus the per-row cost measured on a
    // batch eight times larger, i.e. the intercept of time against rows.
    let columns = |n: usize| -> Vec<ArrayRef> {
        (0..5)
            .map(|_| Arc::new(Float64Array::from(vec![1.0; n])) as ArrayRef)
            .collect()
    };
    let time_batch = |n: usize| {
        let input = columns(n);
        median(
            (0..300)
                .map(|_| {
                    let started = Instant::now();
                    sandbox.run_batch(&model, &input).expect("batch");
                    started.elapsed()
                })
                .collect(),
        )
    };
    let small = time_batch(BATCH);
    let large = time_batch(8 * BATCH);
    let per_row = (large.as_secs_f64() - small.as_secs_f64()) / (7 * BATCH) as f64;
    let fixed = small.as_secs_f64() - per_row * BATCH as f64;
    println!(
        "batch of {BATCH}: median {small:?}; per row {:.1} ns; fixed cost per batch {:.1} µs",
        per_row * 1e9,
        fixed * 1e6
    );
}
