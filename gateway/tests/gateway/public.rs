//! The public search (BRIEF Q4) over a real listener, without logging in.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, assert_error};

#[tokio::test]
async fn anyone_finds_an_enterprise_by_code_or_by_part_of_its_name() {
    let app = TestApp::spawn().await;
    let some = app.search_sample().await;

    // By code, as people type it: full-width, lower case.
    let typed: String = some["uscc"]
        .as_str()
        .expect("uscc")
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects?q={typed}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["match"], "code");
    assert_eq!(body["items"][0]["name"], some["name"]);
    assert!(body["warning"].is_null(), "{body}");

    // A code with a wrong check character is looked up all the same, with a warning.
    let mut wrong = some["uscc"].as_str().expect("uscc").to_owned();
    let last = wrong.pop().expect("char");
    wrong.push(if last == '0' { '1' } else { '0' });
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects?q={wrong}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 0);
    assert!(
        body["warning"].as_str().is_some_and(|w| !w.is_empty()),
        "{body}"
    );

    // By part of the name, paged with the cursor.
    let name = some["name"].as_str().expect("name");
    let part: String = name.chars().skip(2).take(3).collect();
    let (status, first) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects?q={part}&limit=1"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["match"], "name");
    assert!(first["total"].as_u64().is_some_and(|n| n >= 1));
    let mut seen = vec![first["items"][0]["uscc"].clone()];
    let mut cursor = first["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let (_, next) = app
            .call(
                Method::GET,
                &format!("/api/v1/public/subjects?q={part}&limit=1&cursor={c}"),
                None,
                None,
            )
            .await;
        seen.push(next["items"][0]["uscc"].clone());
        cursor = next["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len() as u64, first["total"].as_u64().expect("total"));
    assert!(seen.contains(&some["uscc"]));

    // One subject by code; unknown codes and bad parameters are clear errors.
    let (status, one) = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/public/subjects/{}",
                some["uscc"].as_str().expect("uscc")
            ),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["name"], some["name"]);
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/public/subjects/91330000000000000X",
            None,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let long = "x".repeat(101);
    for bad in [
        "q=%20%20",
        "q=x&limit=0",
        "q=x&limit=101",
        "q=x&cursor=abc",
        &format!("q={long}"),
    ] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/public/subjects?{bad}"),
                None,
                None,
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
    }
}

#[tokio::test]
async fn anyone_sees_an_enterprises_disclosed_records_by_section() {
    let app = TestApp::spawn().await;
    let some = app.search_sample().await;
    let uscc = some["uscc"].as_str().expect("uscc");
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects/{uscc}/records"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subject"]["uscc"], uscc);
    let sections = body["sections"].as_array().expect("sections");
    assert_eq!(sections.len(), 14);
    // Its registration is always there; internal columns never are.
    let registration = sections
        .iter()
        .find(|s| s["table"] == "enterprises")
        .expect("registration");
    assert_eq!(registration["count"], 1);
    assert_eq!(registration["records"][0]["uscc"], uscc);
    let text = body.to_string();
    assert!(!text.contains("\"subject_type\"") && !text.contains("\"withdrawn_date\""));
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/public/subjects/91330000000000000X/records",
            None,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_report_is_issued_archived_and_verified_by_its_code() {
    let app = TestApp::spawn().await;
    let some = app.search_sample().await;
    let uscc = some["uscc"].as_str().expect("uscc");
    let (status, report) = app
        .call(
            Method::POST,
            &format!("/api/v1/public/subjects/{uscc}/reports"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["sections"].as_array().map(Vec::len), Some(12));
    assert_eq!(report["cover"]["uscc"], uscc);
    let number = report["cover"]["report_number"]
        .as_str()
        .expect("number")
        .to_owned();
    assert_eq!(number.len(), 18);
    assert!(number.bytes().all(|b| b.is_ascii_digit()));
    let code = report["cover"]["verification_code"]
        .as_str()
        .expect("code")
        .to_owned();

    let verify = |number: String, code: String| {
        let app = &app;
        async move {
            let (status, body) = app
                .call(
                    Method::GET,
                    &format!("/api/v1/public/reports/verify?number={number}&code={code}"),
                    None,
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let ok = verify(number.clone(), code.clone()).await;
    assert_eq!(ok["valid"], true, "{ok}");
    assert_eq!(ok["uscc"], uscc);
    let mut wrong = code.clone();
    let last = wrong.pop().expect("char");
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(verify(number.clone(), wrong).await["valid"], false);
    assert_eq!(
        verify("202601010000000000".into(), code.clone()).await["valid"],
        false
    );

    // The archive holds the report with the hash the code covers.
    let (hash, content): (String, Vec<u8>) =
        sqlx::query_as("SELECT content_sha256, content FROM issued_reports WHERE number = ?")
            .bind(&number)
            .fetch_one(app.store.pool())
            .await
            .expect("archived");
    let archived: serde_json::Value = serde_json::from_slice(&content).expect("json");
    assert_eq!(archived, report);
    assert_eq!(
        hash,
        gateway::store::sha256_hex(&public::report::canonical(&archived))
    );
    assert_eq!(app.audit_actions(&number).await, ["report.issued"]);
    // A malformed query string is a JSON error like every other.
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/public/reports/verify?number=1",
            None,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/public/subjects?q=x&colour=red",
            None,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
}
