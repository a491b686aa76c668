//! The Python client (`clients/python`, issue 17, item 10) against this server: a data
//! scientist's session from a pandas DataFrame to a sample, aggregates and an
//! evaluation, run by pytest in the venv where `scripts/setup` installs the client.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, sample_data};
use crate::lifecycle::opened;
use crate::products::{SCORED, TABLES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_takes_a_dataframe_to_a_sample_aggregates_and_an_evaluation() {
    let _cores = crate::helpers::exclusive_cores().await;
    let app = TestApp::spawn().await;
    let (institution, _, _) = opened(&app, "client.apply", &TABLES, 0).await;

    let (output, _work) = crate::contract::pytest(
        "clients/python/tests/test_client.py",
        "CLIENT_FIXTURE",
        &json!({
            "base_url": format!("http://{}", app.address),
            "username": "client.apply",
            "password": PASSWORD,
            "institution_id": institution,
            "loans": sample_data().join("own-data").join("demo_loan_outcomes.parquet"),
            "model": Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/models/linear_score.wat"),
            "sql": SCORED,
        }),
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Python client's tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("2 passed"), "{stdout}");

    // What the client did is on the server: the table and the releases.
    let (status, usage) = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/institutions/{institution}/usage"),
            Some(&app.login("client.apply").await),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert!(
        usage["storage_bytes"]["used"]
            .as_u64()
            .is_some_and(|b| b > 0),
        "{usage}"
    );
    assert_eq!(usage["statistical_releases_per_day"]["used"], 2, "{usage}");
}
