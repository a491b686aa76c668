//! Schema-driven fuzzing of the whole API (issue 17, item 2): schemathesis, pinned in
//! `contract/requirements.txt` and installed by `scripts/setup`, sends generated
//! requests (valid and invalid) for every operation of the OpenAPI description as each
//! of the eight roles, against this server populated with real ids. No answer may be a
//! server error or fall outside the operation's statuses, content types and schemas;
//! afterwards the server is ready and its audit chain verifies.

use std::path::{Path, PathBuf};

use governance::identity::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::applications::{complete_form, register};
use crate::helpers::TestApp;
use crate::lifecycle::{job_until, opened, submit_job};
use crate::products::{SCORED, TABLES, loans_and_model};

/// Examples schemathesis generates for each operation, each sent once as every role:
/// the budget that keeps the run to minutes on two cores.
const MAX_EXAMPLES: u32 = 8;

/// The Python of the venv `scripts/setup` makes for the contract fuzzer and the
/// Python client's tests.
fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/venv/bin/python")
}

/// Runs the pytest file `test` (a path from the repository's root) with the venv's
/// Python, `fixture` written to a file named by the variable `variable`. pytest runs in
/// a temporary folder (returned, with what it wrote), so that its caches and
/// Hypothesis's stay out of the source tree.
pub(crate) async fn pytest(
    test: &str,
    variable: &'static str,
    fixture: &Value,
) -> (std::process::Output, tempfile::TempDir) {
    let python = python();
    assert!(
        python.exists(),
        "{} is missing: run ./scripts/setup, which installs the Python test tools",
        python.display()
    );
    let work = tempfile::tempdir().expect("tmp");
    let file = work.path().join("fixture.json");
    std::fs::write(&file, fixture.to_string()).expect("fixture");
    let test = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(test);
    let dir = work.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args([
                "-m",
                "pytest",
                "-q",
                "-s",
                "-p",
                "no:cacheprovider",
                "--rootdir",
            ])
            .arg(&dir)
            .arg(test)
            .current_dir(&dir)
            .env(variable, file)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("pytest runs")
    })
    .await
    .expect("pytest");
    (output, work)
}

fn id(body: &Value, field: &str) -> String {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {body}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_contract_for_any_role() {
    let _cores = crate::helpers::exclusive_cores().await;
    // The per-address limit on anonymous requests (tested in api.rs) would answer most
    // of them 429 here, where every role shares one address.
    let app = TestApp::spawn_with(|settings| settings.public_rate.per_minute = 0).await;

    // An institution with its own data, a model, a succeeded job, a sample released
    // from it and a product registered on it.
    let (institution, institution_token, admin) = opened(&app, "contract.apply", &TABLES, 0).await;
    let base = format!("/api/v1/institutions/{institution}");
    let (uploaded, model) = loans_and_model(&app, &institution_token, &base).await;
    let table = id(&uploaded["table"], "id");
    let model = id(&model, "id");
    let job = submit_job(&app, &institution_token, &institution, SCORED).await;
    let done = job_until(&app, &admin, &institution, &job, |j| {
        j["ended_at"].is_string()
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let (status, sample) = app
        .call(
            Method::POST,
            &format!("{base}/jobs/{job}/sample"),
            Some(&institution_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sample}");
    let (status, product) = app
        .call(
            Method::POST,
            &format!("{base}/products"),
            Some(&institution_token),
            Some(crate::products::registration(&job)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product = id(&product, "id");

    // An applicant with a draft application and its evidence.
    let applicant = register(&app, "contract.applicant").await;
    let application = app.draft_with_evidence(&applicant, complete_form()).await;
    let (_, evidence) = app
        .call(
            Method::GET,
            &format!("{application}/evidence"),
            Some(&applicant),
            None,
        )
        .await;
    let file = id(&evidence["items"][0], "id");
    let application = application.rsplit('/').next().expect("id").to_owned();

    // Staff of every kind, and a user for the administrator to disable.
    app.user("contract.reviewer", Role::Reviewer).await;
    let reviewer = app.login("contract.reviewer").await;
    app.user_in(
        "contract.agency",
        Role::AgencyStaff,
        None,
        Some("某市市场监督管理局"),
        None,
    )
    .await;
    let agency = app.login("contract.agency").await;
    let (subject, record) = crate::objections::enterprise_with_a_record(&app).await;
    let unit = id(&record, "source_unit");
    app.user_in("contract.unit", Role::SourceUnit, None, Some(&unit), None)
        .await;
    let source_unit = app.login("contract.unit").await;
    let victim = app.user("contract.victim", Role::Reviewer).await;

    // A person of the register, who authorises the reviewer to see their record.
    let persons = crate::persons::two_persons().await;
    let (person_subject, name, id_number) = &persons[0];
    let (status, body) = crate::persons::register(&app, "contract.person", name, id_number).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let person = app.login("contract.person").await;
    let (status, granted) = app
        .call(
            Method::POST,
            "/api/v1/me/authorisations",
            Some(&person),
            Some(json!({ "grantee": "contract.reviewer", "scope": "report", "purpose": "贷前审查", "days": 30 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    let authorisation = id(&granted, "id");

    // An objection, a ticket, a report and a verification letter.
    let uscc = id(&subject, "uscc");
    let objection = crate::objections::file_as_the_subject(&app, &subject, &record).await;
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
    let report = app
        .client
        .post(app.url(&format!("/api/v1/public/subjects/{uscc}/reports")))
        .send()
        .await
        .expect("report");
    assert_eq!(report.status(), StatusCode::CREATED);
    let report_number = report.headers()["x-report-number"]
        .to_str()
        .expect("number")
        .to_owned();
    let (status, letter) = app
        .call(
            Method::POST,
            "/api/v1/verifications",
            Some(&agency),
            Some(json!({
                "matter": "政府采购供应商资格审查",
                "letter_title": "关于供应商信用状况的核查函",
                "subjects": [{ "name": subject["name"], "code": uscc }],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{letter}");

    // The fixture: where the server is, its description, each role's token and the real
    // value of each path parameter (by a pattern of the path template).
    let (status, document) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let parameters = json!([
        ["^/api/v1/institutions/", "id", institution],
        ["^/api/v1/institutions/", "job", job],
        ["^/api/v1/institutions/", "model", model],
        ["^/api/v1/institutions/", "table", table],
        ["^/api/v1/applications/", "id", application],
        ["^/api/v1/applications/", "file", file],
        ["^/api/v1/products/", "id", product],
        ["^/api/v1/objections/", "id", id(&objection, "id")],
        [
            "^/api/v1/public/objections/",
            "number",
            id(&objection, "number")
        ],
        ["^/api/v1/tickets/", "id", id(&ticket, "id")],
        ["^/api/v1/public/tickets/", "number", id(&ticket, "number")],
        ["^/api/v1/users/", "id", victim],
        ["^/api/v1/me/authorisations/", "id", authorisation],
        ["^/api/v1/persons/", "subject", person_subject],
        ["^/api/v1/public/subjects/", "uscc", uscc],
        ["^/api/v1/public/reports/", "number", report_number],
        ["^/api/v1/public/special/", "list", "red_list"],
        ["^/api/v1/public/sectors/", "sector", "housekeeping"],
        ["^/api/v1/verifications/", "id", id(&letter, "id")],
    ]);
    // Each role's login, and the token it starts with. The administrator comes last:
    // what it suspends or disables stops the others.
    let roles = json!([
        ["anonymous", null],
        ["applicant", "contract.applicant"],
        ["institution", "contract.apply"],
        ["reviewer", "contract.reviewer"],
        ["person", "contract.person"],
        ["agency_staff", "contract.agency"],
        ["source_unit", "contract.unit"],
        ["administrator", "admin.contract.apply"],
    ]);
    let tokens = json!([
        ["applicant", applicant],
        ["institution", institution_token],
        ["reviewer", reviewer],
        ["person", person],
        ["agency_staff", agency],
        ["source_unit", source_unit],
        ["administrator", admin],
    ]);
    let (output, work) = pytest(
        "contract/test_contract.py",
        "CONTRACT_FIXTURE",
        &json!({
            "base_url": format!("http://{}", app.address),
            "document": document,
            "max_examples": MAX_EXAMPLES,
            "roles": roles,
            "tokens": tokens,
            "password": crate::helpers::PASSWORD,
            "parameters": parameters,
        }),
    )
    .await;
    let failures = work.path().join("failures.txt");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let tail: String = {
        let lines: Vec<&str> = stdout.lines().collect();
        lines[lines.len().saturating_sub(200)..].join("\n")
    };
    // Each failure once, whichever roles met it.
    let mut found: Vec<String> = std::fs::read_to_string(&failures)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let role = line.find(" [").zip(line.find("]: "));
            role.map_or(line.to_owned(), |(a, b)| {
                format!("{}{}", &line[..a], &line[b + 1..])
            })
        })
        .collect();
    found.sort();
    found.dedup();
    assert!(
        output.status.success(),
        "schemathesis found answers outside the contract:\n{tail}\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        found.join("\n")
    );
    assert!(stdout.contains(" passed"), "{tail}");
    for line in stdout.lines().filter(|l| l.contains("statuses by role")) {
        println!("{line}");
    }

    // Afterwards the server is ready and the audit chain verifies.
    let (status, ready) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    let database = app.dir.path().join("creditpool.db");
    let verified = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_creditpool"))
            .args(["audit", "verify", "--database"])
            .arg(database)
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("audit verify");
    assert!(
        verified.status.success(),
        "creditpool audit verify: {}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
}
