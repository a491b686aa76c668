//! Objections (BRIEF Q8) over a real listener: filed by the public with a completeness
//! check, the record marked everywhere, resolved by its source unit within the calendar's
//! deadline, followed by the applicant, kept in the ledger.

use governance::identity::Role;
use policies::calendar::Calendar;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error};

/// An enterprise of the sample data and one of its disclosed records (preferring one
/// that is not the registration itself).
pub(crate) async fn enterprise_with_a_record(app: &TestApp) -> (Value, Value) {
    let some = app.search_sample().await;
    let record = a_record_of(app, &some).await;
    (some, record)
}

/// A disclosed record of `subject` (from the last section that has one: not the
/// registration itself where there is another).
pub(crate) async fn a_record_of(app: &TestApp, subject: &Value) -> Value {
    let uscc = subject["uscc"].as_str().expect("uscc");
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects/{uscc}/records"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .rev()
        .find_map(|s| s["records"].as_array().and_then(|r| r.first()).cloned())
        .expect("a disclosed record")
}

/// The subject's complete objection to `record` (Q8).
pub(crate) fn filing(subject: &Value, record: &Value) -> Value {
    json!({
        "applicant_name": subject["name"],
        "applicant_code": subject["uscc"],
        "phone": "0571-87654321",
        "content": "该记录的处罚决定已被复议撤销，请核实后更正。",
        "record_id": record["record_id"],
    })
}

/// Files the subject's objection to `record` as the public does (Q8); the receipt.
pub(crate) async fn file_as_the_subject(app: &TestApp, subject: &Value, record: &Value) -> Value {
    let (status, filed) = app
        .call(
            Method::POST,
            "/api/v1/public/objections",
            None,
            Some(filing(subject, record)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    filed
}

fn marked(records: &Value, record_id: &str) -> Option<Value> {
    records["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .flat_map(|s| s["records"].as_array().cloned().unwrap_or_default())
        .find(|r| r["record_id"] == record_id)
}

#[tokio::test]
async fn an_objection_flows_from_filing_to_resolution_and_the_record_is_marked_meanwhile() {
    let app = TestApp::spawn().await;
    let (subject, record) = enterprise_with_a_record(&app).await;
    let uscc = subject["uscc"].as_str().expect("uscc").to_owned();
    let name = subject["name"].as_str().expect("name").to_owned();
    let record_id = record["record_id"].as_str().expect("record_id").to_owned();
    let unit = record["source_unit"]
        .as_str()
        .expect("source_unit")
        .to_owned();
    let records_path = format!("/api/v1/public/subjects/{uscc}/records");

    // Q8 / 6.4.2: an empty filing names every missing field, and files nothing.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/public/objections",
            None,
            Some(json!({})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "applicant_name",
            "applicant_code",
            "phone",
            "content",
            "record_id"
        ]
    );
    let filing = json!({
        "applicant_name": name,
        "applicant_code": uscc,
        "phone": "0571-87654321",
        "content": "该记录的处罚决定已被复议撤销，请核实后更正。",
        "record_id": record_id,
    });
    for (field, value, code) in [
        ("phone", json!("12345"), "invalid_field"),
        ("applicant_code", json!("12345"), "invalid_field"),
        ("content", json!("错了"), "invalid_field"),
        ("record_id", json!("no-such-record"), "no_such_record"),
        // Someone else's name with this code: not the record's subject.
        ("applicant_name", json!("别的公司"), "not_the_subject"),
    ] {
        let mut bad = filing.clone();
        bad[field] = value;
        let (status, body) = app
            .call(Method::POST, "/api/v1/public/objections", None, Some(bad))
            .await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, code);
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let (_, untouched) = app.call(Method::GET, &records_path, None, None).await;
    assert!(marked(&untouched, &record_id).expect("record")["mark"].is_null());

    // Filed without signing in: received, and nothing is marked until the service
    // provider has checked it (6.4.2; issue 17: anyone could mark any enterprise's
    // records by typing its name and code).
    let (status, filed) = app
        .call(
            Method::POST,
            "/api/v1/public/objections",
            None,
            Some(filing.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["status"], "received");
    assert!(filed["due_on"].is_null(), "no deadline before acceptance");
    assert_eq!(filed["source_unit"], unit);
    assert!(
        filed["message"]
            .as_str()
            .is_some_and(|m| m.contains("checks that it is complete")),
        "the receipt says what happens next: {filed}"
    );
    let id = filed["id"].as_str().expect("id").to_owned();
    let number = filed["number"].as_str().expect("number").to_owned();
    let token = filed["token"].as_str().expect("token").to_owned();
    let (_, records) = app.call(Method::GET, &records_path, None, None).await;
    assert!(
        marked(&records, &record_id).expect("record")["mark"].is_null(),
        "a received objection marks nothing"
    );
    let (_, found) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects?q={uscc}"),
            None,
            None,
        )
        .await;
    assert!(found["items"][0]["mark"].is_null(), "{found}");

    // Dispatched only once accepted: the source unit's queue is empty meanwhile, and it
    // cannot accept or resolve it; neither can the applicant.
    app.user_in("unit", Role::SourceUnit, None, Some(&unit), None)
        .await;
    app.user("admin", Role::Administrator).await;
    let unit_token = app.login("unit").await;
    let admin = app.login("admin").await;
    let (_, queue) = app
        .call(Method::GET, "/api/v1/objections", Some(&unit_token), None)
        .await;
    assert_eq!(queue["total"], 0, "{queue}");
    let accept = format!("/api/v1/objections/{id}/acceptance");
    let (status, body) = app
        .call(
            Method::POST,
            &accept,
            Some(&unit_token),
            Some(json!({ "decision": "accept" })),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/objections/{id}/resolution"),
            Some(&admin),
            Some(json!({ "outcome": "upheld", "resolution": "经核实，记录无误。" })),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, received) = app
        .call(
            Method::GET,
            "/api/v1/objections?status=received",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(received["items"][0]["number"], number, "{received}");

    // Accepted by the provider: due 5 working days after the acceptance on the calendar
    // (provisional where they run into a year it has no data for yet).
    let (status, accepted) = app
        .call(
            Method::POST,
            &accept,
            Some(&admin),
            Some(json!({ "decision": "accept" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["status"], "open");
    let today = platform::store::china_today();
    let due = Calendar::builtin().deadline(today, 5);
    assert_eq!(accepted["due_on"], due.day.to_string());
    assert_eq!(accepted["due_provisional"], due.provisional);
    assert!(accepted["accepted_at"].is_string());
    let (status, body) = app
        .call(
            Method::POST,
            &accept,
            Some(&admin),
            Some(json!({ "decision": "accept" })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "objection_not_received",
    );

    // Marked now: records, search results, the credit report.
    let (_, records) = app.call(Method::GET, &records_path, None, None).await;
    assert_eq!(
        marked(&records, &record_id).expect("record")["mark"],
        "异议处理中"
    );
    let (_, found) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects?q={uscc}"),
            None,
            None,
        )
        .await;
    assert_eq!(found["items"][0]["mark"], "异议处理中", "{found}");
    let (status, report) = app
        .call(
            Method::POST,
            &format!("/api/v1/public/subjects/{uscc}/reports"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        report.to_string().contains("异议处理中"),
        "the report shows the mark"
    );

    // One objection at a time per record: a second filing is received (its filer cannot
    // block the subject's own), but it is not accepted while the first is handled.
    let (status, second) = app
        .call(
            Method::POST,
            "/api/v1/public/objections",
            None,
            Some(filing.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second_id = second["id"].as_str().expect("id").to_owned();
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/objections/{second_id}/acceptance"),
            Some(&admin),
            Some(json!({ "decision": "accept" })),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "objection_open");

    // The provider returns it (退回) with the reason, which its filer reads; a return
    // needs a reason.
    let back = format!("/api/v1/objections/{second_id}/acceptance");
    let (status, body) = app
        .call(
            Method::POST,
            &back,
            Some(&admin),
            Some(json!({ "decision": "return" })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "reason");
    let (status, returned) = app
        .call(
            Method::POST,
            &back,
            Some(&admin),
            Some(json!({ "decision": "return", "reason": "同一记录的异议正在处理中，请等待其结果。" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{returned}");
    assert_eq!(returned["status"], "returned");
    let (_, followed) = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/public/objections/{}?token={}",
                second["number"].as_str().expect("number"),
                second["token"].as_str().expect("token")
            ),
            None,
            None,
        )
        .await;
    assert_eq!(followed["status"], "returned");
    assert!(
        followed["resolution"]
            .as_str()
            .is_some_and(|r| r.contains("正在处理中"))
    );
    assert_eq!(
        app.audit_actions(&second_id).await,
        ["objection.filed", "objection.returned"]
    );

    // The applicant follows it with the token; a wrong token learns nothing.
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/objections/{number}?token=cpo_wrong"),
            None,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let follow = format!("/api/v1/public/objections/{number}?token={token}");
    let (status, body) = app.call(Method::GET, &follow, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "open");

    // Dispatched to the record's source unit: its queue has it; another unit's does not
    // and cannot even see it; an institution user has no ledger.
    app.user_in(
        "other-unit",
        Role::SourceUnit,
        None,
        Some("另一数源单位"),
        None,
    )
    .await;
    app.user("applicant", Role::Applicant).await;
    let other = app.login("other-unit").await;
    let applicant = app.login("applicant").await;
    let (status, queue) = app
        .call(
            Method::GET,
            "/api/v1/objections?status=open",
            Some(&unit_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["items"][0]["number"], number);
    assert_ne!(
        queue["items"][0]["phone"], "0571-87654321",
        "masked for the unit"
    );
    let (_, other_queue) = app
        .call(Method::GET, "/api/v1/objections", Some(&other), None)
        .await;
    assert_eq!(other_queue["total"], 0);
    let resolution = |outcome: &str| json!({ "outcome": outcome, "resolution": "经核实，该处罚已被复议撤销，撤下该记录。" });
    for who in [&other, &applicant] {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/api/v1/objections/{id}/resolution"),
                Some(who),
                Some(resolution("withdrawn")),
            )
            .await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    let (status, body) = app
        .call(Method::GET, "/api/v1/objections", Some(&applicant), None)
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, still) = app.call(Method::GET, &records_path, None, None).await;
    assert_eq!(
        marked(&still, &record_id).expect("record")["mark"],
        "异议处理中"
    );

    // Resolved by the unit, within the deadline: withdrawn, so gone at once.
    let (status, done) = app
        .call(
            Method::POST,
            &format!("/api/v1/objections/{id}/resolution"),
            Some(&unit_token),
            Some(resolution("withdrawn")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "withdrawn");
    assert_eq!(done["on_time"], true);
    let (_, after) = app.call(Method::GET, &records_path, None, None).await;
    assert!(marked(&after, &record_id).is_none(), "withdrawn at once");
    let (_, found) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects?q={uscc}"),
            None,
            None,
        )
        .await;
    assert!(found["items"][0]["mark"].is_null(), "{found}");
    let (_, body) = app.call(Method::GET, &follow, None, None).await;
    assert_eq!(body["status"], "withdrawn");
    assert!(
        body["resolution"]
            .as_str()
            .is_some_and(|r| r.contains("撤下"))
    );
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/objections/{id}/resolution"),
            Some(&unit_token),
            Some(resolution("upheld")),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "objection_resolved");

    // The ledger (administrators) keeps it; the audit log has both steps.
    let (status, ledger) = app
        .call(Method::GET, "/api/v1/objections", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{ledger}");
    let kept = ledger["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|o| o["id"] == id.as_str())
        .expect("in the ledger");
    assert_eq!(kept["status"], "withdrawn");
    assert_eq!(
        app.audit_actions(&id).await,
        [
            "objection.filed",
            "objection.accepted",
            "objection.resolved"
        ]
    );
}

#[tokio::test]
async fn a_corrected_record_shows_its_correction_and_overdue_objections_are_flagged() {
    let app = TestApp::spawn().await;
    let (subject, record) = enterprise_with_a_record(&app).await;
    let uscc = subject["uscc"].as_str().expect("uscc").to_owned();
    let record_id = record["record_id"].as_str().expect("record_id").to_owned();
    let unit = record["source_unit"]
        .as_str()
        .expect("source_unit")
        .to_owned();
    // Recorded by the service's staff from a letter: their check done, it is accepted
    // as filed and marks the record at once.
    app.user("admin", Role::Administrator).await;
    let admin = app.login("admin").await;
    let (status, filed) = app
        .call(
            Method::POST,
            "/api/v1/objections",
            Some(&admin),
            Some(json!({
                "applicant_name": subject["name"],
                "applicant_code": uscc,
                "phone": "13812345678",
                "content": "记录中的金额有误，应为五千元。",
                "record_id": record_id,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["status"], "open");
    let id = filed["id"].as_str().expect("id").to_owned();
    let (_, records) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects/{uscc}/records"),
            None,
            None,
        )
        .await;
    assert_eq!(
        marked(&records, &record_id).expect("record")["mark"],
        "异议处理中"
    );

    // Aged past its deadline: flagged overdue in the ledger.
    sqlx::query("UPDATE objections SET due_on = '2026-01-05' WHERE id = ?")
        .bind(&id)
        .execute(app.store.pool())
        .await
        .expect("age");
    let (_, overdue) = app
        .call(
            Method::GET,
            "/api/v1/objections?overdue=true",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(overdue["total"], 1, "{overdue}");
    assert_eq!(overdue["items"][0]["overdue"], true);
    assert_eq!(
        overdue["items"][0]["phone"], "13812345678",
        "whole for the service"
    );

    app.user_in("unit", Role::SourceUnit, None, Some(&unit), None)
        .await;
    let unit_token = app.login("unit").await;
    let (status, done) = app
        .call(
            Method::POST,
            &format!("/api/v1/objections/{id}/resolution"),
            Some(&unit_token),
            Some(json!({ "outcome": "corrected", "resolution": "金额更正为5000元" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["on_time"], false, "resolved after the (aged) deadline");
    let (_, records) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects/{uscc}/records"),
            None,
            None,
        )
        .await;
    let shown = marked(&records, &record_id).expect("still shown");
    assert!(shown["mark"].is_null());
    assert_eq!(shown["correction"], "经异议核实已更正：金额更正为5000元");
    let (_, overdue) = app
        .call(
            Method::GET,
            "/api/v1/objections?overdue=true",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(overdue["total"], 0);
}

#[tokio::test]
async fn a_source_unit_account_names_a_unit_the_records_name() {
    // Q8: objections reach a source unit by the name its records give; an account under
    // another name would never see them.
    let app = TestApp::spawn().await;
    app.user("admin", Role::Administrator).await;
    let admin = app.login("admin").await;
    let (_, record) = enterprise_with_a_record(&app).await;
    let unit = record["source_unit"].as_str().expect("source_unit");
    let create = |username: &str, organisation: &str| {
        json!({
            "username": username, "display_name": "异议处理员",
            "password": "correct horse battery staple",
            "role": "source_unit", "organisation": organisation,
        })
    };
    // Refused with the field named and the reason; the message returned.
    let refused = |username: &'static str, organisation: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let (status, body) = app
                .call(
                    Method::POST,
                    "/api/v1/users",
                    Some(admin),
                    Some(create(username, &organisation)),
                )
                .await;
            assert_error(
                status,
                &body,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            );
            assert_eq!(body["error"]["field"], "organisation");
            body["error"]["message"]
                .as_str()
                .expect("message")
                .to_owned()
        }
    };
    let message = refused("unit.one", "某某局".into()).await;
    assert!(
        message.contains("no record names the source unit '某某局'"),
        "{message}"
    );
    // Part of a real unit's name: the units it could mean are offered.
    let message = refused("unit.two", unit.chars().skip(1).collect()).await;
    assert!(message.contains("did you mean"), "{message}");
    let created: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username IN ('unit.one', 'unit.two')")
            .fetch_one(app.store.pool())
            .await
            .expect("query");
    assert_eq!(created, 0);
    // The unit as its records name it.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(create("unit.three", unit)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["organisation"], unit);
}

#[tokio::test]
async fn a_person_signed_in_objects_to_their_own_record_at_once_and_to_no_one_elses() {
    // Q8 / 6.4.2: the record's own subject, signed in, is who the provider's check asks
    // for: their objection is accepted as filed. Signed in as anyone else, an objection
    // is refused rather than taken as the subject's.
    let app = TestApp::spawn().await;
    let persons = crate::persons::two_persons().await;
    let (a_subject, a_name, a_id) = persons[0].clone();
    let (_, b_name, b_id) = persons[1].clone();
    for (username, name, id) in [("alice", &a_name, &a_id), ("bob", &b_name, &b_id)] {
        let (status, body) = crate::persons::register(&app, username, name, id).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    app.user("reviewer", Role::Reviewer).await;
    let reviewer = app.login("reviewer").await;
    let records_path = format!("/api/v1/persons/{a_subject}/records");
    let (status, own) = app
        .call(Method::GET, &records_path, Some(&alice), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    let record_id = own["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .flat_map(|s| s["records"].as_array().cloned().unwrap_or_default())
        .find_map(|r| r["record_id"].as_str().map(str::to_owned))
        .expect("a record of hers");
    let filing = json!({
        "applicant_name": a_name,
        "applicant_code": a_id,
        "phone": "13812345678",
        "content": "该资格记录的有效期有误，请核实更正。",
        "record_id": record_id,
    });

    // Bob knows her name and ID number; signed in, he still cannot object as her, and
    // neither can a reviewer: nothing is filed.
    for who in [&bob, &reviewer] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/objections",
                Some(who),
                Some(filing.clone()),
            )
            .await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let filed_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM objections")
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    assert_eq!(filed_rows, 0, "a refused filing files nothing");

    // Alice, signed in, objects to her own record: accepted as filed, marked at once.
    let (status, filed) = app
        .call(
            Method::POST,
            "/api/v1/objections",
            Some(&alice),
            Some(filing.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["status"], "open");
    let today = platform::store::china_today();
    assert_eq!(
        filed["due_on"],
        Calendar::builtin().deadline(today, 5).day.to_string()
    );
    let (_, after) = app
        .call(Method::GET, &records_path, Some(&alice), None)
        .await;
    assert_eq!(
        marked(&after, &record_id).expect("record")["mark"],
        "异议处理中"
    );
    let id = filed["id"].as_str().expect("id");
    assert_eq!(app.audit_actions(id).await, ["objection.filed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enterprise_objects_at_once_through_its_institution_and_to_no_one_elses_records() {
    // Issue 17, item 6: an enterprise signs in through an authorised representative, a
    // user of the institution it is (its code checked when its application was
    // approved): its objection to its own record is accepted as filed. Signed in, it
    // cannot object at once to another enterprise's record, and a suspended
    // institution's users no longer can.
    let app = TestApp::spawn().await;
    let (institution, token, admin) =
        crate::lifecycle::opened(&app, "rep.apply", &crate::products::TABLES, 0).await;
    let (_, me) = app
        .call(
            Method::GET,
            &format!("/api/v1/institutions/{institution}"),
            Some(&token),
            None,
        )
        .await;
    let uscc = me["uscc"].as_str().expect("uscc").to_owned();
    let name = me["name"].as_str().expect("name").to_owned();
    let (status, own) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects/{uscc}/records"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    let record_id = own["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .flat_map(|s| s["records"].as_array().cloned().unwrap_or_default())
        .find_map(|r| r["record_id"].as_str().map(str::to_owned))
        .expect("a record of the enterprise's");
    let filing = |name: &str, code: &str, record: &str| {
        json!({
            "applicant_name": name,
            "applicant_code": code,
            "phone": "0571-87654321",
            "content": "该记录的内容与事实不符，请核实更正。",
            "record_id": record,
        })
    };

    // Another enterprise's record, with that enterprise's name and code: refused, and
    // nothing is filed.
    let (other, other_record) = enterprise_with_a_record(&app).await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/objections",
            Some(&token),
            Some(filing(
                other["name"].as_str().expect("name"),
                other["uscc"].as_str().expect("uscc"),
                other_record["record_id"].as_str().expect("id"),
            )),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, ledger) = app
        .call(Method::GET, "/api/v1/objections", Some(&admin), None)
        .await;
    assert_eq!(ledger["total"], 0, "{ledger}");

    // Suspended, its users no longer file at once: nothing is filed.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/suspend"),
            Some(&admin),
            Some(json!({ "reason": "未按期报送进展报告", "rectification_deadline": "2099-01-31" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/objections",
            Some(&token),
            Some(filing(&name, &uscc, &record_id)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, ledger) = app
        .call(Method::GET, "/api/v1/objections", Some(&admin), None)
        .await;
    assert_eq!(ledger["total"], 0, "{ledger}");

    // Active again, its own record: accepted as filed, marked at once.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/reinstate"),
            Some(&admin),
            Some(json!({ "reason": "已按期完成整改" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, filed) = app
        .call(
            Method::POST,
            "/api/v1/objections",
            Some(&token),
            Some(filing(&name, &uscc, &record_id)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["status"], "open", "{filed}");
    let (_, marked_now) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects/{uscc}/records"),
            None,
            None,
        )
        .await;
    assert_eq!(
        marked(&marked_now, &record_id).expect("record")["mark"],
        "异议处理中"
    );
}
