//! Own data (BRIEF P5) and quotas over a real listener: an institution uploads its loan
//! outcomes, joins them with granted public-credit features, scores them with a WASM
//! model and evaluates the model; shares the table with named institutions or the pool
//! and revokes it; and every quota stops with an error that names it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, sample_data};
use crate::lifecycle::{job_until, opened, submit_job};

const TABLES: [&str; 3] = ["abnormal_operations", "admin_penalties", "enterprises"];

fn loans_parquet() -> Vec<u8> {
    std::fs::read(
        sample_data()
            .join("own-data")
            .join("demo_loan_outcomes.parquet"),
    )
    .expect("own data")
}

async fn upload(
    app: &TestApp,
    token: &str,
    institution: &str,
    query: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    app.upload(
        &format!("/api/v1/institutions/{institution}/own-tables?{query}"),
        token,
        "application/octet-stream",
        body,
    )
    .await
}

async fn job_state(app: &TestApp, token: &str, admin: &str, institution: &str, sql: &str) -> Value {
    let job = submit_job(app, token, institution, sql).await;
    job_until(app, admin, institution, &job, |j| j["ended_at"].is_string()).await
}

fn files_under(path: &std::path::Path) -> usize {
    std::fs::read_dir(path).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_loans_join_granted_data_and_evaluate_a_model_without_leaving() {
    let app = TestApp::spawn().await;
    let (institution, token, admin) = opened(&app, "acme.apply", &TABLES, 0).await;

    // The decimal amount needs a type the sandbox knows; the error names it.
    let (status, body) = upload(
        &app,
        &token,
        &institution,
        "name=loans&format=parquet",
        loans_parquet(),
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
            .is_some_and(|m| m.contains("amount")),
        "{body}"
    );
    let (status, body) = upload(
        &app,
        &token,
        &institution,
        "name=loans&format=parquet&types=amount:float64,term_months:int64",
        loans_parquet(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rows = body["report"]["rows"].as_u64().expect("rows");
    assert!(rows >= 200, "{body}");
    let defaulted = body["table"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .find(|c| c["name"] == "defaulted")
        .cloned()
        .expect("label column");
    assert_eq!(defaulted["type"], "boolean");
    let (status, body) = upload(
        &app,
        &token,
        &institution,
        "name=loans&format=parquet&types=amount:float64,term_months:int64",
        loans_parquet(),
    )
    .await;
    assert_error(status, &body, StatusCode::CONFLICT, "table_exists");

    // A CSV with inferred types; a broken one leaves nothing behind.
    let csv = "loan_id,uscc,overdue_days,defaulted\nL1,91330100000000001A,0,false\nL2,91330100000000002B,95,true\n";
    let (status, body) = upload(
        &app,
        &token,
        &institution,
        "name=small_book&format=csv",
        csv.into(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let types: Vec<&str> = body["table"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, ["utf8", "utf8", "int64", "boolean"]);
    let workspace: String =
        sqlx::query_scalar("SELECT path FROM workspaces WHERE institution_id = ?")
            .bind(&institution)
            .fetch_one(app.store.pool())
            .await
            .expect("workspace");
    let own_dir = std::path::Path::new(&workspace).join("own");
    let before = files_under(&own_dir);
    for (query, body, code) in [
        (
            "name=broken&format=csv",
            "a,b\n1,2\n3\n4,5,6\n",
            "invalid_upload",
        ),
        (
            "name=broken&format=csv&types=a:int64",
            "a,b\nx,2\n",
            "invalid_upload",
        ),
        (
            "name=broken&format=parquet",
            "not parquet at all",
            "invalid_upload",
        ),
        ("name=enterprises&format=csv", "a\n1\n", "invalid_field"),
        ("name=Bad-Name&format=csv", "a\n1\n", "invalid_field"),
        ("name=broken&format=xlsx", "a\n1\n", "invalid_field"),
        (
            "name=broken&format=csv&types=a:money",
            "a\n1\n",
            "invalid_field",
        ),
    ] {
        let (status, answer) = upload(&app, &token, &institution, query, body.into()).await;
        assert_eq!(answer["error"]["code"], code, "{query}: {answer}");
        assert!(status.is_client_error(), "{query}");
    }
    assert_eq!(
        files_under(&own_dir),
        before,
        "a refused upload left a file"
    );
    assert_eq!(
        files_under(&std::path::Path::new(&workspace).join("uploads")),
        0
    );
    let tables: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM own_tables WHERE name = 'broken'")
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    assert_eq!(tables, 0);

    // The institution's tables: granted, then own.
    let (_, listed) = app
        .call(
            Method::GET,
            &format!("/api/v1/institutions/{institution}/tables"),
            Some(&token),
            None,
        )
        .await;
    let own: Vec<&str> = listed["own_and_shared"]
        .as_array()
        .expect("own")
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    assert_eq!(own, ["loans", "small_book"]);

    // Join own outcomes with granted features, score with an uploaded model, evaluate.
    let model = wat::parse_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/models/linear_score.wat"
    ))
    .expect("model");
    let (status, body) = app
        .upload(
            &format!("/api/v1/institutions/{institution}/models"),
            &token,
            "application/wasm",
            model,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Issue 14: an evaluation counts distinct subjects, so the borrower's code is
    // selected unchanged.
    let sql = "SELECT l.loan_id, l.uscc, CASE WHEN l.defaulted THEN 1 ELSE 0 END AS bad, \
        -linear_score(CAST(COALESCE(p.n, 0) AS DOUBLE), CAST(COALESCE(a.n, 0) AS DOUBLE), \
                      CAST(2026 - date_part('year', e.establishment_date) AS DOUBLE)) AS risk \
        FROM loans l JOIN enterprises e ON e.uscc = l.uscc \
        LEFT JOIN (SELECT subject_id, COUNT(*) AS n FROM admin_penalties GROUP BY subject_id) p ON p.subject_id = e.subject_id \
        LEFT JOIN (SELECT subject_id, COUNT(*) AS n FROM abnormal_operations GROUP BY subject_id) a ON a.subject_id = e.subject_id";
    let job = job_state(&app, &token, &admin, &institution, sql).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let id = job["id"].as_str().expect("id");
    let (status, metrics) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/jobs/{id}/evaluation"),
            Some(&token),
            Some(json!({ "score": "risk", "label": "bad" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{metrics}");
    // The public-credit signal ranks the lender's defaulters better than chance.
    assert!(
        metrics["auc"].as_f64().is_some_and(|a| a > 0.55),
        "{metrics}"
    );
    assert!(metrics.get("rows").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_tables_reach_exactly_whom_the_owner_names_until_revoked() {
    let app = TestApp::spawn().await;
    let (owner, owner_token, admin) = opened(&app, "owner.apply", &TABLES, 0).await;
    let (named, named_token, _) = opened(&app, "named.apply", &TABLES, 1).await;
    let (_, other_token, _) = opened(&app, "other.apply", &TABLES, 2).await;
    let other: String =
        sqlx::query_scalar("SELECT institution_id FROM users WHERE username = 'other.apply'")
            .fetch_one(app.store.pool())
            .await
            .expect("other");
    let (status, body) = upload(
        &app,
        &owner_token,
        &owner,
        "name=loans&format=parquet&types=amount:float64,term_months:int64",
        loans_parquet(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let table = body["table"]["id"].as_str().expect("id").to_owned();
    let sharing = format!("/api/v1/institutions/{owner}/own-tables/{table}/sharing");
    let count = "SELECT COUNT(*) AS n FROM shared_loans";

    // A table an institution may not read does not exist for its jobs: the job is
    // refused when submitted, naming it.
    let can_read = |token: String, institution: String| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (status, job) = app
                .call(
                    Method::POST,
                    &format!("/api/v1/institutions/{institution}/jobs"),
                    Some(&token),
                    Some(json!({ "sql": count })),
                )
                .await;
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                assert!(
                    job["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("shared_loans")),
                    "{job}"
                );
                return false;
            }
            assert_eq!(status, StatusCode::ACCEPTED, "{job}");
            let id = job["id"].as_str().expect("id");
            job_until(app, &admin, &institution, id, |j| j["ended_at"].is_string()).await["state"]
                == "succeeded"
        }
    };
    // Private: nobody else.
    assert!(!can_read(named_token.clone(), named.clone()).await);
    // Named institutions: only them.
    let (status, body) = app
        .call(
            Method::PUT,
            &sharing,
            Some(&owner_token),
            Some(json!({ "mode": "institutions", "institutions": [named] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(can_read(named_token.clone(), named.clone()).await);
    assert!(!can_read(other_token.clone(), other.clone()).await);
    // Another institution cannot change the owner's sharing.
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/institutions/{owner}/own-tables/{table}/sharing"),
            Some(&named_token),
            Some(json!({ "mode": "pool" })),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    // The pool: everyone; until the owner is suspended.
    let (status, _) = app
        .call(
            Method::PUT,
            &sharing,
            Some(&owner_token),
            Some(json!({ "mode": "pool" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(can_read(other_token.clone(), other.clone()).await);
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{owner}/suspend"),
            Some(&admin),
            Some(json!({ "reason": "数据安全检查", "rectification_deadline": "2099-01-01" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!can_read(other_token.clone(), other.clone()).await);
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{owner}/reinstate"),
            Some(&admin),
            Some(json!({ "reason": "检查通过，恢复" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A result computed while the table was shared can no longer be released once the
    // share is revoked.
    let copied = job_state(
        &app,
        &named_token,
        &admin,
        &named,
        "SELECT l.* FROM shared_loans l",
    )
    .await;
    assert_eq!(copied["state"], "succeeded", "{copied}");
    let copied = copied["id"].as_str().expect("id").to_owned();
    // Revoked at any time: private again, at once.
    let (status, _) = app
        .call(
            Method::PUT,
            &sharing,
            Some(&owner_token),
            Some(json!({ "mode": "private" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!can_read(named_token.clone(), named.clone()).await);
    assert!(!can_read(other_token.clone(), other.clone()).await);
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{named}/jobs/{copied}/sample"),
            Some(&named_token),
            None,
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "release_refused",
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("shared_loans")),
        "{body}"
    );
    // Bad sharing requests name the field.
    let (status, body) = app
        .call(
            Method::PUT,
            &sharing,
            Some(&owner_token),
            Some(json!({ "mode": "institutions", "institutions": ["nobody"] })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "institutions[0]");
    let actions: Vec<String> = app.audit_actions(&table).await;
    assert_eq!(
        actions,
        [
            "own_table.imported",
            "own_table.sharing_changed",
            "own_table.sharing_changed",
            "own_table.sharing_changed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_quota_stops_with_an_error_that_names_it() {
    let app = TestApp::spawn().await;
    let (institution, token, admin) = opened(&app, "acme.apply", &TABLES, 0).await;
    let jobs = format!("/api/v1/institutions/{institution}/jobs");
    let set = |sql: &'static str| {
        let app = &app;
        let institution = institution.clone();
        async move {
            sqlx::query(sql)
                .bind(&institution)
                .execute(app.store.pool())
                .await
                .expect("quota");
        }
    };
    let set_storage = |bytes: i64| {
        let app = &app;
        let institution = institution.clone();
        async move {
            sqlx::query("UPDATE quotas SET storage_bytes = ? WHERE institution_id = ?")
                .bind(bytes)
                .bind(&institution)
                .execute(app.store.pool())
                .await
                .expect("quota");
        }
    };
    // A job refused for a quota; the error's body.
    let refused_job = || {
        let (app, jobs, token) = (&app, &jobs, &token);
        async move {
            let (status, body) = app
                .call(
                    Method::POST,
                    jobs,
                    Some(token),
                    Some(json!({ "sql": "SELECT 1" })),
                )
                .await;
            assert_error(
                status,
                &body,
                StatusCode::TOO_MANY_REQUESTS,
                "quota_exceeded",
            );
            body
        }
    };
    // Cancels a job and waits for its end.
    let cancel = |job: String| {
        let (app, jobs, token, admin, institution) = (&app, &jobs, &token, &admin, &institution);
        async move {
            let (status, _) = app
                .call(
                    Method::POST,
                    &format!("{jobs}/{job}/cancel"),
                    Some(token),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::ACCEPTED);
            job_until(app, admin, institution, &job, |j| j["ended_at"].is_string()).await;
        }
    };

    // Concurrent jobs: two run, the third is refused.
    let long = "SELECT COUNT(*) FROM enterprises a, enterprises b, enterprises c WHERE a.name <> b.name OR b.name <> c.name";
    let first = submit_job(&app, &token, &institution, long).await;
    let second = submit_job(&app, &token, &institution, long).await;
    let body = refused_job().await;
    assert_eq!(body["error"]["details"]["quota"], "concurrent_jobs");
    for job in [&first, &second] {
        cancel(job.clone()).await;
    }

    // Storage, for a job: its result may grow only into its share of the storage left
    // at submission (half of it: one of two free slots).
    let usage_path = format!("/api/v1/institutions/{institution}/usage");
    let usage = || app.call(Method::GET, &usage_path, Some(&token), None);
    let (_, before) = usage().await;
    let stored = before["storage_bytes"]["used"].as_i64().expect("used");
    set_storage(stored + 4096).await;
    let big = submit_job(
        &app,
        &token,
        &institution,
        "SELECT subject_id, name, region_code FROM enterprises",
    )
    .await;
    let ended = job_until(&app, &admin, &institution, &big, |j| {
        j["ended_at"].is_string()
    })
    .await;
    assert_eq!(ended["state"], "failed", "{ended}");
    let error = ended["error"].as_str().expect("error");
    assert!(
        error.contains("result grew past its limit of 2048 bytes"),
        "{error}"
    );
    let results = std::fs::read_dir(
        app.dir
            .path()
            .join("workspaces")
            .join(&institution)
            .join("results"),
    )
    .expect("the workspace's results folder")
    .count();
    assert_eq!(results, 0, "no result file is left");
    // A running job holds room for its result: half the storage left, one of two free
    // slots. The usage report shows it; with the quota lowered to what is used and
    // reserved, another job must wait, though a slot is free.
    let running = submit_job(&app, &token, &institution, long).await;
    let (_, during) = usage().await;
    let reserved = during["storage_bytes"]["reserved"]
        .as_i64()
        .expect("reserved");
    let used = during["storage_bytes"]["used"].as_i64().expect("used");
    assert!((2_040..=2_048).contains(&reserved), "{during}");
    assert_eq!(
        during["storage_bytes"]["left"],
        stored + 4096 - used - reserved,
        "{during}"
    );
    set_storage(stored + 2048).await;
    let body = refused_job().await;
    assert_eq!(body["error"]["details"]["quota"], "storage_bytes");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("reserved for the results"), "{message}");
    cancel(running).await;
    // Once it has ended, its reservation is free again.
    let (_, after) = usage().await;
    assert_eq!(after["storage_bytes"]["reserved"], 0, "{after}");
    set_storage(stored + 4096).await;
    let small = submit_job(&app, &token, &institution, "SELECT 1 AS one").await;
    let ended = job_until(&app, &admin, &institution, &small, |j| {
        j["ended_at"].is_string()
    })
    .await;
    assert_eq!(ended["state"], "succeeded", "{ended}");
    set("UPDATE quotas SET storage_bytes = 1073741824 WHERE institution_id = ?").await;

    // Job time per day, counting cancelled jobs too.
    set("UPDATE quotas SET job_seconds_per_day = 1 WHERE institution_id = ?").await;
    sqlx::query("UPDATE jobs SET wall_ms = 1500 WHERE id = ?")
        .bind(&first)
        .execute(app.store.pool())
        .await
        .expect("time");
    let body = refused_job().await;
    assert_eq!(body["error"]["details"]["quota"], "job_seconds_per_day");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("resets at")),
        "{body}"
    );

    // Storage: an upload that does not fit is refused and leaves nothing.
    set("UPDATE quotas SET storage_bytes = 64 WHERE institution_id = ?").await;
    let (status, body) = upload(
        &app,
        &token,
        &institution,
        "name=loans&format=parquet",
        loans_parquet(),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
    );
    assert_eq!(body["error"]["details"]["quota"], "storage_bytes");

    // The usage endpoint says what is left.
    let (status, usage) = usage().await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["job_seconds_per_day"]["left"], 0);
    assert_eq!(usage["concurrent_jobs"]["used"], 0);

    // Requests per minute.
    set("UPDATE quotas SET requests_per_minute = 3 WHERE institution_id = ?").await;
    let mut refused = None;
    for i in 0..6 {
        let (status, body) = app
            .call(Method::GET, "/api/v1/me", Some(&token), None)
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((i, body));
            break;
        }
    }
    let (i, body) = refused.expect("the rate limit applies");
    assert!(i <= 3, "refused only after the limit: {i}");
    assert_eq!(body["error"]["details"]["quota"], "requests_per_minute");
    assert!(
        body["error"]["details"]["retry_after_seconds"]
            .as_u64()
            .is_some_and(|s| s >= 1)
    );
}

#[tokio::test]
async fn oversized_sql_models_and_batches_are_refused_by_name() {
    let app = TestApp::spawn().await;
    let (institution, token, admin) = opened(&app, "acme.apply", &TABLES, 0).await;
    // SQL longer than the limit.
    let long = format!(
        "SELECT 1 -- {}",
        "x".repeat(workbench::workspace::MAX_SQL_BYTES)
    );
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/institutions/{institution}/jobs"),
            Some(&token),
            Some(json!({ "sql": long })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "sql");
    // Models: a binary module (application/wasm) or its text format (text/plain), at
    // most the sandbox's module size; text that does not assemble is refused by line.
    let models = format!("/api/v1/institutions/{institution}/models");
    let (status, body) = app
        .upload(&models, &token, "application/json", b"\0asm".to_vec())
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let (status, body) = app
        .upload(
            &models,
            &token,
            "text/plain",
            b"(module\n  (func $f (nope))".to_vec(),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "model_refused",
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not valid WebAssembly text") && m.contains(":2:")),
        "{body}"
    );
    let big = vec![0u8; sandbox::SandboxConfig::default().max_module_bytes + 1];
    let (status, body) = app.upload(&models, &token, "application/wasm", big).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    // A batch opening of more applications than one batch may hold.
    let ids: Vec<String> = (0..=governance::accounts::MAX_BATCH)
        .map(|i| format!("a{i}"))
        .collect();
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/institutions",
            Some(&admin),
            Some(json!({ "application_ids": ids })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "application_ids");
    let models_stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM models")
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    assert_eq!(models_stored, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_fails_orphaned_jobs_and_frees_their_storage() {
    let app = TestApp::spawn().await;
    let (institution, token, admin) = opened(&app, "acme.apply", &TABLES, 0).await;
    let done = submit_job(&app, &token, &institution, "SELECT 1 AS one").await;
    job_until(&app, &admin, &institution, &done, |j| {
        j["ended_at"].is_string()
    })
    .await;
    // A job the previous process was running, part of its result written.
    sqlx::query(
        "INSERT INTO jobs (id, institution_id, submitted_by, sql, state, submitted_at, inputs, result_cap) \
         SELECT 'orphan', institution_id, submitted_by, sql, 'running', submitted_at, inputs, 4096 \
         FROM jobs WHERE id = ?",
    )
    .bind(&done)
    .execute(app.store.pool())
    .await
    .expect("orphan");
    let results = app
        .dir
        .path()
        .join("workspaces")
        .join(&institution)
        .join("results");
    // Its worker's staging folder, with what it had written.
    let partial =
        sandbox::partial_path(&workbench::worker::staged(&results.join("orphan.parquet")));
    std::fs::create_dir_all(partial.parent().expect("staging")).expect("staging");
    std::fs::write(&partial, [0u8; 1000]).expect("partial");
    let usage_path = format!("/api/v1/institutions/{institution}/usage");
    let (_, before) = app.call(Method::GET, &usage_path, Some(&token), None).await;
    assert_eq!(before["storage_bytes"]["reserved"], 3096, "{before}");

    let catalog = std::sync::Arc::new(catalog::Catalog::open(sample_data()).expect("catalog"));
    workbench::workspace::Workspaces::start(
        app.store.clone(),
        catalog,
        std::sync::Arc::new([0u8; 32]),
        workbench::workspace::JobSettings {
            slots: 1,
            limits: sandbox::JobLimits::default(),
            worker: crate::helpers::worker(),
            compiled_models: app.dir.path().join("compiled"),
            allow_unconfined: false,
        },
    )
    .await
    .expect("restarts");
    let (state, error): (String, String) =
        sqlx::query_as("SELECT state, error FROM jobs WHERE id = 'orphan'")
            .fetch_one(app.store.pool())
            .await
            .expect("job");
    assert_eq!(state, "failed");
    assert!(error.contains("the server restarted"), "{error}");
    assert!(
        !partial.parent().expect("staging").exists(),
        "the orphan's staging folder and partial result are removed"
    );
    assert!(
        results.join(format!("{done}.parquet")).exists(),
        "finished results stay"
    );
    // A finished job's staging folder went with its worker.
    let left: Vec<String> = std::fs::read_dir(&results)
        .expect("results")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let (_, after) = app.call(Method::GET, &usage_path, Some(&token), None).await;
    assert_eq!(after["storage_bytes"]["reserved"], 0, "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_parquet_upload_is_refused_and_leaves_nothing() {
    // Issue 17: a body of `PAR1garbagePAR1` panicked in the Parquet footer decoder,
    // closed the connection without an answer, and left a file that grew the storage
    // used on every attempt.
    let app = TestApp::spawn().await;
    let (institution, token, _) = opened(&app, "acme.apply", &TABLES, 0).await;
    let usage = format!("/api/v1/institutions/{institution}/usage");
    let (_, before) = app.call(Method::GET, &usage, Some(&token), None).await;
    let own = app
        .dir
        .path()
        .join("workspaces")
        .join(&institution)
        .join("own");
    let files = || std::fs::read_dir(&own).map(|d| d.count()).unwrap_or(0);
    let footer_of = |len: u32| {
        let mut body = b"PAR1".to_vec();
        body.extend_from_slice(&[0xff; 16]);
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(b"PAR1");
        body
    };
    for body in [
        b"PAR1garbagePAR1".to_vec(),
        b"PAR1".to_vec(),
        footer_of(16),
        footer_of(u32::MAX),
        vec![0u8; 100],
    ] {
        for _ in 0..2 {
            let (status, answer) = upload(
                &app,
                &token,
                &institution,
                "name=broken&format=parquet",
                body.clone(),
            )
            .await;
            assert_error(
                status,
                &answer,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_upload",
            );
            assert!(
                answer["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.to_lowercase().contains("parquet")),
                "{answer}"
            );
        }
    }
    assert_eq!(files(), 0, "no file is left in the workspace");
    let (_, after) = app.call(Method::GET, &usage, Some(&token), None).await;
    assert_eq!(
        after["storage_bytes"]["used"], before["storage_bytes"]["used"],
        "{after}"
    );
    let (status, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_csv_saved_in_gbk_is_read_as_gbk_and_other_bytes_are_named() {
    // Issue 17: a CSV saved by Excel on Chinese Windows (GBK) was refused with the
    // engine's UTF-8 error. It is read as GBK (GB18030), said so in the report, and its
    // Chinese text arrives intact; bytes that are neither are refused in words.
    let app = TestApp::spawn().await;
    let (institution, token, admin) = opened(&app, "acme.apply", &TABLES, 0).await;
    let text = "name,city,amount\n杭州示例贸易有限公司,杭州,12.5\n宁波某某科技有限公司,宁波,7\n";
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gbk).is_err(), "not UTF-8 as well");
    let (status, body) = upload(
        &app,
        &token,
        &institution,
        "name=gbk_book&format=csv",
        gbk.into_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["report"]["rows"], 2, "{body}");
    assert!(
        body["report"]["warnings"].as_array().is_some_and(|w| w
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("GBK")))),
        "{body}"
    );
    let done = job_state(
        &app,
        &token,
        &admin,
        &institution,
        "SELECT name FROM gbk_book WHERE city = '杭州' AND name LIKE '%贸易%'",
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["report"]["rows_out"], 1, "{done}");

    let (status, body) = upload(
        &app,
        &token,
        &institution,
        "name=binary_book&format=csv",
        b"name\n\xff\xfe\xff\x80\n".to_vec(),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_upload",
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("neither UTF-8 nor GBK")),
        "{body}"
    );
}
