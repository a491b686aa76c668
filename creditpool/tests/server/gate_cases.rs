//! The gate's data-driven cases (issue 14): `creditpool/tests/gate-cases/*.toml`, each an
//! SQL text over the sample data with the release asked for and the decision expected
//! (see the folder's README). Run over a real listener, as one institution.

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use crate::helpers::TestApp;
use crate::lifecycle::{job_until, opened};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    sql: String,
    release: Option<String>,
    request: Option<String>,
    expect: String,
    treatments: Option<Vec<String>>,
    message: Option<String>,
}

fn case_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/gate-cases"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the cases folder")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// The outcome of one case, in the words of `expect`, with its message or body.
async fn outcome(
    app: &TestApp,
    token: &str,
    admin: &str,
    institution: &str,
    case: &Case,
) -> (String, Value) {
    let (status, submitted) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/jobs"),
            Some(token),
            Some(serde_json::json!({ "sql": case.sql })),
        )
        .await;
    if status == StatusCode::UNPROCESSABLE_ENTITY && submitted["error"]["field"] == "sql" {
        return ("sql_refused".into(), submitted);
    }
    assert_eq!(status, StatusCode::ACCEPTED, "{}: {submitted}", case.name);
    let job = submitted["id"].as_str().expect("id").to_owned();
    let done = job_until(app, admin, institution, &job, |j| j["ended_at"].is_string()).await;
    if done["state"] != "succeeded" {
        return ("job_failed".into(), done);
    }
    let Some(release) = &case.release else {
        return ("released".into(), done);
    };
    let body = case
        .request
        .as_deref()
        .map(|r| serde_json::from_str(r).expect("the request is JSON"));
    let (status, answer) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/jobs/{job}/{release}"),
            Some(token),
            body,
        )
        .await;
    let code = answer["error"]["code"].as_str().unwrap_or_default();
    let word = match (status, code) {
        (StatusCode::CREATED, _) => "released",
        (StatusCode::UNPROCESSABLE_ENTITY, "release_refused") => "refused",
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field") => "invalid",
        (StatusCode::CONFLICT, "result_too_small") => "too_small",
        _ => "unexpected",
    };
    (word.into(), answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_gate_case_is_decided_as_written() {
    let app = TestApp::spawn().await;
    let (institution, token, admin) = opened(
        &app,
        "cases.apply",
        &[
            "abnormal_operations",
            "admin_penalties",
            "enterprises",
            "officers",
            "persons",
        ],
        0,
    )
    .await;
    let mut failures = Vec::new();
    let mut count = 0;
    for path in case_files() {
        let text = std::fs::read_to_string(&path).expect("readable");
        let file: File = toml::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not a case file: {e}", path.display()));
        for case in file.case {
            count += 1;
            let (got, body) = outcome(&app, &token, &admin, &institution, &case).await;
            let place = format!("{}: {}", path.display(), case.name);
            if got != case.expect {
                failures.push(format!(
                    "{place}: expected {}, got {got}: {body}",
                    case.expect
                ));
                continue;
            }
            if let Some(wanted) = &case.message {
                let text = body.to_string();
                if !text.contains(wanted.as_str()) {
                    failures.push(format!("{place}: '{wanted}' not in {text}"));
                }
            }
            if let Some(wanted) = &case.treatments {
                let seen: Vec<&str> = body["columns"]
                    .as_array()
                    .map(|c| c.iter().filter_map(|c| c["treatment"].as_str()).collect())
                    .unwrap_or_default();
                if seen != *wanted {
                    failures.push(format!("{place}: treatments {seen:?}, expected {wanted:?}"));
                }
            }
        }
    }
    assert!(count >= 15, "only {count} cases found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
