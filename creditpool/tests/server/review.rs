//! BRIEF P3 over HTTP: assignment (at least three, no conflicts of interest), independent
//! reviews, and a decision that is final only when recorded.

use governance::identity::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::applications::{complete_form, register};
use crate::helpers::{TestApp, assert_error};

/// A submitted application, an administrator and four reviewers (the fourth belongs to
/// the applicant). Returns (application path, applicant, admin, reviewer ids, tokens).
async fn setup(app: &TestApp) -> (String, String, String, Vec<String>, Vec<String>) {
    let applicant = register(app, "acme.apply").await;
    let path = app.draft_with_evidence(&applicant, complete_form()).await;
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{path}/submit"),
            Some(&applicant),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.user("admin.li", Role::Administrator).await;
    let admin = app.login("admin.li").await;
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for name in ["expert.a", "expert.b", "expert.c", "expert.d"] {
        ids.push(app.user(name, Role::Reviewer).await);
        tokens.push(app.login(name).await);
    }
    sqlx::query(
        "INSERT INTO reviewer_affiliations (user_id, uscc) VALUES (?, '91110000600037341L')",
    )
    .bind(&ids[3])
    .execute(app.store.pool())
    .await
    .expect("affiliation");
    (path, applicant, admin, ids, tokens)
}

fn scores(opinion: &str) -> serde_json::Value {
    json!({ "compliance": 85, "innovation": 70, "prospects": 78, "opinion": opinion })
}

#[tokio::test]
async fn three_reviews_then_a_recorded_decision_that_the_applicant_sees() {
    let app = TestApp::spawn().await;
    let (path, applicant, admin, ids, tokens) = setup(&app).await;

    // Reviewers cannot review before they are assigned.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/reviews"),
            Some(&tokens[0]),
            Some(scores("材料完整，合规。")),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // The conflicted reviewer is refused by name; fewer than three are refused.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/reviewers"),
            Some(&admin),
            Some(json!({ "reviewer_ids": [ids[0], ids[3], ids[1]] })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "reviewer_ids[1]");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/reviewers"),
            Some(&admin),
            Some(json!({ "reviewer_ids": [ids[0], ids[1]] })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("at least 3")
    );
    // Only administrators assign.
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{path}/reviewers"),
            Some(&applicant),
            Some(json!({ "reviewer_ids": [ids[0], ids[1], ids[2]] })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, assigned) = app
        .call(
            Method::POST,
            &format!("{path}/reviewers"),
            Some(&admin),
            Some(json!({ "reviewer_ids": [ids[0], ids[1], ids[2]] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assert_eq!(assigned["status"], "under_review");

    // Reviews: scores checked, one each, independent until the decision.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/reviews"),
            Some(&tokens[0]),
            Some(json!({ "compliance": 120, "innovation": 70, "prospects": 78, "opinion": "材料完整，合规性良好。" })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "compliance");
    for token in &tokens[..2] {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("{path}/reviews"),
                Some(token),
                Some(scores("材料完整，合规性良好，创新点明确。")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/reviews"),
            Some(&tokens[0]),
            Some(scores("第二次评审意见，不应接受。")),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "wrong_stage");
    let (_, seen) = app
        .call(
            Method::GET,
            &format!("{path}/reviews"),
            Some(&tokens[1]),
            None,
        )
        .await;
    assert_eq!(
        seen["reviews"].as_array().map(Vec::len),
        Some(1),
        "only one's own review"
    );
    // Issue 15, blind review: until the decision the applicant sees how many reviews are
    // in, not who wrote what; administrators see all.
    let (status, blind) = app
        .call(
            Method::GET,
            &format!("{path}/reviews"),
            Some(&applicant),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{blind}");
    assert_eq!(blind["reviews_in"], 2, "{blind}");
    assert_eq!(blind["reviews"], json!([]), "{blind}");
    assert!(!blind.to_string().contains("expert."), "{blind}");
    let (_, all) = app
        .call(Method::GET, &format!("{path}/reviews"), Some(&admin), None)
        .await;
    assert_eq!(all["reviews"].as_array().map(Vec::len), Some(2), "{all}");
    // The conflicted reviewer cannot review even by guessing the id.
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{path}/reviews"),
            Some(&tokens[3]),
            Some(scores("与申请人有关联，不应评审。")),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // No decision until every assigned reviewer has reviewed.
    let decision_path = format!("{path}/decision");
    let decide = |decision: &'static str| {
        app.call(
            Method::POST,
            &decision_path,
            Some(&admin),
            Some(json!({ "decision": decision, "reason": "三位专家一致认为合规、创新点明确。" })),
        )
    };
    let (status, body) = decide("approved").await;
    assert_error(status, &body, StatusCode::CONFLICT, "wrong_stage");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("1 assigned reviewer")
    );
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{path}/reviews"),
            Some(&tokens[2]),
            Some(scores("同意入驻，建议关注数据安全。")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = decide("maybe").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let (status, decision) = decide("approved").await;
    assert_eq!(status, StatusCode::OK, "{decision}");
    let (status, body) = decide("rejected").await;
    assert_error(status, &body, StatusCode::CONFLICT, "wrong_stage");

    // The applicant sees the status, the decision and every opinion.
    let (_, view) = app
        .call(
            Method::GET,
            &format!("{path}/reviews"),
            Some(&applicant),
            None,
        )
        .await;
    assert_eq!(view["status"], "approved");
    assert_eq!(view["decision"]["decision"], "approved");
    assert_eq!(view["reviews"].as_array().map(Vec::len), Some(3));
    let (_, application) = app.call(Method::GET, &path, Some(&applicant), None).await;
    assert_eq!(application["status"], "approved");

    assert!(matches!(
        storage::audit::verify(&app.store).await.expect("verify"),
        storage::audit::Verdict::Intact { .. }
    ));
}

#[tokio::test]
async fn affiliations_are_declared_by_reviewers_with_valid_codes_only() {
    let app = TestApp::spawn().await;
    app.user("expert.a", Role::Reviewer).await;
    app.user("admin.li", Role::Administrator).await;
    let reviewer = app.login("expert.a").await;
    let admin = app.login("admin.li").await;
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/me/affiliations",
            Some(&reviewer),
            Some(json!({ "usccs": ["91110000600037341L", "91110000600037341M"] })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "usccs[1]");
    let declared: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reviewer_affiliations")
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    assert_eq!(declared, 0, "nothing was stored");
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/me/affiliations",
            Some(&admin),
            Some(json!({ "usccs": [] })),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn a_code_typed_in_any_form_is_one_code_for_conflicts_of_interest() {
    // Issue 15: an application's code typed in lower case, with spaces or hyphens, or in
    // full width, is stored in its one canonical form, so the conflict-of-interest rule
    // (Cedar, comparing it with reviewers' affiliations) holds whatever was typed.
    let app = TestApp::spawn().await;
    let (_, _, admin, ids, _) = setup(&app).await;
    let canonical = "91110000600037341L";
    for (i, typed) in [
        "91110000600037341l",
        " 9111 0000 6000 3734 1L ",
        "911100-006000-37341L",
        "９１１１００００６０００３７３４１Ｌ",
    ]
    .into_iter()
    .enumerate()
    {
        let applicant = register(&app, &format!("typist{i}.apply")).await;
        let mut form = complete_form();
        form["uscc"] = json!(typed);
        let path = app.draft_with_evidence(&applicant, form).await;
        let (status, submitted) = app
            .call(
                Method::POST,
                &format!("{path}/submit"),
                Some(&applicant),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{typed}: {submitted}");
        assert_eq!(
            submitted["form"]["uscc"], canonical,
            "{typed}: stored as typed"
        );
        // The criteria find the register's entry under the same code.
        assert_eq!(
            submitted["criteria"]["uscc"], canonical,
            "{typed}: {submitted}"
        );
        let (status, body) = app
            .call(
                Method::POST,
                &format!("{path}/reviewers"),
                Some(&admin),
                Some(json!({ "reviewer_ids": [ids[0], ids[3], ids[1]] })),
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        assert_eq!(body["error"]["field"], "reviewer_ids[1]", "{typed}: {body}");
    }
}

#[tokio::test]
async fn codes_stored_as_typed_before_are_normalised_at_start() {
    // Issue 15: the migration. Codes stored before normalisation (in application forms,
    // institutions, affiliations) are brought to the canonical form when the store opens,
    // audited; a second start changes nothing.
    let app = TestApp::spawn().await;
    let (path, _, _, ids, _) = setup(&app).await;
    let id = path.rsplit('/').next().expect("id").to_owned();
    let pool = app.store.pool();
    sqlx::query("UPDATE applications SET form = json_set(form, '$.uscc', '91110000600037341l') WHERE id = ?")
        .bind(&id)
        .execute(pool)
        .await
        .expect("form");
    sqlx::query(
        "INSERT INTO institutions (id, name, uscc, status, created_at) \
         VALUES ('legacy', '旧机构', '9133 0100-7429 1418 69', 'active', '2026-01-01T00:00:00Z')",
    )
    .execute(pool)
    .await
    .expect("institution");
    // Two institutions whose codes differ only in how they were typed: neither is
    // changed (which is real is an administrator's call), and the clash is reported.
    sqlx::query(
        "INSERT INTO institutions (id, name, uscc, status, created_at) VALUES \
         ('typed-a', '甲', '91330106MA2CXXXX1q', 'active', '2026-01-01T00:00:00Z'), \
         ('typed-b', '甲', '91330106MA2CXXXX1Q', 'active', '2026-01-02T00:00:00Z')",
    )
    .execute(pool)
    .await
    .expect("clashing institutions");
    sqlx::query("UPDATE reviewer_affiliations SET uscc = '91110000600037341l' WHERE user_id = ?")
        .bind(&ids[3])
        .execute(pool)
        .await
        .expect("affiliation");
    let db = app.dir.path().join("creditpool.db");
    let reopened = platform::store::open(&db).await.expect("reopened");
    let pool = reopened.pool();
    let form: String =
        sqlx::query_scalar("SELECT json_extract(form, '$.uscc') FROM applications WHERE id = ?")
            .bind(&id)
            .fetch_one(pool)
            .await
            .expect("form");
    assert_eq!(form, "91110000600037341L");
    let institution: String =
        sqlx::query_scalar("SELECT uscc FROM institutions WHERE id = 'legacy'")
            .fetch_one(pool)
            .await
            .expect("institution");
    assert_eq!(institution, "913301007429141869");
    let affiliation: String =
        sqlx::query_scalar("SELECT uscc FROM reviewer_affiliations WHERE user_id = ?")
            .bind(&ids[3])
            .fetch_one(pool)
            .await
            .expect("affiliation");
    assert_eq!(affiliation, "91110000600037341L");
    let audited: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'store.codes_normalised'")
            .fetch_all(pool)
            .await
            .expect("audit");
    assert_eq!(audited.len(), 1, "{audited:?}");
    let detail: serde_json::Value = serde_json::from_str(&audited[0]).expect("json");
    assert_eq!(detail["application_forms"], 1);
    assert_eq!(detail["institutions"], 1);
    assert_eq!(detail["affiliations"], 1);
    assert_eq!(
        detail["clashes"],
        json!([{ "institutions": ["typed-a", "typed-b"], "uscc": "91330106MA2CXXXX1Q" }])
    );
    let typed: Vec<String> =
        sqlx::query_scalar("SELECT uscc FROM institutions WHERE id LIKE 'typed-%' ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("institutions");
    assert_eq!(typed, ["91330106MA2CXXXX1q", "91330106MA2CXXXX1Q"]);
    // Again: nothing to do, nothing audited.
    drop(reopened);
    let again = platform::store::open(&db).await.expect("again");
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'store.codes_normalised'",
    )
    .fetch_one(again.pool())
    .await
    .expect("audit");
    assert_eq!(count, 1);
}

#[tokio::test]
async fn an_affiliation_declared_during_a_review_stops_it_and_cannot_be_withdrawn() {
    // Issue 15: affiliations are a record. A reviewer who declares the applicant's code
    // after being assigned cannot review (the rule is checked again at review time), and
    // cannot withdraw the affiliation while assigned to get the review back; each
    // change is audited with what was added and removed.
    let app = TestApp::spawn().await;
    let (path, _, admin, ids, tokens) = setup(&app).await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/reviewers"),
            Some(&admin),
            Some(json!({ "reviewer_ids": [ids[0], ids[1], ids[2]] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let declare = |codes: serde_json::Value| {
        app.call(
            Method::PUT,
            "/api/v1/me/affiliations",
            Some(&tokens[0]),
            Some(json!({ "usccs": codes })),
        )
    };
    let (status, body) = declare(json!(["91110000600037341l"])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{path}/reviews"),
            Some(&tokens[0]),
            Some(scores("已声明关联，仍想评审。")),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the conflict stops the review"
    );
    let (status, body) = declare(json!([])).await;
    assert_error(status, &body, StatusCode::CONFLICT, "affiliation_in_use");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("91110000600037341L")),
        "{body}"
    );
    let held: Vec<String> =
        sqlx::query_scalar("SELECT uscc FROM reviewer_affiliations WHERE user_id = ?")
            .bind(&ids[0])
            .fetch_all(app.store.pool())
            .await
            .expect("affiliations");
    assert_eq!(held, ["91110000600037341L"], "nothing changed");
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'reviewer.affiliations_declared' AND actor = ?",
    )
    .bind(&ids[0])
    .fetch_all(app.store.pool())
    .await
    .expect("audit");
    assert_eq!(details.len(), 1, "{details:?}");
    let detail: serde_json::Value = serde_json::from_str(&details[0]).expect("json");
    assert_eq!(detail["added"], json!(["91110000600037341L"]));
    assert_eq!(detail["removed"], json!([]));
    // Another code may come and go.
    let (status, body) = declare(json!(["91110000600037341L", "913304007429141869"])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = declare(json!(["91110000600037341L"])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
