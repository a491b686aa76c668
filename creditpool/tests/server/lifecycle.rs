//! The acceptance path of the gateway (BRIEF P1–P3, P6, P7, P10) over a real listener:
//! apply → automatic entry criteria → three reviews → decision → batch opening → the
//! institution sees exactly its granted tables and runs jobs → suspension refuses its
//! next request and cancels its running job → reinstatement → progress report and
//! re-evaluation → termination deletes its workspace data with a deletion record →
//! the audit log verifies, and fails after tampering.

use std::time::Duration;

use governance::identity::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use storage::audit::{self, Verdict};

use crate::applications::{complete_form, register};
use crate::helpers::{TestApp, assert_error, assert_error_saying};

/// The tables the test institution asks for.
const GRANTS: [&str; 3] = ["admin_penalties", "dishonesty_list", "enterprises"];

/// A real enterprise of the sample data that meets every entry criterion.
pub async fn eligible(app: &TestApp, n: usize) -> Vec<(String, String)> {
    let today = platform::store::china_today();
    let found = platform::criteria::eligible(app.workspaces.catalog(), today, n)
        .await
        .expect("criteria run");
    assert_eq!(found.len(), n, "the sample data has eligible enterprises");
    found
}

/// An application by `username` for the enterprise `(uscc, name)`, submitted, reviewed
/// by three reviewers and approved. Returns (application id, applicant token, admin
/// token).
pub async fn approved(
    app: &TestApp,
    username: &str,
    enterprise: &(String, String),
    data_supply: &[&str],
) -> (String, String, String) {
    let (path, applicant, admin, reviewers) =
        under_review(app, username, enterprise, data_supply).await;
    // The reviewers see the criteria and the evidence files.
    let (status, seen) = app
        .call(Method::GET, &path, Some(&reviewers[0].1), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["criteria"]["all_required_passed"], true);
    let (status, files) = app
        .call(
            Method::GET,
            &format!("{path}/evidence"),
            Some(&reviewers[0].1),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{files}");
    assert_eq!(files["items"].as_array().map(Vec::len), Some(2));
    for (_, token) in &reviewers {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("{path}/reviews"),
                Some(token),
                Some(json!({ "compliance": 90, "innovation": 75, "prospects": 80, "opinion": "材料齐全，符合全部准入条件。" })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/decision"),
            Some(&admin),
            Some(json!({ "decision": "approved", "reason": "三位专家一致同意" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = path.rsplit('/').next().expect("id").to_owned();
    (id, applicant, admin)
}

/// An application by `username` for the enterprise `(uscc, name)`, submitted and its
/// criteria checked, with three reviewers (`expert{0,1,2}.{username}`) assigned by the
/// administrator `admin.{username}`. Returns (the application's API path, applicant
/// token, admin token, (reviewer id, reviewer token) × 3).
pub async fn under_review(
    app: &TestApp,
    username: &str,
    enterprise: &(String, String),
    data_supply: &[&str],
) -> (String, String, String, Vec<(String, String)>) {
    let applicant = register(app, username).await;
    let mut form = complete_form();
    form["uscc"] = json!(enterprise.0);
    form["institution_name"] = json!(enterprise.1);
    form["data_supply"] = json!(data_supply);
    let path = app.draft_with_evidence(&applicant, form).await;
    let (status, submitted) = app
        .call(
            Method::POST,
            &format!("{path}/submit"),
            Some(&applicant),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    // P2: every criterion checked from the data, with its evidence.
    let criteria = &submitted["criteria"];
    assert_eq!(criteria["all_required_passed"], true, "{criteria}");
    let ids: Vec<&str> = criteria["criteria"]
        .as_array()
        .expect("criteria")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [
            "established_one_year",
            "credit_evaluation_good",
            "officers_not_dishonest",
            "credit_reporting_licence"
        ]
    );
    assert_eq!(
        criteria["criteria"][0]["evidence"]["records"][0]["uscc"],
        json!(enterprise.0)
    );
    assert!(
        criteria["criteria"][2]["evidence"]["records"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{criteria}"
    );

    let admin_name = format!("admin.{username}");
    app.user(&admin_name, Role::Administrator).await;
    let admin = app.login(&admin_name).await;
    let mut reviewers = Vec::new();
    for i in 0..3 {
        let name = format!("expert{i}.{username}");
        reviewers.push((
            app.user(&name, Role::Reviewer).await,
            app.login(&name).await,
        ));
    }
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/reviewers"),
            Some(&admin),
            Some(json!({ "reviewer_ids": reviewers.iter().map(|r| r.0.clone()).collect::<Vec<_>>() })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (path, applicant, admin, reviewers)
}

/// Waits until `check` holds for the job (polling as an administrator).
pub async fn job_until(
    app: &TestApp,
    admin: &str,
    institution: &str,
    job: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/api/v1/institutions/{institution}/jobs/{job}");
    for _ in 0..600 {
        let (status, body) = app.call(Method::GET, &path, Some(admin), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if check(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {job} never reached the expected state");
}

pub async fn submit_job(app: &TestApp, token: &str, institution: &str, sql: &str) -> String {
    let (status, job) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/jobs"),
            Some(token),
            Some(json!({ "sql": sql })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    // It may already have started, or even ended.
    assert!(
        ["queued", "running", "succeeded", "failed"].contains(&job["state"].as_str().unwrap_or("")),
        "{job}"
    );
    job["id"].as_str().expect("id").to_owned()
}

/// Submits `sql`, which must be refused before it is queued (issue 17: it is planned at
/// submission): 422 naming the field `sql`, and no job is added. The refusal's message.
pub async fn refused_sql(app: &TestApp, token: &str, institution: &str, sql: &str) -> Value {
    let jobs = format!("/api/v1/institutions/{institution}/jobs");
    let count = || async {
        let (status, page) = app
            .call(Method::GET, &format!("{jobs}?limit=500"), Some(token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["items"].as_array().map_or(0, Vec::len)
    };
    let before = count().await;
    let (status, refused) = app
        .call(
            Method::POST,
            &jobs,
            Some(token),
            Some(json!({ "sql": sql })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{sql}: {refused}");
    assert_eq!(refused["error"]["code"], "invalid_field", "{refused}");
    assert_eq!(refused["error"]["field"], "sql", "{refused}");
    assert_eq!(count().await, before, "{sql}: a refused job was added");
    refused["error"].clone()
}

/// A query with no output for a long time: a triple self-join under an aggregate.
const LONG_SQL: &str = "SELECT COUNT(*) AS n FROM enterprises a, enterprises b, enterprises c \
                        WHERE a.name <> b.name OR b.name <> c.name";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_review_open_work_suspend_reinstate_report_evaluate_terminate() {
    let app = TestApp::spawn().await;
    let enterprises = eligible(&app, 1).await;
    let (application, token, admin) = approved(&app, "acme.apply", &enterprises[0], &GRANTS).await;

    // P3: batch opening is all or nothing; a bad id names itself and opens nothing.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/institutions",
            Some(&admin),
            Some(json!({ "application_ids": [application, "no-such-application"] })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "application_ids[1]");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM institutions")
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    assert_eq!(count, 0);
    // Only administrators open accounts.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/institutions",
            Some(&token),
            Some(json!({ "application_ids": [application] })),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/institutions",
            Some(&admin),
            Some(json!({ "application_ids": [application] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let institution = body["opened"][0]["institution_id"]
        .as_str()
        .expect("institution id")
        .to_owned();
    assert_eq!(body["opened"][0]["grants"], json!(GRANTS));
    // Opening twice is refused.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/institutions",
            Some(&admin),
            Some(json!({ "application_ids": [application] })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );

    // The applicant's login is now the institution's, with exactly its granted tables.
    let (_, me) = app
        .call(Method::GET, "/api/v1/me", Some(&token), None)
        .await;
    assert_eq!(me["role"], "institution", "{me}");
    let tables_path = format!("/api/v1/institutions/{institution}/tables");
    let (status, tables) = app
        .call(Method::GET, &tables_path, Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tables}");
    let ids: Vec<&str> = tables["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, GRANTS);
    // Column types read as SQL (issue 17: the engine's names, such as Utf8View).
    let types: Vec<&str> = tables["items"][0]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["type"].as_str().expect("type"))
        .collect();
    assert!(types.contains(&"VARCHAR"), "{types:?}");
    assert!(
        types
            .iter()
            .all(|t| !t.contains("Utf8") && !t.contains("Int64")),
        "{types:?}"
    );
    let (status, mine) = app
        .call(
            Method::GET,
            &format!("/api/v1/institutions/{institution}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["status"], "active");
    assert_eq!(mine["quotas"]["concurrent_jobs"], 2);
    // Another id is not found, for an institution; unknown for an administrator too.
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/institutions/someone-else/tables",
            Some(&token),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/institutions/someone-else",
            Some(&admin),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // Jobs see exactly the granted tables; results stay in the workspace.
    let counted = submit_job(
        &app,
        &token,
        &institution,
        "SELECT COUNT(*) AS n FROM enterprises",
    )
    .await;
    let done = job_until(&app, &admin, &institution, &counted, |j| {
        j["ended_at"].is_string()
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["report"]["rows_out"], 1);
    assert_eq!(done["result_schema"][0]["name"], "n");
    assert_eq!(done["result_schema"][0]["type"], "BIGINT");
    assert!(done.get("rows").is_none());
    // A table not granted does not exist for the job: refused at submission, with
    // where it is named (issue 17).
    let hidden = refused_sql(&app, &token, &institution, "SELECT name\nFROM persons").await;
    assert!(
        hidden["message"]
            .as_str()
            .is_some_and(|e| e.contains("persons") && e.contains("line 2, column 6")),
        "{hidden}"
    );
    assert_eq!(hidden["details"], json!({ "line": 2, "column": 6 }));
    let syntax = refused_sql(
        &app,
        &token,
        &institution,
        "SELECT name FROM FROM enterprises",
    )
    .await;
    assert_eq!(
        syntax["details"],
        json!({ "line": 1, "column": 18 }),
        "{syntax}"
    );
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/jobs"),
            Some(&token),
            Some(json!({ "sql": "  " })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );

    // The job list is newest first (by submission time), paged by an opaque cursor;
    // a cursor that is not one of this list is refused (issue 17: the list was ordered
    // by random id, and any cursor was taken).
    // A job that plans and fails while running (a value that does not convert).
    let last = submit_job(
        &app,
        &token,
        &institution,
        "SELECT CAST(name AS INT) AS n FROM enterprises",
    )
    .await;
    let failed = job_until(&app, &admin, &institution, &last, |j| {
        j["ended_at"].is_string()
    })
    .await;
    assert_eq!(failed["state"], "failed", "{failed}");
    let mut listed: Vec<Value> = Vec::new();
    let mut path = format!("/api/v1/institutions/{institution}/jobs?limit=1");
    loop {
        let (status, page) = app.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        listed.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/institutions/{institution}/jobs?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert!(listed.len() >= 2, "{listed:?}");
    let times: Vec<&str> = listed
        .iter()
        .map(|j| j["submitted_at"].as_str().expect("submitted_at"))
        .collect();
    let mut newest_first = times.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first);
    assert_eq!(listed[0]["id"], last, "the last submitted comes first");
    let mut ids: Vec<&str> = listed
        .iter()
        .map(|j| j["id"].as_str().expect("id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), listed.len(), "pages neither repeat nor skip");
    let one_part = storage::store::hex(b"abc");
    for bad in ["abc", "zz", "0g", one_part.as_str()] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/institutions/{institution}/jobs?cursor={bad}"),
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

    // P7: suspension refuses the next request at once and cancels the running job.
    let long = submit_job(&app, &token, &institution, LONG_SQL).await;
    job_until(&app, &admin, &institution, &long, |j| {
        j["state"] == "running"
    })
    .await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/suspend"),
            Some(&admin),
            Some(json!({ "reason": "数据安全风险未按期整改", "rectification_deadline": "2099-01-31" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["jobs_cancelled"], json!([long]));
    let (status, body) = app
        .call(Method::GET, &tables_path, Some(&token), None)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "institution_suspended",
    );
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/jobs"),
            Some(&token),
            Some(json!({ "sql": "SELECT 1" })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "institution_suspended",
    );
    // Issue 15: it may still list and revoke its own API keys (a leaked key can be
    // withdrawn at any time), but not make new ones.
    let (status, keys) = app
        .call(Method::GET, "/api/v1/api-keys", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/api-keys",
            Some(&token),
            Some(json!({ "name": "during suspension" })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "institution_suspended",
    );
    // Issue 15: its applications are closed to it, in the list as in the single read.
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/applications/{application}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, listed) = app
        .call(Method::GET, "/api/v1/applications", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["items"], json!([]), "{listed}");
    // It may still read its own status, with the reason and deadline.
    let (status, mine) = app
        .call(
            Method::GET,
            &format!("/api/v1/institutions/{institution}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["status"], "suspended");
    let last = mine["lifecycle"]
        .as_array()
        .and_then(|l| l.last())
        .cloned()
        .expect("event");
    assert_eq!(last["rectification_deadline"], "2099-01-31");
    let cancelled = job_until(&app, &admin, &institution, &long, |j| {
        j["ended_at"].is_string()
    })
    .await;
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");

    // Suspending twice, or with a deadline in the past, is refused.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/suspend"),
            Some(&admin),
            Some(json!({ "reason": "again and again", "rectification_deadline": "2099-01-31" })),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "wrong_state");

    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/reinstate"),
            Some(&admin),
            Some(json!({ "reason": "已按期完成整改" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .call(Method::GET, &tables_path, Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // P6: a progress report for the first period; once only; periods named.
    let today = platform::store::china_today();
    let reports_path = format!("/api/v1/institutions/{institution}/reports");
    let report = json!({
        "period_start": today,
        "progress": "完成模型开发",
        "security_risks": "无",
        "quality_problems": "部分企业登记地址缺失"
    });
    let (status, body) = app
        .call(
            Method::POST,
            &reports_path,
            Some(&token),
            Some(report.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .call(
            Method::POST,
            &reports_path,
            Some(&token),
            Some(report.clone()),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_reported");
    let mut bad = report.clone();
    bad["period_start"] = json!("2020-01-01");
    let (status, body) = app
        .call(Method::POST, &reports_path, Some(&token), Some(bad))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "period_start");
    let (_, schedule) = app
        .call(Method::GET, &reports_path, Some(&admin), None)
        .await;
    assert_eq!(schedule["schedule"][0]["status"], "submitted", "{schedule}");

    // P7: a re-evaluation built from measured usage.
    let (status, evaluation) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/evaluations"),
            Some(&admin),
            Some(json!({ "period_start": today, "period_end": today, "conclusion": "adequate", "note": "一次暂停，已整改" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{evaluation}");
    let measures = &evaluation["measures"];
    assert_eq!(measures["jobs"], 3, "{measures}");
    assert_eq!(measures["jobs_failed"], 1, "{measures}");
    assert!(
        measures["requests"].as_i64().is_some_and(|n| n >= 5),
        "{measures}"
    );
    assert!(
        measures["security_events"].as_i64().is_some_and(|n| n >= 2),
        "{measures}"
    );
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/evaluations"),
            Some(&token),
            Some(json!({ "period_start": today, "period_end": today, "conclusion": "good", "note": "self-assessed" })),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // P7: termination revokes credentials and deletes the workspace's data, recorded.
    let workspace: String =
        sqlx::query_scalar("SELECT path FROM workspaces WHERE institution_id = ?")
            .bind(&institution)
            .fetch_one(app.store.pool())
            .await
            .expect("workspace");
    let result = std::path::Path::new(&workspace)
        .join("results")
        .join(format!("{counted}.parquet"));
    let bytes = std::fs::read(&result).expect("the first job's result is in the workspace");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/terminate"),
            Some(&admin),
            Some(json!({ "reason": "严重违反数据安全承诺" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let record = &body["institution"]["deletion_record"];
    let deleted: Vec<&Value> = record["files"].as_array().expect("files").iter().collect();
    let entry = deleted
        .iter()
        .find(|f| f["path"] == format!("results/{counted}.parquet"))
        .expect("the result file is in the deletion record");
    assert_eq!(entry["bytes"], bytes.len());
    assert_eq!(entry["sha256"], platform::store::sha256_hex(&bytes));
    assert!(
        !std::path::Path::new(&workspace).exists(),
        "workspace deleted"
    );
    assert_eq!(body["institution"]["grants"], json!([]));
    let (status, body) = app
        .call(Method::GET, "/api/v1/me", Some(&token), None)
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/reinstate"),
            Some(&admin),
            Some(json!({ "reason": "changed our mind" })),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "wrong_state");

    // P10: the trail is whole, and names every step.
    let actions: Vec<String> = app.audit_actions(&institution).await;
    assert_eq!(
        actions,
        [
            "institution.opened",
            "institution.suspended",
            "institution.reinstated",
            "institution.evaluated",
            "institution.terminated"
        ]
    );
    let job_actions: Vec<String> = app.audit_actions(&long).await;
    assert_eq!(job_actions, ["job.submitted", "job.cancelled"]);
    assert!(matches!(
        audit::verify(&app.store).await.expect("verify"),
        Verdict::Intact { .. }
    ));
    // Tampering with the termination entry is caught.
    sqlx::query("DROP TRIGGER audit_log_is_append_only_update")
        .execute(app.store.pool())
        .await
        .expect("drop");
    sqlx::query("UPDATE audit_log SET detail = '{}' WHERE action = 'institution.terminated'")
        .execute(app.store.pool())
        .await
        .expect("tamper");
    assert!(matches!(
        audit::verify(&app.store).await.expect("verify"),
        Verdict::Broken { .. }
    ));
}

#[tokio::test]
async fn administrators_see_overdue_progress_reports() {
    let app = TestApp::spawn().await;
    let (institution, token, admin) = opened(&app, "late.apply", &GRANTS, 0).await;
    // The account opened seven months ago: two quarters have ended, the first due long
    // ago, the second due 15 days after it ended.
    let today = platform::store::china_today();
    let opened_on = today
        .checked_sub_months(chrono::Months::new(7))
        .expect("date");
    sqlx::query("UPDATE workspaces SET opened_at = ? WHERE institution_id = ?")
        .bind(format!("{opened_on}T00:00:00.000Z"))
        .bind(&institution)
        .execute(app.store.pool())
        .await
        .expect("backdate");

    let (status, overdue) = app
        .call(Method::GET, "/api/v1/reports/overdue", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{overdue}");
    let items = overdue["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{overdue}");
    assert_eq!(items[0]["period_start"], json!(opened_on));
    assert!(
        items[0]["days_overdue"]
            .as_i64()
            .is_some_and(|d| d > items[1]["days_overdue"].as_i64().unwrap_or(0))
    );
    // Institutions do not see the platform's overdue list.
    let (status, body) = app
        .call(Method::GET, "/api/v1/reports/overdue", Some(&token), None)
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // Reporting the first period late takes it off the list and marks it late.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/reports"),
            Some(&token),
            Some(json!({ "period_start": opened_on, "progress": "建模", "security_risks": "无", "quality_problems": "无" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, overdue) = app
        .call(Method::GET, "/api/v1/reports/overdue", Some(&admin), None)
        .await;
    assert_eq!(
        overdue["items"].as_array().map(Vec::len),
        Some(1),
        "{overdue}"
    );
    let (_, schedule) = app
        .call(
            Method::GET,
            &format!("/api/v1/institutions/{institution}/reports"),
            Some(&token),
            None,
        )
        .await;
    let statuses: Vec<&str> = schedule["schedule"]
        .as_array()
        .expect("schedule")
        .iter()
        .map(|p| p["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["submitted_late", "overdue", "in_progress"]);
}

#[tokio::test]
async fn evidence_uploads_are_checked_and_change_nothing_when_refused() {
    let app = TestApp::spawn().await;
    let token = register(&app, "acme.apply").await;
    let other = register(&app, "other.apply").await;
    let (_, draft) = app
        .call(
            Method::POST,
            "/api/v1/applications",
            Some(&token),
            Some(complete_form()),
        )
        .await;
    let path = format!(
        "/api/v1/applications/{}/evidence",
        draft["id"].as_str().expect("id")
    );
    let named = format!("{path}?filename=licence.pdf");

    let (status, body) = app
        .upload(&named, &token, "text/plain", b"hello".to_vec())
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_file_type",
    );
    // The declared type must match the content.
    let (status, body) = app
        .upload(
            &named,
            &token,
            "application/pdf",
            b"\x89PNG\r\n\x1a\n".to_vec(),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_file_type",
    );
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(governance::evidence::MAX_EVIDENCE_BYTES + 1, b' ');
    let (status, body) = app.upload(&named, &token, "application/pdf", big).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
    );
    let (status, body) = app
        .upload(
            &format!("{path}?filename=../../etc/passwd"),
            &token,
            "application/pdf",
            b"%PDF-1.4".to_vec(),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "filename");
    // Another applicant's application is not found.
    let (status, body) = app
        .upload(&named, &other, "application/pdf", b"%PDF-1.4".to_vec())
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evidence_files")
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    assert_eq!(stored, 0, "nothing refused was stored");

    // A good file is stored with its hash and comes back byte for byte.
    let content = b"%PDF-1.4\n% licence\n%%EOF\n".to_vec();
    let (status, file) = app
        .upload(&named, &token, "application/pdf", content.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    assert_eq!(file["sha256"], platform::store::sha256_hex(&content));
    let response = app
        .client
        .get(app.url(&format!("{path}/{}", file["id"].as_str().expect("id"))))
        .bearer_auth(&token)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.bytes().await.expect("bytes").to_vec(), content);

    // At most MAX_FILES files per application.
    for i in 1..governance::evidence::MAX_FILES {
        let (status, body) = app
            .upload(
                &format!("{path}?filename=more-{i}.pdf"),
                &token,
                "application/pdf",
                b"%PDF-1.4".to_vec(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .upload(
            &format!("{path}?filename=one-too-many.pdf"),
            &token,
            "application/pdf",
            b"%PDF-1.4".to_vec(),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
    );
}

/// The account of an approved applicant (the `nth` eligible enterprise) opened:
/// (institution id, its token, admin token).
pub async fn opened(
    app: &TestApp,
    username: &str,
    data_supply: &[&str],
    nth: usize,
) -> (String, String, String) {
    let enterprises = eligible(app, nth + 1).await;
    let (application, token, admin) = approved(app, username, &enterprises[nth], data_supply).await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/institutions",
            Some(&admin),
            Some(json!({ "application_ids": [application] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let institution = body["opened"][0]["institution_id"]
        .as_str()
        .expect("id")
        .to_owned();
    (institution, token, admin)
}

#[tokio::test]
async fn administrators_change_quotas_within_their_ranges_and_it_is_audited() {
    // P7: administrators oversee accounts; the release budgets stay within the gate's
    // documented promise (docs/security-boundary.md) whoever sets them.
    let app = TestApp::spawn().await;
    let (institution, token, admin) = opened(&app, "quota.applicant", &["enterprises"], 0).await;
    let path = format!("/api/v1/institutions/{institution}/quotas");
    let record = || async {
        app.call(
            Method::GET,
            &format!("/api/v1/institutions/{institution}"),
            Some(&admin),
            None,
        )
        .await
        .1["quotas"]
            .clone()
    };
    let before = record().await;

    // Every quota out of its range is named at once, and nothing changes.
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({
                "sampled_rows_per_day": 1_000_000,
                "concurrent_jobs": 0,
                "statistical_releases_per_day": -1,
                "reason": "more",
            })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let named: Vec<&str> = body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["field"].as_str().expect("field"))
        .collect();
    assert_eq!(
        named,
        [
            "concurrent_jobs",
            "sampled_rows_per_day",
            "statistical_releases_per_day",
            "reason"
        ],
        "{body}"
    );
    assert_eq!(record().await, before);
    // A quota that does not exist, and nothing to change, are refused too.
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({ "sampled_rows": 10, "reason": "a typo in the name" })),
        )
        .await;
    assert_error_saying(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        "unknown field `sampled_rows`",
    );
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({ "reason": "nothing at all to change" })),
        )
        .await;
    assert_error_saying(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        "change at least one quota",
    );
    // Only administrators set quotas: not the institution itself.
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({ "sampled_rows_per_day": 5_000, "reason": "we would like more" })),
        )
        .await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
        "{status} {body}"
    );
    assert_eq!(record().await, before);

    // Within range: the named quotas change, the others stay, and the usage the
    // institution sees is measured against them at once.
    let (status, quotas) = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({
                "sampled_rows_per_day": 2_000,
                "concurrent_jobs": 1,
                "reason": "a larger sample for the second model, approved by the committee",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{quotas}");
    assert_eq!(quotas["sampled_rows_per_day"], 2_000);
    assert_eq!(quotas["concurrent_jobs"], 1);
    assert_eq!(quotas["storage_bytes"], before["storage_bytes"]);
    assert_eq!(record().await, quotas);
    let (status, usage) = app
        .call(
            Method::GET,
            &format!("/api/v1/institutions/{institution}/usage"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["sampled_rows_per_day"]["limit"], 2_000);
    assert_eq!(usage["concurrent_jobs"]["limit"], 1);
    // Audited with what was there before and after.
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'institution.quotas_set' AND subject = ?",
    )
    .bind(&institution)
    .fetch_one(app.store.pool())
    .await
    .expect("one audit entry");
    let detail: Value = serde_json::from_str(&detail).expect("json");
    assert_eq!(detail["before"], before);
    assert_eq!(detail["after"], quotas);
    assert!(
        detail["reason"]
            .as_str()
            .is_some_and(|r| r.contains("committee"))
    );
}
