//! Consultations and complaints (BRIEF Q9, Q11) over a real listener.

use governance::identity::Role;
use policies::calendar::Calendar;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_error};

#[tokio::test]
async fn a_complaint_is_answered_within_the_deadline_extended_at_most_to_twenty_days_and_rated() {
    let app = TestApp::spawn().await;
    let complaint = json!({
        "kind": "complaint",
        "category": "wrong_association",
        "name": "张三",
        "contact": "13812345678",
        "content": "我的信用报告中关联了一条不属于我的处罚记录。",
    });
    // Every field is checked; only staff record telephone calls.
    for (field, value) in [
        ("kind", json!("praise")),
        ("category", json!("weather")),
        ("channel", json!("telephone")),
        ("contact", json!("call me")),
        ("content", json!("错")),
    ] {
        let mut bad = complaint.clone();
        bad[field] = value;
        let (status, body) = app
            .call(Method::POST, "/api/v1/public/tickets", None, Some(bad))
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        assert_eq!(body["error"]["field"], field);
    }
    let (status, filed) = app
        .call(
            Method::POST,
            "/api/v1/public/tickets",
            None,
            Some(complaint.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let today = platform::store::china_today();
    let calendar = Calendar::builtin();
    assert_eq!(filed["due_on"], calendar.deadline(today, 5).day.to_string());
    assert_eq!(
        filed["due_provisional"],
        calendar.deadline(today, 5).provisional
    );
    let number = filed["number"].as_str().expect("number").to_owned();
    let token = filed["token"].as_str().expect("token").to_owned();
    let follow = format!("/api/v1/public/tickets/{number}?token={token}");

    app.user("admin", Role::Administrator).await;
    let admin = app.login("admin").await;
    let (_, open) = app
        .call(
            Method::GET,
            "/api/v1/tickets?status=open",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(open["total"], 1);
    let id = open["items"][0]["id"].as_str().expect("id").to_owned();

    // Extended with a reason, by working days, never past 20 in all.
    let extend = |days: i64, reason: &str| json!({ "days": days, "reason": reason });
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/tickets/{id}/extension"),
            Some(&admin),
            Some(extend(5, "")),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "reason");
    let (status, extended) = app
        .call(
            Method::POST,
            &format!("/api/v1/tickets/{id}/extension"),
            Some(&admin),
            Some(extend(10, "需向数源单位调取原始材料核实")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{extended}");
    assert_eq!(extended["allowed_days"], 15);
    let due = calendar.deadline(today, 15);
    assert_eq!(extended["due_on"], due.day.to_string());
    assert_eq!(extended["due_provisional"], due.provisional);
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/tickets/{id}/extension"),
            Some(&admin),
            Some(extend(6, "仍需核实")),
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
            .is_some_and(|m| m.contains("1 to 5")),
        "{body}"
    );
    // Days past any integer's room (found by the contract fuzzer: an overflow aborted
    // the request) are refused the same way.
    for days in [i64::MAX, i64::MIN] {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/api/v1/tickets/{id}/extension"),
                Some(&admin),
                Some(extend(days, "仍需核实")),
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
    }

    // Not rated before it is answered; answered on time; rated once.
    let rate = |rating: i64| json!({ "rating": rating, "comment": "处理及时" });
    let rating_path = format!("/api/v1/public/tickets/{number}/rating?token={token}");
    let (status, body) = app
        .call(Method::POST, &rating_path, None, Some(rate(5)))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "ticket_state");
    let (status, answered) = app
        .call(
            Method::POST,
            &format!("/api/v1/tickets/{id}/answer"),
            Some(&admin),
            Some(json!({ "answer": "经核实为关联错误，已通知数源单位更正。" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["on_time"], true);
    let (_, seen) = app.call(Method::GET, &follow, None, None).await;
    assert_eq!(seen["status"], "answered");
    assert!(
        seen["answer"]
            .as_str()
            .is_some_and(|a| a.contains("关联错误"))
    );
    let (status, body) = app
        .call(Method::POST, &rating_path, None, Some(rate(9)))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let (status, rated) = app
        .call(Method::POST, &rating_path, None, Some(rate(4)))
        .await;
    assert_eq!(status, StatusCode::OK, "{rated}");
    assert_eq!(rated["rating"], 4);
    let (status, body) = app
        .call(Method::POST, &rating_path, None, Some(rate(1)))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "ticket_state");
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/public/tickets/{number}/rating?token=cpt_wrong"),
            None,
            Some(rate(1)),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.audit_actions(&id).await,
        [
            "ticket.filed",
            "ticket.extended",
            "ticket.answered",
            "ticket.rated"
        ]
    );

    // Staff record a telephone consultation; the public may not handle tickets.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/tickets",
            Some(&admin),
            Some(json!({
                "kind": "consultation", "category": "information_query", "channel": "telephone",
                "name": "李四", "contact": "0571-88886666", "content": "如何查询本单位的信用报告？",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.user("applicant", Role::Applicant).await;
    let applicant = app.login("applicant").await;
    let (status, body) = app
        .call(Method::GET, "/api/v1/tickets", Some(&applicant), None)
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
}
