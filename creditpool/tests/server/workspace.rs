//! An institution's workspace as pages (issue 19) in a real browser: the dashboard, the
//! tables, the SQL editor and a job watched to its end, a sample shown and downloaded,
//! an aggregate, an evaluation with its ROC chart; another institution's job not
//! found; forms without their token refused; a suspension stopping the open pages at
//! once. What the pages released is the gate's, in its ledger and the audit log.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::all_pass;
use crate::helpers::sample_data;
use crate::helpers::{PASSWORD, TestApp};
use crate::lifecycle::{opened, submit_job};
use crate::products::{SCORED, TABLES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_institution_works_from_its_workspace_pages_alone() {
    let _cores = crate::helpers::exclusive_cores().await;
    let app = TestApp::spawn().await;
    let (institution, _, admin) = opened(&app, "browser.bank", &TABLES, 0).await;
    // The files the data scientist has on their machine: the demo's loan outcomes as
    // CSV, the example model's text, and a file that is no model.
    let files = tempfile::tempdir().expect("tmp");
    let loans = files.path().join("loans.csv");
    loans_as_csv(&loans);
    let not_a_model = files.path().join("not-a-model.wasm");
    std::fs::write(&not_a_model, b"\0asm but not really").expect("file");
    // Another institution, with a job of its own.
    let (other, other_token, _) = opened(&app, "browser.other", &TABLES, 1).await;
    let foreign_job = submit_job(&app, &other_token, &other, "SELECT uscc FROM enterprises").await;
    let (_, about) = app
        .call(
            Method::GET,
            &format!("/api/v1/institutions/{institution}"),
            Some(&admin),
            None,
        )
        .await;
    let fixture = json!({
        "base_url": app.url(""),
        "password": PASSWORD,
        "username": "browser.bank",
        "institution": about["name"],
        "institution_id": institution,
        "scored": SCORED,
        "loans_csv": loans,
        "model_wat": concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/models/linear_score.wat"),
        "not_a_model": not_a_model,
        "foreign_job": foreign_job,
        "admin_token": admin,
    });
    all_pass("browser/workspace.test.mjs", &fixture).await;

    // What the pages released went through the gate: in the audit log as releases.
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
        .fetch_all(app.store.pool())
        .await
        .expect("the audit log reads");
    for action in [
        "job.submitted",
        "release.sample",
        "release.aggregate",
        "release.evaluation",
        "institution.suspended",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    // The suspension cancelled nothing of the other institution's.
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/institutions/{other}/jobs/{foreign_job}"),
            Some(&other_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// The demo's loan outcomes (`own-data/demo_loan_outcomes.parquet` of the sample data)
/// written as CSV with a header row, as a bank exports them.
fn loans_as_csv(to: &std::path::Path) {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = std::fs::File::open(
        sample_data()
            .join("own-data")
            .join("demo_loan_outcomes.parquet"),
    )
    .expect("loans");
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet");
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut csv = names.join(",") + "\n";
    let options = FormatOptions::default();
    for batch in builder.build().expect("reader") {
        let batch = batch.expect("batch");
        let columns: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter"))
            .collect();
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = columns.iter().map(|c| c.value(row).to_string()).collect();
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
    }
    std::fs::write(to, csv).expect("csv");
}
