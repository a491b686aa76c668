//! The audit log: appended with every change, refused edits through SQL, and
//! `creditpool audit verify` catching any edit, deletion, reordering or truncation made
//! directly in the database file.

use governance::identity::Role;
use platform::store::Store;
use storage::audit::{self, Verdict};

use crate::helpers::TestApp;

/// A gateway whose log holds five entries: four users created and one login.
async fn app_with_history() -> TestApp {
    let app = TestApp::spawn().await;
    for name in ["admin.a", "reviewer.b", "reviewer.c", "reviewer.d"] {
        app.user(name, Role::Reviewer).await;
    }
    app.login("admin.a").await;
    app
}

async fn verdict(store: &Store) -> Verdict {
    audit::verify(store).await.expect("verify runs")
}

async fn exec(store: &Store, sql: &'static str) {
    sqlx::query(sql)
        .execute(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// What an attacker with the database file does first.
async fn drop_guards(store: &Store) {
    exec(store, "DROP TRIGGER audit_log_is_append_only_update").await;
    exec(store, "DROP TRIGGER audit_log_is_append_only_delete").await;
}

fn broken_at(v: Verdict, at: i64, words: &str) {
    match v {
        Verdict::Broken { seq, reason } => {
            assert_eq!(seq, at, "{reason}");
            assert!(reason.contains(words), "{reason}");
        }
        other => panic!("expected a break at {at}, got {other:?}"),
    }
}

#[tokio::test]
async fn every_change_is_logged_with_actor_and_request_id_and_the_chain_verifies() {
    let app = app_with_history().await;
    match verdict(&app.store).await {
        Verdict::Intact { entries, head } => {
            assert_eq!(entries, 5);
            assert_eq!(head.len(), 64);
        }
        other => panic!("{other:?}"),
    }
    let (actor, action, request_id): (String, String, String) = sqlx::query_as(
        "SELECT actor, action, request_id FROM audit_log WHERE action = 'session.created'",
    )
    .fetch_one(app.store.pool())
    .await
    .expect("the login is logged");
    assert_eq!(action, "session.created");
    assert_eq!(actor.len(), 32, "the actor is the user id");
    assert_eq!(request_id.len(), 32, "the request id of the login call");
}

#[tokio::test]
async fn the_log_refuses_updates_and_deletes_through_sql() {
    let app = app_with_history().await;
    for sql in [
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 5",
    ] {
        let e = sqlx::query(sql)
            .execute(app.store.pool())
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("append-only"), "{e}");
    }
    assert!(matches!(
        verdict(&app.store).await,
        Verdict::Intact { entries: 5, .. }
    ));
}

#[tokio::test]
async fn an_edited_entry_is_detected() {
    let app = app_with_history().await;
    drop_guards(&app.store).await;
    exec(
        &app.store,
        "UPDATE audit_log SET detail = '{\"role\":\"administrator\",\"username\":\"reviewer.b\"}' WHERE seq = 2",
    )
    .await;
    broken_at(verdict(&app.store).await, 2, "edited");
}

#[tokio::test]
async fn a_deleted_entry_is_detected() {
    let app = app_with_history().await;
    drop_guards(&app.store).await;
    exec(&app.store, "DELETE FROM audit_log WHERE seq = 3").await;
    broken_at(verdict(&app.store).await, 4, "deleted");
}

#[tokio::test]
async fn reordered_entries_are_detected() {
    let app = app_with_history().await;
    drop_guards(&app.store).await;
    // Swap entries 2 and 3 (their numbers stay in place, their contents move).
    exec(&app.store, "UPDATE audit_log SET seq = -2 WHERE seq = 2").await;
    exec(&app.store, "UPDATE audit_log SET seq = 2 WHERE seq = 3").await;
    exec(&app.store, "UPDATE audit_log SET seq = 3 WHERE seq = -2").await;
    broken_at(verdict(&app.store).await, 2, "reordered");
}

#[tokio::test]
async fn entries_removed_from_the_end_are_detected() {
    let app = app_with_history().await;
    drop_guards(&app.store).await;
    exec(&app.store, "DELETE FROM audit_log WHERE seq = 5").await;
    broken_at(verdict(&app.store).await, 0, "removed from the end");
}

#[tokio::test]
async fn the_command_passes_an_intact_log_and_fails_a_tampered_one() {
    let app = app_with_history().await;
    let database = app.dir.path().join("creditpool.db");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_creditpool"))
            .args(["audit", "verify", "--database"])
            .arg(&database)
            .env_remove("CREDITPOOL_CONFIG")
            .output()
            .expect("runs")
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit log intact: 5 entries"));

    drop_guards(&app.store).await;
    exec(
        &app.store,
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 4",
    )
    .await;
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("BROKEN at entry 4"), "{stderr}");
}

#[tokio::test]
async fn administrators_read_the_log_filtered_and_paged_and_see_that_it_verifies() {
    // Issue 19: the audit log read through the API, by administrators only.
    use reqwest::{Method, StatusCode};

    let app = app_with_history().await;
    app.user("audit.admin", Role::Administrator).await;
    let admin = app.login("audit.admin").await;
    let (status, page) = app
        .call(Method::GET, "/api/v1/audit?limit=3", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    // Newest first: the administrator's own login is the last entry.
    assert_eq!(items[0]["action"], "session.created");
    assert_eq!(items[0]["request_id"].as_str().map(str::len), Some(32));
    let seqs: Vec<i64> = items.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    // The next page carries on where this one stopped, and the last page says so.
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, next) = app
        .call(
            Method::GET,
            &format!("/api/v1/audit?limit=50&cursor={cursor}"),
            Some(&admin),
            None,
        )
        .await;
    let rest: Vec<i64> = next["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["seq"].as_i64())
        .collect();
    assert_eq!(rest.first(), Some(&(seqs[2] - 1)));
    assert_eq!(rest.last(), Some(&1));
    assert!(next["next_cursor"].is_null());

    // Filtered by action prefix, by actor, by time.
    let (_, created) = app
        .call(
            Method::GET,
            "/api/v1/audit?action=user.",
            Some(&admin),
            None,
        )
        .await;
    let created = created["items"].as_array().expect("items");
    assert_eq!(created.len(), 5, "five users were created");
    assert!(
        created
            .iter()
            .all(|e| e["action"].as_str().is_some_and(|a| a.starts_with("user.")))
    );
    let actor = created[0]["actor"].as_str().expect("actor").to_owned();
    let (_, by_actor) = app
        .call(
            Method::GET,
            &format!("/api/v1/audit?actor={actor}"),
            Some(&admin),
            None,
        )
        .await;
    assert!(
        by_actor["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|e| e["actor"] == actor)
    );
    let (_, future) = app
        .call(
            Method::GET,
            "/api/v1/audit?since=2999-01-01",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(future["items"], serde_json::json!([]));

    // Malformed filters are refused by name; nobody but administrators reads the log.
    for (query, field) in [
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("limit=0", "limit"),
        ("cursor=zz", "cursor"),
        ("action=", "action"),
        (&*format!("about={}", "x".repeat(201)), "about"),
    ] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/audit?{query}"),
                Some(&admin),
                None,
            )
            .await;
        crate::helpers::assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let reviewer = app.login("reviewer.b").await;
    for path in ["/api/v1/audit", "/api/v1/audit/verification"] {
        let (status, body) = app.call(Method::GET, path, Some(&reviewer), None).await;
        crate::helpers::assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }

    // The chain verifies, as `creditpool audit verify` says; then an edit is caught.
    let (status, verified) = app
        .call(
            Method::GET,
            "/api/v1/audit/verification",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verified["intact"], true, "{verified}");
    assert_eq!(verified["head"].as_str().map(str::len), Some(64));
    drop_guards(&app.store).await;
    exec(
        &app.store,
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 2",
    )
    .await;
    let (_, broken) = app
        .call(
            Method::GET,
            "/api/v1/audit/verification",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(broken["intact"], false, "{broken}");
    assert_eq!(broken["broken_at"], 2, "{broken}");
}
