//! The web pages in a real browser (issue 18): Debian's chromium driven by
//! playwright-core through Node's test runner (`browser/*.test.mjs`), against this server
//! on a loopback port over the sample data; and the pages' HTTP promises (headers,
//! escaping, the HTML and JSON sides of an unknown address) checked over the wire.
//! Screenshots of every page are kept in `target/browser-screenshots/`.

use std::path::{Path, PathBuf};

use governance::identity::Role;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::objections::enterprise_with_a_record;

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the Node test file `test` (from the repository's root) with `fixture`; the
/// screenshots go to `target/browser-screenshots/`.
async fn node_test(test: &str, fixture: &Value) -> std::process::Output {
    let tools = root().join("target/tools/browser");
    assert!(
        tools.join("node_modules/playwright-core").exists()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser tests' tools are missing: run ./scripts/setup, which installs chromium and {}",
        tools.display()
    );
    let shots = root().join("target/browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshots folder");
    let work = tempfile::tempdir().expect("tmp");
    let file = work.path().join("fixture.json");
    std::fs::write(&file, fixture.to_string()).expect("fixture");
    let test = root().join(test);
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg("--test")
            .arg("--test-concurrency=1")
            .arg(&test)
            .current_dir(work.path())
            .env("BROWSER_TOOLS", &tools)
            .env("FIXTURE", &file)
            .env("SCREENSHOTS", &shots)
            .output()
            .expect("node runs")
    })
    .await
    .expect("node")
}

/// Runs the Node test file `test` with `fixture` and asserts that every test in it ran
/// and passed.
pub(crate) async fn all_pass(test: &str, fixture: &Value) {
    let output = node_test(test, fixture).await;
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the browser tests failed:\n{said}");
    // Node's runner closes with its counts: every test ran and passed.
    let count = |what: &str| {
        said.lines()
            .find_map(|l| l.strip_prefix(&format!("# {what} ")))
            .and_then(|n| n.trim().parse::<u32>().ok())
    };
    assert!(count("tests").is_some_and(|n| n > 0), "{said}");
    assert_eq!(count("pass"), count("tests"), "{said}");
}

/// Files an objection to `record_id` of `uscc` and has the administrator accept it, so
/// that the record is marked 异议处理中 (Q8).
pub(crate) async fn objected(app: &TestApp, subject: &Value, record: &Value) -> String {
    let record_id = record["record_id"].as_str().expect("record_id").to_owned();
    let filed = crate::objections::file_as_the_subject(app, subject, record).await;
    app.user("browser.admin", Role::Administrator).await;
    let admin = app.login("browser.admin").await;
    let (status, accepted) = app
        .call(
            Method::POST,
            &format!(
                "/api/v1/objections/{}/acceptance",
                filed["id"].as_str().expect("id")
            ),
            Some(&admin),
            Some(json!({ "decision": "accept" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    record_id
}

/// A code of the same shape as `uscc` whose check digit is wrong.
fn bad_check_digit(uscc: &str) -> String {
    let (head, last) = uscc.split_at(uscc.len() - 1);
    let other = if last == "0" { "1" } else { "0" };
    format!("{head}{other}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_site_works_in_a_real_browser_for_a_person_who_never_sees_json() {
    let _cores = crate::helpers::exclusive_cores().await;
    let app = TestApp::spawn_with(|settings| settings.public_rate.per_minute = 0).await;
    let (subject, record) = enterprise_with_a_record(&app).await;
    let record_id = objected(&app, &subject, &record).await;
    let name: Vec<char> = subject["name"].as_str().expect("name").chars().collect();
    // Part of the name from its middle: not a prefix, to show matching anywhere.
    let fragment: String = name[2.min(name.len() - 1)..(2 + 2).min(name.len())]
        .iter()
        .collect();
    let uscc = subject["uscc"].as_str().expect("uscc");
    // The search by code and the subject page use another subject, unmarked.
    let other = app
        .search_samples(5)
        .await
        .into_iter()
        .find(|s| s["uscc"] != uscc && s["mark"].is_null())
        .expect("another subject");
    // A third subject, with a record to object to through the pages.
    let objectable = app
        .search_samples(10)
        .await
        .into_iter()
        .rev()
        .find(|s| s["uscc"] != uscc && s["uscc"] != other["uscc"] && s["mark"].is_null())
        .expect("a third subject");
    let objectable_record = crate::objections::a_record_of(&app, &objectable).await;
    let fixture = json!({
        "base_url": app.url(""),
        "admin_token": app.login("browser.admin").await,
        "objectable": {
            "uscc": objectable["uscc"],
            "name": objectable["name"],
            "record_id": objectable_record["record_id"],
        },
        "subject": { "uscc": other["uscc"], "name": other["name"] },
        "fragment": fragment,
        "objected": { "uscc": uscc, "record_id": record_id },
        "bad_code": bad_check_digit(uscc),
    });
    all_pass("browser/public.test.mjs", &fixture).await;
}

#[tokio::test]
async fn pages_carry_their_security_headers_and_escape_what_was_typed() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let page = |path: &str| {
        client
            .get(app.url(path))
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .send()
    };
    let home = page("/").await.expect("home");
    assert_eq!(home.status(), StatusCode::OK);
    let headers = home.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let policy = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let html = home.text().await.expect("html");
    // No inline script or style: every script and stylesheet is a file of ours.
    assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains(" style="));

    // Its static files are served by the server itself, cached for a year.
    let stylesheet = html
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|s| s.starts_with("/assets/site-"))
        .expect("the stylesheet's address")
        .to_owned();
    let css = client.get(app.url(&stylesheet)).send().await.expect("css");
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(
        css.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        css.headers()[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );
    let stale = client
        .get(app.url("/assets/site-000000000000.css"))
        .send()
        .await
        .expect("stale");
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);

    // What a person typed comes back as text.
    let hostile = "<script>alert(1)</script>\"'&";
    let found = client
        .get(app.url("/search"))
        .query(&[("q", hostile)])
        .send()
        .await
        .expect("search");
    assert_eq!(found.status(), StatusCode::OK);
    let html = found.text().await.expect("html");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;&#34;&#39;&#38;"),
        "{html}"
    );

    // An unknown address: a page for a browser, the API's error for anyone else.
    let missing = page("/no/such/page").await.expect("missing");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    );
    assert!(
        missing
            .text()
            .await
            .expect("html")
            .contains("<h1>未找到</h1>")
    );
    let (status, body) = app.call(Method::GET, "/no/such/page", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "no_such_route", "{body}");
    let (status, body) = app.call(Method::GET, "/api/v1/nothing", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "no_such_route", "{body}");
}

#[tokio::test]
async fn the_search_page_finds_by_name_and_by_code_as_the_api_does() {
    // Q4: the page and the API answer from one platform function.
    let app = TestApp::spawn().await;
    let subject = app.search_sample().await;
    let uscc = subject["uscc"].as_str().expect("uscc");
    let name = subject["name"].as_str().expect("name");
    let client = reqwest::Client::new();
    let text = |path: String| {
        let client = client.clone();
        let url = app.url(&path);
        async move {
            let response = client.get(url).send().await.expect("page");
            (response.status(), response.text().await.expect("html"))
        }
    };
    let (status, html) = text(format!("/search?q={uscc}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("href=\"/subjects/{uscc}\"")),
        "{html}"
    );
    assert!(html.contains("按统一社会信用代码查询"));

    let (_, api) = app
        .call(
            Method::GET,
            "/api/v1/public/subjects?q=%E5%85%AC%E5%8F%B8&limit=1",
            None,
            None,
        )
        .await;
    let (status, html) = text("/search?q=%E5%85%AC%E5%8F%B8".into()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("共 {} 个", api["total"])),
        "the page counts as the API does: {}",
        api["total"]
    );
    assert!(html.contains("<mark>公司</mark>"));

    let (status, html) = text(format!("/subjects/{uscc}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("<h1>{name}")), "{html}");
    assert!(html.contains("公示信息"));
    let (status, html) = text("/subjects/91000000000000000X".into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        html.contains("没有这个统一社会信用代码的企业或组织"),
        "{html}"
    );

    // A query longer than the API takes is refused the same way, on the page.
    let (status, html) = text(format!("/search?q={}", "公".repeat(101))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("查询内容最多 100 个字"), "{html}");
}

#[tokio::test]
async fn a_page_refuses_what_it_cannot_read_and_says_when_to_come_back() {
    let app = TestApp::spawn_with(|settings| {
        settings.public_rate.per_minute = 2;
        settings.public_rate.burst = 2;
    })
    .await;
    let client = reqwest::Client::new();
    let html = |path: &str| {
        client
            .get(app.url(path))
            .header(header::ACCEPT, "text/html")
            .send()
    };
    // An address whose query cannot be read as one search (the query given twice).
    let bad = html("/search?q=a&q=b").await.expect("bad query");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(
        bad.text()
            .await
            .expect("html")
            .contains("<h1>输入有误</h1>")
    );
    // Past the per-address limit a page says so, with when to come back.
    let _ = html("/").await.expect("second");
    let limited = html("/").await.expect("limited");
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key(header::RETRY_AFTER));
    assert!(
        limited
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    );
    assert!(
        limited
            .text()
            .await
            .expect("html")
            .contains("<h1>请求过于频繁</h1>")
    );
}

#[tokio::test]
async fn the_document_check_refuses_a_missing_file_beside_its_field_and_an_oversized_one() {
    let app = TestApp::spawn_with(|settings| settings.public_rate.per_minute = 0).await;
    let client = reqwest::Client::new();
    // The page's token and its cookie, as a browser gets them.
    let page = client.get(app.url("/verify")).send().await.expect("verify");
    let cookie = page.headers()[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let html = page.text().await.expect("html");
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("token")
        .to_owned();
    let post = |body: Vec<u8>| {
        client
            .post(app.url("/verify/document"))
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(body)
            .send()
    };
    let part = |name: &str, value: &[u8]| {
        let mut out = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.pdf\"\r\n\r\n"
        )
        .into_bytes();
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
        out
    };
    let mut form = part("csrf", token.as_bytes());
    form.extend(part("number", b"202612010000000000"));
    form.extend_from_slice(b"--XyZ--\r\n");
    let missing = post(form).await.expect("missing file");
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = missing.text().await.expect("html");
    assert!(html.contains("id=\"document-error\""), "{html}");
    assert!(!html.contains("id=\"number-error\""), "{html}");

    let mut form = part("csrf", token.as_bytes());
    form.extend(part("document", &vec![b'%'; (33 << 20) + 1]));
    form.extend_from_slice(b"--XyZ--\r\n");
    let oversized = post(form).await.expect("oversized");
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        oversized
            .text()
            .await
            .expect("html")
            .contains("核对的文件最大 32 MB")
    );
}
