//! The verification service (BRIEF Q7) over a real listener: a dedicated staff role,
//! subjects checked by code and name, the feedback letter of 附录B as a PDF.

use governance::identity::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_error};
use crate::public::pdf_pages;

#[tokio::test]
async fn agency_staff_have_listed_subjects_checked_and_get_the_feedback_letter() {
    let app = TestApp::spawn().await;
    app.user("admin", Role::Administrator).await;
    let admin = app.login("admin").await;

    // Staff accounts: only administrators make them, each role with what it needs.
    for (body, field) in [
        (
            json!({ "username": "x1", "display_name": "X", "password": "correct horse battery staple", "role": "institution" }),
            "role",
        ),
        (
            json!({ "username": "x2", "display_name": "X", "password": "correct horse battery staple", "role": "agency_staff" }),
            "organisation",
        ),
        (
            json!({ "username": "x3", "display_name": "X", "password": "correct horse battery staple", "role": "reviewer", "organisation": "某局" }),
            "organisation",
        ),
    ] {
        let (status, error) = app
            .call(Method::POST, "/api/v1/users", Some(&admin), Some(body))
            .await;
        assert_error(
            status,
            &error,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        assert_eq!(error["error"]["field"], field);
    }
    for (username, agency) in [
        ("clerk", "杭州市发展和改革委员会"),
        ("other", "宁波市财政局"),
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/users",
                Some(&admin),
                Some(json!({
                    "username": username, "display_name": "核查专员",
                    "password": "correct horse battery staple",
                    "role": "agency_staff", "organisation": agency,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let clerk = app.login("clerk").await;
    let other = app.login("other").await;
    app.user("applicant", Role::Applicant).await;
    let applicant = app.login("applicant").await;

    let some = app.search_sample().await;
    let request = json!({
        "matter": "2026年度评优评先",
        "letter_title": "关于协助查询有关单位信用记录的函",
        "subjects": [
            { "name": some["name"], "code": some["uscc"] },
            { "name": "不存在的公司", "code": some["uscc"] },
            { "name": "某某", "code": "not-a-code" },
        ],
    });
    // A dedicated role: others may not.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/verifications",
            Some(&applicant),
            Some(request.clone()),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/verifications",
            Some(&clerk),
            Some(json!({ "matter": "评优", "letter_title": "来函", "subjects": [] })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    // One more than a request may list: split longer lists.
    let too_many: Vec<serde_json::Value> = (0..=public::verification::MAX_SUBJECTS)
        .map(|_| json!({ "name": some["name"], "code": some["uscc"] }))
        .collect();
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/verifications",
            Some(&clerk),
            Some(json!({ "matter": "评优评先", "letter_title": "关于查询的函", "subjects": too_many })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "subjects");

    let (status, done) = app
        .call(
            Method::POST,
            "/api/v1/verifications",
            Some(&clerk),
            Some(request),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let results = done["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["found"], true);
    assert_eq!(
        results[1]["found"], false,
        "a name that does not match its code"
    );
    assert_eq!(results[2]["found"], false);
    let id = done["id"].as_str().expect("id");

    // The letter of 附录B, read back.
    let letter = format!("/api/v1/verifications/{id}/letter");
    let response = app
        .client
        .get(app.url(&letter))
        .bearer_auth(&clerk)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let pdf = response.bytes().await.expect("pdf").to_vec();
    let all = pdf_pages(&pdf).concat();
    for text in [
        "关于反馈2026年度评优评先信用记录查询结果的函",
        "杭州市发展和改革委员会：",
        "《关于协助查询有关单位信用记录的函》收悉",
        "截止到",
        "本查询结果客观反映查询时间点信用主体信用记录状况",
        "联系人及联系方式",
        "附件：信用记录查询结果",
        some["name"].as_str().expect("name"),
        results[0]["conclusion"].as_str().expect("conclusion"),
        "未查询到名称与代码一致的信用主体",
    ] {
        assert!(all.contains(text), "the letter has {text}");
    }
    let archived: String =
        sqlx::query_scalar("SELECT letter_sha256 FROM verifications WHERE id = ?")
            .bind(id)
            .fetch_one(app.store.pool())
            .await
            .expect("archived");
    assert_eq!(archived, platform::store::sha256_hex(&pdf));
    assert_eq!(app.audit_actions(id).await, ["verification.issued"]);

    // Another agency sees neither the letter nor the request.
    let (status, _) = app.call(Method::GET, &letter, Some(&other), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, theirs) = app
        .call(Method::GET, "/api/v1/verifications", Some(&other), None)
        .await;
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(0));
    let (_, all) = app
        .call(Method::GET, "/api/v1/verifications", Some(&admin), None)
        .await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));
}
