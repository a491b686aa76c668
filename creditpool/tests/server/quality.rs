//! Service quality (BRIEF Q10): Prometheus metrics and the administrators' quality view.

use governance::identity::Role;
use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, assert_error};

#[tokio::test]
async fn requests_are_measured_and_the_quality_view_compares_them_with_the_standard() {
    let app = TestApp::spawn().await;
    let some = app.search_sample().await;
    let uscc = some["uscc"].as_str().expect("uscc");
    for _ in 0..3 {
        let (status, _) = app
            .call(
                Method::GET,
                &format!("/api/v1/public/subjects/{uscc}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/public/subjects/91330000000000000X",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Issue 15: metrics are the administrators' (per-route traffic, objection and ticket
    // figures): nobody else reads them.
    app.user("admin", Role::Administrator).await;
    app.user("applicant", Role::Applicant).await;
    let admin = app.login("admin").await;
    let applicant = app.login("applicant").await;
    let anonymous = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let other = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&applicant)
        .send()
        .await
        .expect("metrics");
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("metrics");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain; version=0.0.4"))
    );
    let text = response.text().await.expect("text");
    // By route template, never by the code asked for.
    assert!(text.contains(
        "creditpool_http_requests_total{method=\"GET\",route=\"/api/v1/public/subjects/{uscc}\",status=\"2xx\"} 3"
    ), "{text}");
    assert!(text.contains(
        "creditpool_http_requests_total{method=\"GET\",route=\"/api/v1/public/subjects/{uscc}\",status=\"4xx\"} 1"
    ));
    assert!(!text.contains(uscc));
    assert!(text.contains("creditpool_objections_overdue 0"));

    let (status, body) = app
        .call(Method::GET, "/api/v1/quality", Some(&applicant), None)
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // The heartbeat of the starting minute is written at start.
    let mut view = serde_json::Value::Null;
    for _ in 0..50 {
        let (status, body) = app
            .call(Method::GET, "/api/v1/quality", Some(&admin), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        view = body;
        if view["availability"]["minutes_up"].as_i64() >= Some(1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        view["availability"]["minutes_up"].as_i64() >= Some(1),
        "{view}"
    );
    assert_eq!(view["availability"]["max_downtime_hours_per_year"], 8.0);
    let responses = &view["responses"];
    assert!(responses["requests"].as_u64() >= Some(5), "{responses}");
    assert_eq!(responses["ceiling_ms"], 3000.0);
    assert_eq!(
        responses["server_errors"], 0,
        "a 404 is not the service's error"
    );
    assert_eq!(responses["error_rate"], 0.0);
    assert_eq!(responses["within_ceiling"], 1.0);
    assert!(
        responses["p99_ms_at_most"]
            .as_f64()
            .is_some_and(|p| p <= 3000.0)
    );
    assert_eq!(view["objections"]["target"], 1.0);
    assert_eq!(view["tickets"]["filed"], 0);
}
