//! End-to-end tests across crates: the generated data set as the catalog and
//! DataFusion see it, and repository-wide checks on the documentation.

mod content;
mod determinism;
mod docs;
mod identifiers;
mod models;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::prelude::SessionContext;

/// A session with every public-credit table of the shared data set, and the example
/// own-data table as `demo_loan_outcomes`.
pub async fn session() -> SessionContext {
    let data = tests::sample_data();
    let catalog = catalog::Catalog::open(data).expect("catalog opens");
    let ctx = SessionContext::new();
    catalog.register_all(&ctx).await.expect("register");
    let own = data
        .join(samples::OWN_DATA_DIR)
        .join("demo_loan_outcomes.parquet");
    ctx.register_parquet(
        "demo_loan_outcomes",
        own.to_string_lossy().as_ref(),
        Default::default(),
    )
    .await
    .expect("own data");
    ctx
}

/// Runs SQL and returns the batches.
pub async fn query(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .expect("runs")
}

/// Runs SQL returning one string column and collects it.
pub async fn strings(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in query(ctx, sql).await {
        let col = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .expect("cast");
        let col = col.as_string::<i32>();
        out.extend((0..b.num_rows()).map(|i| col.value(i).to_owned()));
    }
    out
}

/// Runs SQL returning one integer and gives it.
pub async fn count(ctx: &SessionContext, sql: &str) -> i64 {
    let values = strings(ctx, sql).await;
    values[0].parse().expect("integer")
}
