//! The `creditpool` command as a user runs it: real processes, real files.

use std::path::Path;
use std::process::{Command, Output};

fn creditpool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_creditpool"))
        .args(args)
        .env_remove("CREDITPOOL_CONFIG")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn generate(out: &Path, seed: &str) -> Output {
    creditpool(&[
        "samples",
        "generate",
        "--scale",
        "0.01",
        "--seed",
        seed,
        "--out",
        out.to_str().expect("utf8"),
    ])
}

#[test]
fn generate_then_list_shows_every_table_with_rows() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = generate(dir.path(), "3");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stderr);
    assert!(summary.contains("generated 16 tables"), "{summary}");
    assert!(
        summary.contains("1000 enterprises, 500 persons"),
        "{summary}"
    );

    let list = creditpool(&[
        "catalog",
        "list",
        "--data",
        dir.path().to_str().expect("utf8"),
    ]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let stdout = text(&list.stdout);
    for table in [
        "enterprises",
        "admin_penalties",
        "dishonesty_list",
        "行政处罚信息",
        "浙江省市场监督管理局",
    ] {
        assert!(stdout.contains(table), "{table} missing from:\n{stdout}");
    }
    assert!(stdout.contains("15 tables"), "{stdout}");

    let json = creditpool(&[
        "catalog",
        "list",
        "--json",
        "--data",
        dir.path().to_str().expect("utf8"),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    let tables = v["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 15);
    let persons = tables
        .iter()
        .find(|t| t["id"] == "persons")
        .expect("persons");
    assert_eq!(persons["rows"], 500);
    let id_number = persons["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .find(|c| c["name"] == "id_number")
        .expect("id_number");
    assert_eq!(id_number["sensitivity"], "masked");
}

#[test]
fn the_data_folder_can_come_from_the_configuration_file() {
    let dir = tempfile::tempdir().expect("tmp");
    assert!(generate(&dir.path().join("d"), "3").status.success());
    let config = dir.path().join("creditpool.toml");
    std::fs::write(
        &config,
        format!("[data]\ndir = {:?}\n", dir.path().join("d")),
    )
    .expect("write");
    let list = creditpool(&[
        "--config",
        config.to_str().expect("utf8"),
        "catalog",
        "list",
    ]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    assert!(text(&list.stdout).contains("15 tables"));

    std::fs::write(&config, "[data]\ndirectory = \"x\"\n").expect("write");
    let bad = creditpool(&[
        "--config",
        config.to_str().expect("utf8"),
        "catalog",
        "list",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let e = text(&bad.stderr);
    assert!(e.contains("is invalid") && e.contains("directory"), "{e}");
}

#[test]
fn describe_shows_columns_and_sensitivity() {
    let out = creditpool(&["catalog", "describe", "persons"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("自然人身份信息"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("birth_date"))
        .expect("birth_date line");
    assert!(line.contains("secret"), "{line}");
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let out_dir = dir.path().join("out");
    let out = out_dir.to_str().expect("utf8");
    for (args, expected) in [
        (
            vec!["samples", "generate", "--scale", "0", "--out", out],
            "scale must be",
        ),
        (
            vec!["samples", "generate", "--scale", "500", "--out", out],
            "at most 100",
        ),
        (
            vec!["samples", "generate", "--scale", "abc", "--out", out],
            "invalid value 'abc'",
        ),
        (
            vec!["samples", "generate", "--as-of", "2026-13-01", "--out", out],
            "YYYY-MM-DD",
        ),
        (
            vec!["catalog", "describe", "no_such_table"],
            "unknown table 'no_such_table'",
        ),
        (
            vec!["catalog", "list", "--data", out],
            "creditpool samples generate",
        ),
    ] {
        let o = creditpool(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let stderr = text(&o.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!out_dir.exists(), "a refused command wrote files");
}

#[test]
fn a_damaged_data_folder_is_named_not_regenerated() {
    let dir = tempfile::tempdir().expect("tmp");
    assert!(generate(dir.path(), "4").status.success());
    let file = dir.path().join("public-credit").join("officers.parquet");
    std::fs::write(&file, b"garbage").expect("write");
    let out = creditpool(&[
        "demo",
        "--data",
        dir.path().to_str().expect("utf8"),
        "--no-serve",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("officers.parquet") && stderr.contains("not a readable Parquet file"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&file).expect("read"),
        b"garbage",
        "demo must not overwrite damaged data"
    );
}

#[test]
fn demo_generates_once_then_reuses_the_data() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf8");
    let database = dir.path().join("demo.db");
    let database = database.to_str().expect("utf8");
    let first = creditpool(&[
        "demo",
        "--data",
        data,
        "--scale",
        "0.02",
        "--database",
        database,
        "--no-serve",
    ]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stderr).contains("generating the sample data set"));
    // Demo logins for every role, said loudly.
    assert!(text(&first.stderr).contains("DEMO ACCOUNTS with KNOWN PASSWORDS"));
    for login in [
        "demo.admin",
        "demo.reviewer1",
        "demo.institution",
        "demo.applicant",
        "demo.agency",
        "demo.source",
        "demo.person",
    ] {
        assert!(
            text(&first.stdout).contains(login),
            "{}",
            text(&first.stdout)
        );
    }
    let stdout = text(&first.stdout);
    assert!(stdout.contains("15 tables"), "{stdout}");
    assert!(
        stdout.contains("serious penalties in the five years to 2026-11-01"),
        "{stdout}"
    );
    assert!(stdout.contains("serious_penalties"), "{stdout}");

    let second = creditpool(&["demo", "--data", data, "--database", database, "--no-serve"]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(text(&second.stderr).contains("using the existing data"));
    assert!(text(&second.stdout).contains("demo.admin"));
    // Without --second-factor, staff log in with a password: no secrets.
    let rows: Vec<String> = text(&first.stdout)
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|u| u.starts_with("demo."))
        })
        .map(str::to_owned)
        .collect();
    assert_eq!(rows.len(), 9, "{rows:?}");
    assert!(
        rows.iter().all(|l| l.trim_end().ends_with(" -")),
        "{rows:?}"
    );

    // Issue 15: asked for second factors, the demo gives its staff TOTP secrets and
    // prints them with the passwords; `creditpool totp` gives a secret's current code.
    let staff_only = creditpool(&[
        "demo",
        "--data",
        data,
        "--database",
        database,
        "--no-serve",
        "--second-factor",
    ]);
    assert!(staff_only.status.success(), "{}", text(&staff_only.stderr));
    let stdout = text(&staff_only.stdout);
    let secret_of = |username: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(username))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{username} in {stdout}"))
    };
    for staff in ["demo.admin", "demo.reviewer1", "demo.agency", "demo.source"] {
        let secret = secret_of(staff);
        assert_eq!(secret.len(), 32, "{secret}");
        let printed = creditpool(&["totp", &secret]);
        assert!(printed.status.success(), "{}", text(&printed.stderr));
        let bytes = governance::second_factor::from_base32(&secret).expect("base32");
        let now = governance::second_factor::step_of(chrono::Utc::now().timestamp());
        let code: u32 = text(&printed.stdout).trim().parse().expect("six digits");
        assert!(
            [now - 1, now]
                .iter()
                .any(|step| governance::second_factor::code_at(&bytes, *step) == code),
            "{code}"
        );
    }
    assert_eq!(secret_of("demo.institution"), "-");
    assert_eq!(secret_of("demo.person"), "-");
    let refused = creditpool(&["totp", "not-base32!"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("not base32"));
}

#[test]
fn demo_serves_the_api_with_its_demo_logins() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let database = dir.path().join("demo.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_creditpool"))
        .args([
            "demo",
            "--scale",
            "0.02",
            "--listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(&data)
        .arg("--database")
        .arg(&database)
        .env_remove("CREDITPOOL_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let stderr = child.stderr.take().expect("stderr");
    let mut address = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("line");
        if let Some(rest) = line.strip_prefix("creditpool listening on http://") {
            address = rest.split_whitespace().next().map(str::to_owned);
            break;
        }
    }
    let address = address.expect("the demo says where it listens");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (status, role, report) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let login = client
            .post(format!("http://{address}/api/v1/sessions"))
            .json(&serde_json::json!({ "username": "demo.institution", "password": platform::demo::PASSWORD }))
            .send()
            .await
            .expect("login");
        let status = login.status();
        let body: serde_json::Value = login.json().await.expect("json");
        let me: serde_json::Value = client
            .get(format!("http://{address}/api/v1/me"))
            .bearer_auth(body["token"].as_str().unwrap_or_default())
            .send()
            .await
            .expect("me")
            .json()
            .await
            .expect("json");
        // A report issued by the demo says to verify it at the address it listens on.
        let found: serde_json::Value = client
            .get(format!("http://{address}/api/v1/public/subjects?q=%E5%85%AC%E5%8F%B8&limit=1"))
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("json");
        let uscc = found["items"][0]["uscc"].as_str().unwrap_or_default().to_owned();
        let report = client
            .post(format!("http://{address}/api/v1/public/subjects/{uscc}/reports"))
            .send()
            .await
            .expect("report")
            .text()
            .await
            .expect("text");
        (status, me["role"].clone(), report)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, reqwest::StatusCode::CREATED);
    // The demo institution was admitted through the whole workflow.
    assert_eq!(role, "institution");
    assert!(
        report.contains(&format!("http://{address}/verify")),
        "{report}"
    );
}

fn linear_model() -> String {
    format!(
        "{}/../samples/models/linear_score.wat",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn model_check_prints_the_manifest_or_the_reason_for_refusal() {
    let out = creditpool(&["model", "check", &linear_model()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("linear_score 1.0.0")
            && stdout.contains("years_established")
            && stdout.contains("ok:"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.wasm");
    std::fs::write(&bad, b"garbage").expect("write");
    let out = creditpool(&["model", "check", bad.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("magic bytes"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn model_run_scores_sample_data_through_the_sandbox() {
    let dir = tempfile::tempdir().expect("tmp");
    assert!(generate(dir.path(), "8").status.success());
    let data = dir.path().to_str().expect("utf8");
    let result = dir.path().join("scores.parquet");
    let sql = "SELECT e.uscc, linear_score(CAST(COUNT(p.record_id) AS DOUBLE), 0, 10) AS score \
               FROM enterprises e LEFT JOIN admin_penalties p ON p.subject_id = e.subject_id GROUP BY e.uscc";
    let out = creditpool(&[
        "model",
        "run",
        &linear_model(),
        "--data",
        data,
        "--sql",
        sql,
        "--out",
        result.to_str().expect("utf8"),
        "--show",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("1000 rows out") && stderr.contains("1000 rows, "),
        "{stderr}"
    );
    assert!(result.exists());
    assert!(text(&out.stdout).contains("score"), "{}", text(&out.stdout));

    // Only the tables named are visible; DDL is refused.
    let narrow = creditpool(&[
        "model",
        "run",
        &linear_model(),
        "--data",
        data,
        "--tables",
        "enterprises",
        "--sql",
        sql,
    ]);
    assert_eq!(narrow.status.code(), Some(2));
    assert!(
        text(&narrow.stderr).contains("admin_penalties"),
        "{}",
        text(&narrow.stderr)
    );
    let ddl = creditpool(&[
        "model",
        "run",
        &linear_model(),
        "--data",
        data,
        "--sql",
        "DROP TABLE enterprises",
    ]);
    assert_eq!(ddl.status.code(), Some(2));
    assert!(
        text(&ddl.stderr).contains("DDL not supported"),
        "{}",
        text(&ddl.stderr)
    );
}

#[test]
fn serve_refuses_a_bad_configuration_or_data_folder_by_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("creditpool.toml");
    std::fs::write(&config, "[server]\nmin_reviewers = 0\n").expect("write");
    let out = creditpool(&["--config", config.to_str().expect("utf8"), "serve"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("server.min_reviewers must be at least 1"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&config, "[server]\nlisten_on = \"x\"\n").expect("write");
    let out = creditpool(&["--config", config.to_str().expect("utf8"), "serve"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("listen_on"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&config, "[server]\ntrusted_proxies = [\"proxy.local\"]\n").expect("write");
    let out = creditpool(&["--config", config.to_str().expect("utf8"), "serve"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("'proxy.local' is not an address or a network"),
        "{}",
        text(&out.stderr)
    );
    // A refused start leaves no key behind (these ran with the default database, in the
    // package folder).
    assert!(
        !std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("creditpool.gate-key")
            .exists()
    );
    // A data folder that is not a generated data set is named.
    let database = dir.path().join("p.db");
    let out = creditpool(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        dir.path().join("nothing-here").to_str().expect("utf8"),
        "--database",
        database.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nothing-here"),
        "{}",
        text(&out.stderr)
    );
}
