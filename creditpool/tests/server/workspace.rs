//! An institution's workspace as pages (issue 19) in a real browser: the dashboard, the
//! tables, the SQL editor and a job watched to its end, a sample shown and downloaded,
//! an aggregate, an evaluation with its ROC chart; another institution's job not
//! found; forms without their token refused; a suspension stopping the open pages at
//! once. What the pages released is the gate's, in its ledger and the audit log.

use governance::identity::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::all_pass;
use crate::helpers::sample_data;
use crate::helpers::{PASSWORD, TestApp};
use crate::lifecycle::{opened, submit_job};
use crate::products::{SCORED, TABLES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_institution_works_from_its_workspace_pages_alone() {
    let _cores = crate::helpers::exclusive_cores().await;
    let app = TestApp::spawn().await;
    let (institution, _, admin) = opened(&app, "browser.bank", &TABLES, 0).await;
    // The files the data scientist has on their machine: the demo's loan outcomes as
    // CSV, the example model's text, and a file that is no model.
    let files = tempfile::tempdir().expect("tmp");
    let loans = files.path().join("loans.csv");
    loans_as_csv(&loans);
    let not_a_model = files.path().join("not-a-model.wasm");
    std::fs::write(&not_a_model, b"\0asm but not really").expect("file");
    // Another institution, with a job of its own.
    let (other, other_token, _) = opened(&app, "browser.other", &TABLES, 1).await;
    let foreign_job = submit_job(&app, &other_token, &other, "SELECT uscc FROM enterprises").await;
    let (_, about) = app
        .call(
            Method::GET,
            &format!("/api/v1/institutions/{institution}"),
            Some(&admin),
            None,
        )
        .await;
    let fixture = json!({
        "base_url": app.url(""),
        "password": PASSWORD,
        "username": "browser.bank",
        "institution": about["name"],
        "institution_id": institution,
        "scored": SCORED,
        "loans_csv": loans,
        "model_wat": concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/models/linear_score.wat"),
        "not_a_model": not_a_model,
        "foreign_job": foreign_job,
        "admin_token": admin,
        "admin": "admin.browser.bank",
    });
    all_pass("browser/workspace.test.mjs", &fixture).await;

    // What the pages released went through the gate: in the audit log as releases.
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
        .fetch_all(app.store.pool())
        .await
        .expect("the audit log reads");
    for action in [
        "job.submitted",
        "release.sample",
        "release.aggregate",
        "release.evaluation",
        "institution.suspended",
        "institution.reinstated",
        "institution.terminated",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    // The suspension cancelled nothing of the other institution's.
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/institutions/{other}/jobs/{foreign_job}"),
            Some(&other_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// The demo's loan outcomes (`own-data/demo_loan_outcomes.parquet` of the sample data)
/// written as CSV with a header row, as a bank exports them.
fn loans_as_csv(to: &std::path::Path) {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = std::fs::File::open(
        sample_data()
            .join("own-data")
            .join("demo_loan_outcomes.parquet"),
    )
    .expect("loans");
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet");
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut csv = names.join(",") + "\n";
    let options = FormatOptions::default();
    for batch in builder.build().expect("reader") {
        let batch = batch.expect("batch");
        let columns: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter"))
            .collect();
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = columns.iter().map(|c| c.value(row).to_string()).collect();
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
    }
    std::fs::write(to, csv).expect("csv");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_goes_from_registration_to_the_public_list_through_reviewers_pages() {
    let _cores = crate::helpers::exclusive_cores().await;
    let app = TestApp::spawn().await;
    // An institution with its loans, a model, a scored job and a sample released.
    let (institution, token, admin) = opened(&app, "browser.lender", &TABLES, 0).await;
    let base = format!("/api/v1/institutions/{institution}");
    crate::products::loans_and_model(&app, &token, &base).await;
    let job = submit_job(&app, &token, &institution, SCORED).await;
    let done = crate::lifecycle::job_until(&app, &admin, &institution, &job, |j| {
        j["ended_at"].is_string()
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let (status, sample) = app
        .call(
            Method::POST,
            &format!("{base}/jobs/{job}/sample"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sample}");
    // An application under review by three experts, who will review the product too.
    let enterprises = crate::lifecycle::eligible(&app, 2).await;
    let (path, _, _, reviewers) =
        crate::lifecycle::under_review(&app, "browser.applicant", &enterprises[1], &TABLES).await;
    // A reviewer who belongs to the institution: a conflict of interest for its product.
    let conflicted = app.user("browser.conflicted", Role::Reviewer).await;
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/me/affiliations",
            Some(&app.login("browser.conflicted").await),
            Some(json!({ "usccs": [enterprises[0].0] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // An objection filed by the public, awaiting the provider's check.
    let (subject, record) = crate::objections::enterprise_with_a_record(&app).await;
    let objection = crate::objections::file_as_the_subject(&app, &subject, &record).await;
    // Another enterprise's record, for an objection an administrator records from a letter.
    let by_letter = app
        .search_samples(10)
        .await
        .into_iter()
        .find(|s| s["uscc"] != subject["uscc"])
        .expect("another enterprise");
    let letter_record = crate::objections::a_record_of(&app, &by_letter).await;
    // A complaint filed by the public, awaiting its answer.
    let (status, ticket) = app
        .call(
            Method::POST,
            "/api/v1/public/tickets",
            None,
            Some(json!({
                "kind": "complaint",
                "category": "wrong_association",
                "name": "张三",
                "contact": "13812345678",
                "content": "我的信用报告中关联了一条不属于我的处罚记录。",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    // A real enterprise neither of them, for a declared affiliation.
    let unrelated = app
        .search_samples(10)
        .await
        .into_iter()
        .find(|s| s["uscc"] != enterprises[0].0.as_str() && s["uscc"] != enterprises[1].0.as_str())
        .expect("another enterprise");
    let fixture = json!({
        "base_url": app.url(""),
        "password": PASSWORD,
        "unrelated_uscc": unrelated["uscc"],
        "objection": objection["number"],
        "letter": {
            "name": by_letter["name"],
            "uscc": by_letter["uscc"],
            "record_id": letter_record["record_id"],
        },
        "ticket": ticket["number"],
        "username": "browser.lender",
        "institution_id": institution,
        "job": job,
        "admin_token": admin,
        "admin": "admin.browser.lender",
        "conflicted": { "username": "browser.conflicted", "id": conflicted },
        "application_id": path.rsplit('/').next().expect("id"),
        "applicant": enterprises[1].1,
        "reviewers": (0..3).map(|i| json!({
            "username": format!("expert{i}.browser.applicant"),
            "id": reviewers[i].0,
        })).collect::<Vec<_>>(),
    });
    all_pass("browser/review.test.mjs", &fixture).await;

    // The product is on the public list; the reviews and the decision are audited.
    let (_, public) = app
        .call(Method::GET, "/api/v1/public/products", None, None)
        .await;
    assert!(
        public["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|p| p["product_name"] == "小微企业贷前风险分"),
        "{public}"
    );
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
        .fetch_all(app.store.pool())
        .await
        .expect("the audit log reads");
    for action in [
        "product.registered",
        "product.reviewed",
        "application.reviewed",
        "product.recommended",
        "product.reviewers_assigned",
        "application.approved",
        "institution.opened",
        "objection.accepted",
        "ticket.answered",
        "reviewer.affiliations_declared",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applicant_applies_with_evidence_from_the_pages() {
    let _cores = crate::helpers::exclusive_cores().await;
    let app = TestApp::spawn().await;
    // The applicant registers on the pages (browser/apply.test.mjs).
    let enterprise = crate::lifecycle::eligible(&app, 1).await.remove(0);
    let files = tempfile::tempdir().expect("tmp");
    let pdf = files.path().join("等保三级测评报告.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n% evidence\n%%EOF\n").expect("pdf");
    let fake = files.path().join("licence.pdf");
    std::fs::write(&fake, b"MZ this is no PDF").expect("fake");
    let fixture = json!({
        "base_url": app.url(""),
        "password": PASSWORD,
        "username": "browser.applying",
        "enterprise": { "uscc": enterprise.0, "name": enterprise.1 },
        "pdf": pdf,
        "fake_pdf": fake,
    });
    all_pass("browser/apply.test.mjs", &fixture).await;

    // Submitted through the pages: the criteria were checked and attached, as through
    // the API.
    let (_, listed) = app
        .call(
            Method::GET,
            "/api/v1/applications",
            Some(&app.login("browser.applying").await),
            None,
        )
        .await;
    let submitted = &listed["items"][0];
    assert_eq!(submitted["status"], "submitted", "{listed}");
    assert_eq!(
        submitted["criteria"]["all_required_passed"], true,
        "{listed}"
    );
    assert_eq!(submitted["form"]["uscc"], enterprise.0.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_from_application_to_the_public_list_is_done_on_pages() {
    let _cores = crate::helpers::exclusive_cores().await;
    let app = TestApp::spawn_with(|settings| settings.public_rate.per_minute = 0).await;
    // Only the accounts: the applicant registered itself, the staff were created.
    crate::applications::register(&app, "journey.bank").await;
    app.user("journey.admin", Role::Administrator).await;
    for i in 1..=3 {
        app.user(&format!("journey.expert{i}"), Role::Reviewer)
            .await;
    }
    let enterprise = crate::lifecycle::eligible(&app, 1).await.remove(0);
    let files = tempfile::tempdir().expect("tmp");
    let pdf = files.path().join("等保三级测评报告.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n% evidence\n%%EOF\n").expect("pdf");
    let loans = files.path().join("loans.csv");
    loans_as_csv(&loans);
    let fixture = json!({
        "base_url": app.url(""),
        "password": PASSWORD,
        "applicant": "journey.bank",
        "admin": "journey.admin",
        "experts": ["journey.expert1", "journey.expert2", "journey.expert3"],
        "enterprise": { "uscc": enterprise.0, "name": enterprise.1 },
        "pdf": pdf,
        "loans_csv": loans,
        "model_wat": concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/models/linear_score.wat"),
        "scored": SCORED,
    });
    all_pass("browser/journey.test.mjs", &fixture).await;

    // Every step is in the audit log, in order.
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
        .fetch_all(app.store.pool())
        .await
        .expect("the audit log reads");
    let position = |action: &str| {
        actions
            .iter()
            .position(|a| a == action)
            .unwrap_or_else(|| panic!("{action} in {actions:?}"))
    };
    let steps = [
        "application.submitted",
        "application.reviewers_assigned",
        "application.reviewed",
        "application.approved",
        "institution.opened",
        "job.submitted",
        "release.sample",
        "release.evaluation",
        "product.registered",
        "product.reviewers_assigned",
        "product.reviewed",
        "product.recommended",
        "institution.suspended",
    ];
    for pair in steps.windows(2) {
        assert!(position(pair[0]) < position(pair[1]), "{pair:?} in order");
    }
}
