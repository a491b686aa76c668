//! BRIEF P1 over HTTP: an institution registers, drafts its application, is told every
//! field at fault, submits, and then can no longer change it; nobody else sees it but
//! the administrators.

use governance::identity::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error};

pub fn complete_form() -> Value {
    json!({
        "institution_name": "浙江示例征信有限公司",
        "uscc": "91110000600037341L",
        "contact_name": "王敏",
        "contact_phone": "0571-87654321",
        "basic_situation": "2015年成立的企业征信机构，已备案。",
        "qualifications": [
            { "kind": "security_practice", "description": "等保三级", "evidence": ["file-1"] },
            { "kind": "credit_reporting_licence", "description": "企业征信备案", "evidence": ["file-2"] }
        ],
        "product_name": "小微企业信用评分",
        "innovation": "融合公共信用信息与经营数据",
        "schedule": [
            { "start": "2027-01-01", "end": "2027-06-30", "description": "建模与验证" },
            { "start": "2027-07-01", "end": "2027-12-31", "description": "试点应用" }
        ],
        "scenarios": "普惠信贷审批",
        "commitment": { "accepted": true, "signed_by": "李强" },
        "data_supply": ["enterprises", "admin_penalties", "dishonesty_list"],
        "own_data": [{ "source_unit": "本机构", "table_name": "贷款表现", "shareable": false }]
    })
}

pub async fn register(app: &TestApp, username: &str) -> String {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/applicants",
            None,
            Some(json!({ "username": username, "display_name": "示例机构", "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["role"], "applicant");
    app.login(username).await
}

#[tokio::test]
async fn registration_refuses_taken_names_and_weak_passwords() {
    let app = TestApp::spawn().await;
    register(&app, "acme.apply").await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/applicants",
            None,
            Some(json!({ "username": "acme.apply", "display_name": "x", "password": PASSWORD })),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "username_taken");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/applicants",
            None,
            Some(json!({ "username": "short.pw", "display_name": "x", "password": "short" })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "password");
}

#[tokio::test]
async fn draft_fix_submit_and_the_application_is_frozen() {
    let app = TestApp::spawn().await;
    let token = register(&app, "acme.apply").await;

    let (status, catalog) = app
        .call(Method::GET, "/api/v1/catalog", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(catalog["items"].as_array().map(Vec::len), Some(15));

    // A draft may be incomplete.
    let (status, draft) = app
        .call(
            Method::POST,
            "/api/v1/applications",
            Some(&token),
            Some(json!({ "institution_name": "浙江示例征信有限公司" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["status"], "draft");
    let id = draft["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/applications/{id}");

    // Submitting names every field at fault, and changes nothing.
    let mut form = complete_form();
    form["uscc"] = json!("91110000600037341M");
    form["contact_phone"] = json!("12345");
    form["schedule"][1]["end"] = json!("2028-01-02");
    form["commitment"]["accepted"] = json!(false);
    form["data_supply"] = json!(["enterprises", "secret_table"]);
    let (status, _) = app.call(Method::PUT, &path, Some(&token), Some(form)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .call(Method::POST, &format!("{path}/submit"), Some(&token), None)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "application_incomplete",
    );
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["field"].as_str().expect("field"))
        .collect();
    assert_eq!(
        fields,
        [
            "uscc",
            "contact_phone",
            "schedule",
            "commitment.accepted",
            "data_supply[1]",
            // Evidence must have been uploaded to this application.
            "qualifications[0].evidence[0]",
            "qualifications[1].evidence[0]"
        ]
    );
    assert_eq!(body["error"]["field"], "uscc");
    let (_, current) = app.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(current["status"], "draft");

    // Fixed, with its evidence uploaded, it is submitted; then it is frozen.
    let mut form = complete_form();
    for i in 0..2 {
        let (status, file) = app
            .upload(
                &format!("{path}/evidence?filename=proof-{i}.png"),
                &token,
                "image/png",
                b"\x89PNG\r\n\x1a\nnot really an image".to_vec(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{file}");
        assert_eq!(file["media_type"], "image/png");
        form["qualifications"][i]["evidence"] = json!([file["id"]]);
    }
    let (status, _) = app.call(Method::PUT, &path, Some(&token), Some(form)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, submitted) = app
        .call(Method::POST, &format!("{path}/submit"), Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["status"], "submitted");
    assert!(submitted["submitted_at"].is_string());
    // P2: the entry criteria were checked against the register, which does not know
    // this code: each required check fails and says so.
    let criteria = &submitted["criteria"];
    assert_eq!(criteria["all_required_passed"], false, "{criteria}");
    assert_eq!(criteria["criteria"][0]["outcome"], "failed");
    assert!(
        criteria["criteria"][0]["finding"]
            .as_str()
            .is_some_and(|f| f.contains("no active registration")),
        "{criteria}"
    );
    assert_eq!(criteria["criteria"][3]["outcome"], "declared");
    let (status, body) = app
        .upload(
            &format!("{path}/evidence?filename=late.pdf"),
            &token,
            "application/pdf",
            b"%PDF-1.4".to_vec(),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_a_draft");
    let (status, body) = app
        .call(Method::PUT, &path, Some(&token), Some(complete_form()))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_a_draft");
    let (status, body) = app
        .call(Method::POST, &format!("{path}/submit"), Some(&token), None)
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "not_a_draft");

    let actions: Vec<String> = app.audit_actions(&id).await;
    assert_eq!(
        actions,
        [
            "application.created",
            "application.updated",
            "application.updated",
            "application.submitted",
            "application.criteria_checked"
        ]
    );
}

#[tokio::test]
async fn an_application_is_seen_by_its_applicant_and_administrators_only() {
    let app = TestApp::spawn().await;
    let acme = register(&app, "acme.apply").await;
    let other = register(&app, "other.apply").await;
    app.user("admin.li", Role::Administrator).await;
    app.user("reviewer.wu", Role::Reviewer).await;
    let admin = app.login("admin.li").await;
    let reviewer = app.login("reviewer.wu").await;

    let (_, draft) = app
        .call(
            Method::POST,
            "/api/v1/applications",
            Some(&acme),
            Some(complete_form()),
        )
        .await;
    let path = format!("/api/v1/applications/{}", draft["id"].as_str().expect("id"));

    for token in [&other, &reviewer] {
        let (status, body) = app.call(Method::GET, &path, Some(token), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        let (status, body) = app
            .call(Method::PUT, &path, Some(token), Some(json!({})))
            .await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    let (status, _) = app.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    // Administrators read but do not edit applicants' forms.
    let (status, body) = app
        .call(Method::PUT, &path, Some(&admin), Some(json!({})))
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    let (_, mine) = app
        .call(Method::GET, "/api/v1/applications", Some(&acme), None)
        .await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1));
    let (_, theirs) = app
        .call(Method::GET, "/api/v1/applications", Some(&other), None)
        .await;
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(0));
    let (_, all) = app
        .call(Method::GET, "/api/v1/applications", Some(&admin), None)
        .await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));

    // Only applicants create applications.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/applications",
            Some(&reviewer),
            Some(json!({})),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // Unknown fields and wrong types in the form are refused.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/applications",
            Some(&acme),
            Some(json!({ "status": "approved" })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["error"]["field"], "status");
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/applications/does-not-exist",
            Some(&acme),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_list_is_paged_by_cursor_and_the_limit_is_checked() {
    let app = TestApp::spawn().await;
    let token = register(&app, "acme.apply").await;
    for _ in 0..3 {
        let (status, _) = app
            .call(
                Method::POST,
                "/api/v1/applications",
                Some(&token),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/applications?limit=2".to_owned();
    loop {
        let (status, page) = app.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/applications?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen, "pages neither repeat nor skip");
    // Issue 17: a cursor that is not one of this list is refused, not taken as the
    // first page.
    for bad in ["abc", "not-a-cursor", "0a0a"] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/applications?limit=2&cursor={bad}"),
                Some(&token),
                None,
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        assert_eq!(body["error"]["field"], "cursor", "{bad}: {body}");
    }

    for bad in ["0", "501"] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/applications?limit={bad}"),
                Some(&token),
                None,
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        assert_eq!(body["error"]["field"], "limit");
    }
}
