//! The acceptance path of the workspace (BRIEF P5, P8, P9) over a real listener, as an
//! institution works: upload its own loan outcomes → join them with granted public-credit
//! features in SQL → score with an uploaded WASM model → take a sample (identical on
//! repeat, never above the cap) → evaluation metrics → register the product → reviewers
//! recommend it → it is on the public list.

use governance::identity::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, sample_data};
use crate::lifecycle::{job_until, opened, submit_job};

pub(crate) const TABLES: [&str; 3] = ["abnormal_operations", "admin_penalties", "enterprises"];

pub(crate) const SCORED: &str = "SELECT l.loan_id, l.uscc, l.amount, CASE WHEN l.defaulted THEN 1 ELSE 0 END AS bad, \
    -linear_score(CAST(COALESCE(p.n, 0) AS DOUBLE), CAST(COALESCE(a.n, 0) AS DOUBLE), \
                  CAST(2026 - date_part('year', e.establishment_date) AS DOUBLE)) AS risk \
    FROM loans l JOIN enterprises e ON e.uscc = l.uscc \
    LEFT JOIN (SELECT subject_id, COUNT(*) AS n FROM admin_penalties GROUP BY subject_id) p ON p.subject_id = e.subject_id \
    LEFT JOIN (SELECT subject_id, COUNT(*) AS n FROM abnormal_operations GROUP BY subject_id) a ON a.subject_id = e.subject_id";

pub(crate) fn registration(job: &str) -> Value {
    json!({
        "product_name": "小微企业贷前风险分",
        "contact_name": "王敏",
        "contact_phone": "13812345678",
        "job_id": job,
        "developed_as_planned": true,
        "description": {
            "data_used": "本机构贷款表现数据，公共信用信息中的行政处罚、经营异常名录和登记信息",
            "model": "线性评分卡（WebAssembly 模型 linear_score）",
            "product": "借款企业风险分，分值越高风险越大",
            "scenarios": "普惠小微贷款的贷前审批"
        }
    })
}

/// The demo's loan outcomes uploaded as the institution's own table `loans` (amounts as
/// floats, the loan number tagged masked) and the `linear_score` model, through the
/// API at `base` (`/api/v1/institutions/{id}`): the table's answer and the model's.
pub(crate) async fn loans_and_model(app: &TestApp, token: &str, base: &str) -> (Value, Value) {
    let loans = std::fs::read(
        sample_data()
            .join("own-data")
            .join("demo_loan_outcomes.parquet"),
    )
    .expect("loans");
    let (status, table) = app
        .upload(
            &format!("{base}/own-tables?name=loans&format=parquet&types=amount:float64,term_months:int64&sensitivity=loan_id:masked"),
            token,
            "application/octet-stream",
            loans,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{table}");
    let model = wat::parse_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/models/linear_score.wat"
    ))
    .expect("model");
    let (status, model) = app
        .upload(&format!("{base}/models"), token, "application/wasm", model)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{model}");
    (table, model)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_own_data_to_a_recommended_product_on_the_public_list() {
    let app = TestApp::spawn().await;
    let (institution, token, admin) = opened(&app, "acme.apply", &TABLES, 0).await;
    let base = format!("/api/v1/institutions/{institution}");

    // Own data and a model.
    loans_and_model(&app, &token, &base).await;

    // Join, score; the result stays inside.
    let job = submit_job(&app, &token, &institution, SCORED).await;
    let done = job_until(&app, &admin, &institution, &job, |j| {
        j["ended_at"].is_string()
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let rows = done["report"]["rows_out"].as_u64().expect("rows");

    // Registering before any sample was released names the job.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{base}/products"),
            Some(&token),
            Some(registration(&job)),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["error"]["field"], "job_id");

    // The sample: the same on repeat, never above the cap, the loan number (tagged
    // masked by its owner) a pseudonym.
    let sample_path = format!("{base}/jobs/{job}/sample");
    let (status, sample) = app
        .call(Method::POST, &sample_path, Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sample}");
    let n = sample["rows_released"].as_u64().expect("n");
    assert!((1..=100).contains(&n) && n <= rows / 100, "{n} of {rows}");
    let (_, again) = app
        .call(Method::POST, &sample_path, Some(&token), None)
        .await;
    assert_eq!(again["rows"], sample["rows"]);
    let treatment: Vec<(&str, &str)> = sample["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("n"),
                c["treatment"].as_str().expect("t"),
            )
        })
        .collect();
    assert!(
        treatment.contains(&("loan_id", "pseudonymised")),
        "{treatment:?}"
    );
    let loan_index = treatment
        .iter()
        .position(|(n, _)| *n == "loan_id")
        .expect("loan_id");
    for row in sample["rows"].as_array().expect("rows") {
        assert!(
            row[loan_index]
                .as_str()
                .is_some_and(|u| u.starts_with("ps_")),
            "{row}"
        );
    }

    // The owner may retag a column; the gate follows at once.
    let (_, tables) = app
        .call(
            Method::GET,
            &format!("{base}/own-tables"),
            Some(&token),
            None,
        )
        .await;
    let loans_id = tables["items"][0]["id"].as_str().expect("id").to_owned();
    let tags = format!("{base}/own-tables/{loans_id}/sensitivity");
    let (status, body) = app
        .call(
            Method::PUT,
            &tags,
            Some(&token),
            Some(json!({ "columns": { "uscc": "secret" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call(Method::POST, &sample_path, Some(&token), None)
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
            .is_some_and(|m| m.contains("loans.uscc")),
        "{body}"
    );
    let (status, body) = app
        .call(
            Method::PUT,
            &tags,
            Some(&token),
            Some(json!({ "columns": { "no_such": "secret" } })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let (status, _) = app
        .call(
            Method::PUT,
            &tags,
            Some(&token),
            Some(json!({ "columns": { "uscc": "public" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Evaluation without seeing a row.
    let (status, metrics) = app
        .call(
            Method::POST,
            &format!("{base}/jobs/{job}/evaluation"),
            Some(&token),
            Some(json!({ "score": "risk", "label": "bad" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{metrics}");

    // Registration names every field at fault at once, missing ones included (issue
    // 17: the first missing field stopped the reading of the form), then succeeds.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{base}/products"),
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let mut missing: Vec<&str> = body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["field"].as_str().expect("field"))
        .collect();
    missing.sort_unstable();
    assert_eq!(
        missing,
        [
            "contact_name",
            "contact_phone",
            "description.data_used",
            "description.model",
            "description.product",
            "description.scenarios",
            "developed_as_planned",
            "job_id",
            "product_name",
        ]
    );
    // Registration names every field at fault, then succeeds.
    let mut bad = registration(&job);
    bad["product_name"] = json!("");
    bad["contact_phone"] = json!("12345");
    bad["developed_as_planned"] = json!(false);
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{base}/products"),
            Some(&token),
            Some(bad),
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
        .map(|d| d["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["product_name", "plan_adjustment", "contact_phone"]);
    let (status, product) = app
        .call(
            Method::POST,
            &format!("{base}/products"),
            Some(&token),
            Some(registration(&job)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    assert_eq!(product["status"], "registered");
    let items: Vec<&str> = product["data_items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(items, ["loan_id", "uscc", "amount", "bad", "risk"]);
    let id = product["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/products/{id}");

    // Review: three reviewers, an affiliated one refused; each sees the management record.
    let mut reviewers = Vec::new();
    for i in 0..4 {
        let name = format!("product.expert{i}");
        reviewers.push((
            app.user(&name, Role::Reviewer).await,
            app.login(&name).await,
        ));
    }
    let uscc = product["uscc"].as_str().expect("uscc");
    sqlx::query("INSERT INTO reviewer_affiliations (user_id, uscc) VALUES (?, ?)")
        .bind(&reviewers[3].0)
        .bind(uscc)
        .execute(app.store.pool())
        .await
        .expect("affiliation");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/reviewers"),
            Some(&admin),
            Some(json!({ "reviewer_ids": [reviewers[0].0, reviewers[3].0, reviewers[1].0] })),
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
            Some(json!({ "reviewer_ids": [reviewers[0].0, reviewers[1].0, reviewers[2].0] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The unassigned reviewer and other institutions do not see it.
    let (status, body) = app
        .call(Method::GET, &path, Some(&reviewers[3].1), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, seen) = app
        .call(Method::GET, &path, Some(&reviewers[0].1), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["management_record"]["status"], "active");
    assert!(
        seen["management_record"]["lifecycle"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
    );
    // Deciding before every review is refused.
    let decision = json!({ "recommended": true, "reason": "市场需求明确，创新点突出" });
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/decision"),
            Some(&admin),
            Some(decision.clone()),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "wrong_stage");
    for (_, reviewer) in &reviewers[..3] {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("{path}/reviews"),
                Some(reviewer),
                Some(json!({ "market_demand": 88, "innovation": 80, "management": 90, "recommend": true, "opinion": "需求明确，管理规范，建议推荐。" })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/reviews"),
            Some(&reviewers[0].1),
            Some(json!({ "market_demand": 10, "innovation": 10, "management": 10, "recommend": false, "opinion": "改变主意，不再推荐。" })),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "wrong_stage");
    // Issue 15, blind review: before the decision the institution sees how many reviews
    // are in, not who wrote what; a reviewer only their own; administrators all.
    let (status, seen) = app.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["reviews_in"], 3, "{seen}");
    assert_eq!(seen["reviews"], json!([]), "{seen}");
    let (_, seen) = app
        .call(Method::GET, &path, Some(&reviewers[1].1), None)
        .await;
    assert_eq!(seen["reviews"].as_array().map(Vec::len), Some(1), "{seen}");
    let (_, seen) = app.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(seen["reviews"].as_array().map(Vec::len), Some(3), "{seen}");
    // The public list is empty until the recorded decision.
    let (status, public) = app
        .call(Method::GET, "/api/v1/public/products", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(public["items"], json!([]));
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/decision"),
            Some(&token),
            Some(decision.clone()),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/decision"),
            Some(&admin),
            Some(decision),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "recommended");

    let (_, public) = app
        .call(Method::GET, "/api/v1/public/products", None, None)
        .await;
    let listed = public["items"].as_array().expect("items");
    assert_eq!(listed.len(), 1, "{public}");
    assert_eq!(listed[0]["product_name"], "小微企业贷前风险分");
    assert_eq!(listed[0]["data_items"][4]["name"], "risk");
    assert!(listed[0].get("rows").is_none());

    // A suspended institution's products leave the public list.
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{base}/suspend"),
            Some(&admin),
            Some(json!({ "reason": "未按期提交进度报告", "rectification_deadline": "2099-06-30" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, public) = app
        .call(Method::GET, "/api/v1/public/products", None, None)
        .await;
    assert_eq!(public["items"], json!([]));
    // And nothing more leaves while it is suspended.
    let (status, body) = app
        .call(Method::POST, &sample_path, Some(&token), None)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "institution_suspended",
    );

    let actions: Vec<String> = app.audit_actions(&id).await;
    assert_eq!(
        actions,
        [
            "product.registered",
            "product.reviewers_assigned",
            "product.reviewed",
            "product.reviewed",
            "product.reviewed",
            "product.recommended"
        ]
    );
}
