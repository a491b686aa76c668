//! Natural persons (BRIEF Q4) over a real listener: registration against the population
//! register, one's own record, and another's only with a live authorisation in scope.

use datafusion::arrow::array::AsArray;
use datafusion::prelude::SessionContext;
use governance::identity::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error, sample_data};
use crate::public::{issue_document, pdf_pages};

/// Two persons of the sample register who have records: (subject_id, name, id_number).
pub(crate) async fn two_persons() -> Vec<(String, String, String)> {
    let catalog = catalog::Catalog::open(sample_data()).expect("catalog");
    let ctx = SessionContext::new();
    catalog.register_all(&ctx).await.expect("register");
    let batches = ctx
        .sql(
            "SELECT p.subject_id, p.name, p.id_number FROM persons p \
             WHERE p.subject_id IN (SELECT subject_id FROM qualifications) \
             ORDER BY p.subject_id LIMIT 2",
        )
        .await
        .expect("sql")
        .collect()
        .await
        .expect("rows");
    let b = &batches[0];
    let text = |c: usize, r: usize| {
        datafusion::arrow::compute::cast(b.column(c), &datafusion::arrow::datatypes::DataType::Utf8)
            .expect("cast")
            .as_string::<i32>()
            .value(r)
            .to_owned()
    };
    (0..2)
        .map(|r| (text(0, r), text(1, r), text(2, r)))
        .collect()
}

pub(crate) async fn register(
    app: &TestApp,
    username: &str,
    name: &str,
    id_number: &str,
) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/api/v1/public/persons",
        None,
        Some(json!({ "username": username, "password": PASSWORD, "name": name, "id_number": id_number })),
    )
    .await
}

#[tokio::test]
async fn a_person_cannot_see_another_persons_record_without_a_live_authorisation() {
    let app = TestApp::spawn().await;
    let persons = two_persons().await;
    let (a_subject, a_name, a_id) = persons[0].clone();
    let (_, b_name, b_id) = persons[1].clone();

    // Registration against the register: a wrong name, a malformed number, a second
    // account for the same person are refused.
    let (status, body) = register(&app, "someone", "不是此人", &a_id).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_in_register",
    );
    let (status, body) = register(&app, "someone", &a_name, "330106199001011234").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let (status, body) = register(&app, "alice", &a_name, &a_id).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["subject_id"], a_subject);
    assert!(
        body["id_number"]
            .as_str()
            .is_some_and(|m| m.contains("********"))
    );
    let (status, body) = register(&app, "alice2", &a_name, &a_id).await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_registered");
    let (status, body) = register(&app, "bob", &b_name, &b_id).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let records = format!("/api/v1/persons/{a_subject}/records");

    // Alice sees her own record, masked: no raw ID number, no birth date, no address.
    let (status, own) = app.call(Method::GET, &records, Some(&alice), None).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    let text = own.to_string();
    assert!(!text.contains(&a_id));
    assert!(text.contains("********"));
    assert!(!text.contains("birth_date") && !text.contains("\"address\""));
    assert!(own["authorisation"].is_null());

    // Bob does not, and cannot have her report issued.
    let (status, body) = app.call(Method::GET, &records, Some(&bob), None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // Malformed grants are refused by name; only persons grant.
    for (field, bad) in [
        (
            "days",
            json!({ "grantee": "bob", "scope": "records", "purpose": "租房审核", "days": 0 }),
        ),
        (
            "days",
            json!({ "grantee": "bob", "scope": "records", "purpose": "租房审核", "days": 91 }),
        ),
        (
            "scope",
            json!({ "grantee": "bob", "scope": "everything", "purpose": "租房审核", "days": 1 }),
        ),
        (
            "grantee",
            json!({ "grantee": "alice", "scope": "records", "purpose": "租房审核", "days": 1 }),
        ),
        (
            "grantee",
            json!({ "grantee": "nobody", "scope": "records", "purpose": "租房审核", "days": 1 }),
        ),
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/me/authorisations",
                Some(&alice),
                Some(bad),
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        assert_eq!(body["error"]["field"], field);
    }
    app.user("clerk", Role::Applicant).await;
    let clerk = app.login("clerk").await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/me/authorisations",
            Some(&clerk),
            Some(json!({ "grantee": "bob", "scope": "records", "purpose": "x y", "days": 1 })),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // With a records authorisation Bob sees the records (audited), not the report.
    let (status, grant) = app
        .call(
            Method::POST,
            "/api/v1/me/authorisations",
            Some(&alice),
            Some(json!({ "grantee": "bob", "scope": "records", "purpose": "租房审核", "days": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let grant_id = grant["id"].as_str().expect("id").to_owned();
    let (_, received) = app
        .call(Method::GET, "/api/v1/me/authorisations", Some(&bob), None)
        .await;
    assert_eq!(received["received"][0]["grantor_subject_id"], a_subject);
    assert_eq!(received["received"][0]["live"], true);
    let (status, seen) = app.call(Method::GET, &records, Some(&bob), None).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["authorisation"], grant_id);
    assert!(!seen.to_string().contains(&a_id));
    assert!(
        app.audit_actions(&a_subject)
            .await
            .contains(&"person_record.read".to_owned())
    );
    let report = format!("/api/v1/persons/{a_subject}/reports?format=pdf");
    let (status, _, _) = issue_document(&app, &report, Some(&bob)).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "records scope does not cover the report"
    );

    // A report authorisation: Bob has the PDF issued, watermarked with his name.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/me/authorisations",
            Some(&alice),
            Some(json!({ "grantee": "bob", "scope": "report", "purpose": "入职背景核查", "days": 3 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, headers, pdf) = issue_document(&app, &report, Some(&bob)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["content-type"], "application/pdf");
    let pages = pdf_pages(&pdf);
    assert!(pages[0].contains("自然人公共信用信息报告"));
    assert!(
        pages.iter().all(|p| p.contains(&b_name)),
        "Bob's name on every page"
    );
    assert!(!pages.concat().contains(&a_id), "masked forms only");

    // Revoked: gone at once, for both scopes.
    let (_, mine) = app
        .call(Method::GET, "/api/v1/me/authorisations", Some(&alice), None)
        .await;
    for granted in mine["granted"].as_array().expect("granted") {
        let id = granted["id"].as_str().expect("id");
        let (status, _) = app
            .call(
                Method::DELETE,
                &format!("/api/v1/me/authorisations/{id}"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, _) = app.call(Method::GET, &records, Some(&bob), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/me/authorisations/{grant_id}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only the grantor revokes");

    // Expired: an authorisation past its time is worth nothing.
    let (_, grant) = app
        .call(
            Method::POST,
            "/api/v1/me/authorisations",
            Some(&alice),
            Some(json!({ "grantee": "bob", "scope": "records", "purpose": "租房审核", "days": 1 })),
        )
        .await;
    let (status, _) = app.call(Method::GET, &records, Some(&bob), None).await;
    assert_eq!(status, StatusCode::OK);
    sqlx::query("UPDATE authorisations SET expires_at = '2026-01-01T00:00:00.000Z' WHERE id = ?")
        .bind(grant["id"].as_str().expect("id"))
        .execute(app.store.pool())
        .await
        .expect("age");
    let (status, _) = app.call(Method::GET, &records, Some(&bob), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let actions = app.audit_actions(grant_id.as_str()).await;
    assert_eq!(actions, ["authorisation.granted", "authorisation.revoked"]);
}
