//! The public search (BRIEF Q4) over a real listener, without logging in.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, assert_error};

#[tokio::test]
async fn anyone_finds_an_enterprise_by_code_or_by_part_of_its_name() {
    let app = TestApp::spawn().await;
    let some = app.search_sample().await;

    // By code, as people type it: full-width, lower case.
    let typed: String = some["uscc"]
        .as_str()
        .expect("uscc")
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects?q={typed}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["match"], "code");
    assert_eq!(body["items"][0]["name"], some["name"]);
    assert!(body["warning"].is_null(), "{body}");

    // A code with a wrong check character is looked up all the same, with a warning.
    let mut wrong = some["uscc"].as_str().expect("uscc").to_owned();
    let last = wrong.pop().expect("char");
    wrong.push(if last == '0' { '1' } else { '0' });
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects?q={wrong}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 0);
    assert!(
        body["warning"].as_str().is_some_and(|w| !w.is_empty()),
        "{body}"
    );

    // By part of the name, paged with the cursor.
    let name = some["name"].as_str().expect("name");
    let part: String = name.chars().skip(2).take(3).collect();
    let (status, first) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects?q={part}&limit=1"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["match"], "name");
    assert!(first["total"].as_u64().is_some_and(|n| n >= 1));
    let mut seen = vec![first["items"][0]["uscc"].clone()];
    let mut cursor = first["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let (_, next) = app
            .call(
                Method::GET,
                &format!("/api/v1/public/subjects?q={part}&limit=1&cursor={c}"),
                None,
                None,
            )
            .await;
        seen.push(next["items"][0]["uscc"].clone());
        cursor = next["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len() as u64, first["total"].as_u64().expect("total"));
    assert!(seen.contains(&some["uscc"]));

    // One subject by code; unknown codes and bad parameters are clear errors.
    let (status, one) = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/public/subjects/{}",
                some["uscc"].as_str().expect("uscc")
            ),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["name"], some["name"]);
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/public/subjects/91330000000000000X",
            None,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/public/subjects?q=%E5%85%AC%E5%8F%B8&limit=500",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let long = "x".repeat(101);
    for bad in [
        "q=%20%20",
        "q=x&limit=0",
        // The limit of every list of the API (issue 17: the public search stopped at
        // 100 while its description said 500).
        "q=x&limit=501",
        "q=x&cursor=abc",
        // A cursor is the next_cursor given, never a number typed in.
        "q=x&cursor=20",
        &format!("q={long}"),
    ] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/public/subjects?{bad}"),
                None,
                None,
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
    }
}

#[tokio::test]
async fn anyone_sees_an_enterprises_disclosed_records_by_section() {
    let app = TestApp::spawn().await;
    let some = app.search_sample().await;
    let uscc = some["uscc"].as_str().expect("uscc");
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/subjects/{uscc}/records"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subject"]["uscc"], uscc);
    let sections = body["sections"].as_array().expect("sections");
    assert_eq!(sections.len(), 14);
    // Its registration is always there; internal columns never are.
    let registration = sections
        .iter()
        .find(|s| s["table"] == "enterprises")
        .expect("registration");
    assert_eq!(registration["count"], 1);
    assert_eq!(registration["records"][0]["uscc"], uscc);
    let text = body.to_string();
    assert!(!text.contains("\"subject_type\"") && !text.contains("\"withdrawn_date\""));
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/public/subjects/91330000000000000X/records",
            None,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_report_is_issued_archived_and_verified_by_its_code() {
    let app = TestApp::spawn().await;
    let some = app.search_sample().await;
    let uscc = some["uscc"].as_str().expect("uscc");
    let (status, report) = app
        .call(
            Method::POST,
            &format!("/api/v1/public/subjects/{uscc}/reports"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["sections"].as_array().map(Vec::len), Some(12));
    assert_eq!(report["cover"]["uscc"], uscc);
    let number = report["cover"]["report_number"]
        .as_str()
        .expect("number")
        .to_owned();
    assert_eq!(number.len(), 18);
    assert!(number.bytes().all(|b| b.is_ascii_digit()));
    let code = report["cover"]["verification_code"]
        .as_str()
        .expect("code")
        .to_owned();

    let verify = |number: String, code: String| {
        let app = &app;
        async move {
            let (status, body) = app
                .call(
                    Method::GET,
                    &format!("/api/v1/public/reports/verify?number={number}&code={code}"),
                    None,
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let ok = verify(number.clone(), code.clone()).await;
    assert_eq!(ok["valid"], true, "{ok}");
    assert_eq!(ok["uscc"], uscc);
    let mut wrong = code.clone();
    let last = wrong.pop().expect("char");
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(verify(number.clone(), wrong).await["valid"], false);
    assert_eq!(
        verify("202601010000000000".into(), code.clone()).await["valid"],
        false
    );

    // The archive holds the report with the hash the code covers.
    let (hash, content): (String, Vec<u8>) =
        sqlx::query_as("SELECT content_sha256, content FROM issued_reports WHERE number = ?")
            .bind(&number)
            .fetch_one(app.store.pool())
            .await
            .expect("archived");
    let archived: serde_json::Value = serde_json::from_slice(&content).expect("json");
    assert_eq!(archived, report);
    assert_eq!(
        hash,
        platform::store::sha256_hex(&public::report::canonical(&archived))
    );
    assert_eq!(app.audit_actions(&number).await, ["report.issued"]);
    // A malformed query string is a JSON error like every other.
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/public/reports/verify?number=1",
            None,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/public/subjects?q=x&colour=red",
            None,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
}

/// Issues a report document over HTTP; returns the status, the headers and the bytes.
pub async fn issue_document(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app.client.post(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.bytes().await.expect("body").to_vec(),
    )
}

/// The text of each page of a PDF, as a reader program extracts it.
pub fn pdf_pages(pdf: &[u8]) -> Vec<String> {
    let document = lopdf::Document::load_mem(pdf).expect("a PDF");
    document
        .get_pages()
        .keys()
        .map(|n| document.extract_text(&[*n]).expect("page text"))
        .collect()
}

async fn check_document(app: &TestApp, number: &str, document: Vec<u8>) -> serde_json::Value {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/public/reports/{number}/document-check")))
        .body(document)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

#[tokio::test]
async fn a_pdf_report_is_issued_watermarked_verified_and_fails_after_any_change() {
    let app = TestApp::spawn().await;
    let some = app.search_sample().await;
    let uscc = some["uscc"].as_str().expect("uscc");
    let (status, headers, pdf) = issue_document(
        &app,
        &format!("/api/v1/public/subjects/{uscc}/reports?format=pdf&requester=王五"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(
        headers["content-disposition"]
            .to_str()
            .is_ok_and(|d| d.starts_with("attachment"))
    );
    let number = headers["x-report-number"]
        .to_str()
        .expect("number")
        .to_owned();
    let code = headers["x-verification-code"]
        .to_str()
        .expect("code")
        .to_owned();

    // Read back: every cover field, the twelve sections, the watermark on every page.
    let pages = pdf_pages(&pdf);
    let all = pages.concat();
    for text in [
        "法人和非法人组织公共信用信息报告",
        some["name"].as_str().expect("name"),
        uscc,
        "浙江省公共信用信息平台",
        &number,
        &code,
        "报告生成时间",
        "报告版本",
    ] {
        assert!(pages[0].contains(text), "cover has {text}");
    }
    for (title, _) in public::report::SECTIONS {
        assert!(all.contains(title), "{title}");
    }
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains("王五"),
            "watermark names the requester on page {}",
            i + 1
        );
        assert!(page.contains("查询"), "page {}", i + 1);
    }

    // The code read from the PDF verifies; the document is the one issued, byte for
    // byte; any changed byte fails.
    let (_, verified) = app
        .call(
            Method::GET,
            &format!("/api/v1/public/reports/verify?number={number}&code={code}"),
            None,
            None,
        )
        .await;
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(
        check_document(&app, &number, pdf.clone()).await["valid"],
        true
    );
    for at in [0, pdf.len() / 3, pdf.len() / 2, pdf.len() - 1] {
        let mut changed = pdf.clone();
        changed[at] ^= 0x01;
        let body = check_document(&app, &number, changed).await;
        assert_eq!(body["valid"], false, "byte {at} changed");
    }
    // A body larger than any report is refused before it is read whole.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/public/reports/{number}/document-check")))
        .body(vec![0u8; 32 * 1024 * 1024 + 1])
        .send()
        .await
        .expect("answer");
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("a JSON error");
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    let (format, requester): (String, String) =
        sqlx::query_as("SELECT format, requester FROM issued_reports WHERE number = ?")
            .bind(&number)
            .fetch_one(app.store.pool())
            .await
            .expect("archived");
    assert_eq!((format.as_str(), requester.as_str()), ("pdf", "王五"));

    // The printable page: self-contained, no script allowed, watermark and QR code.
    let (status, headers, html) = issue_document(
        &app,
        &format!("/api/v1/public/subjects/{uscc}/reports?format=html"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        headers["content-security-policy"]
            .to_str()
            .is_ok_and(|c| c.contains("default-src 'none'"))
    );
    let html = String::from_utf8(html).expect("utf-8");
    assert!(html.contains("社会公众"), "the default requester");
    assert!(html.contains("<svg"));

    // Bad requests are refused by name.
    for (query, code) in [
        ("format=docx", "invalid_query"),
        ("requester=%07bell", "invalid_field"),
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/api/v1/public/subjects/{uscc}/reports?{query}"),
                None,
                None,
            )
            .await;
        let expected = if code == "invalid_query" {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        assert_error(status, &body, expected, code);
    }
}

#[tokio::test]
async fn without_the_font_pdf_is_refused_clearly_and_json_still_works() {
    let app = TestApp::spawn_with(|s| s.public.font = "/nonexistent/font.ttc".into()).await;
    let some = app.search_sample().await;
    let uscc = some["uscc"].as_str().expect("uscc");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/public/subjects/{uscc}/reports?format=pdf"),
            None,
            None,
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "pdf_unavailable",
    );
    let issued: i64 = sqlx::query_scalar("SELECT count(*) FROM issued_reports")
        .fetch_one(app.store.pool())
        .await
        .expect("count");
    assert_eq!(issued, 0, "nothing issued or numbered");
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/public/subjects/{uscc}/reports"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

/// Every item of a paged public list.
async fn all_pages(app: &TestApp, path: &str) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=100&cursor={c}"),
            None => format!("{path}{sep}limit=100"),
        };
        let (status, body) = app.call(Method::GET, &url, None, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        items.extend(body["items"].as_array().cloned().unwrap_or_default());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

#[tokio::test]
async fn special_and_sector_queries_list_enterprises_as_the_disclosure_rules_say() {
    let app = TestApp::spawn().await;
    // Q4: the black list today; each listed enterprise's own records agree.
    let black = all_pages(&app, "/api/v1/public/special/black_list").await;
    assert!(!black.is_empty(), "the sample data has listed enterprises");
    for listed in black.iter().take(5) {
        let uscc = listed["uscc"].as_str().expect("uscc");
        let (_, records) = app
            .call(
                Method::GET,
                &format!("/api/v1/public/subjects/{uscc}/records"),
                None,
                None,
            )
            .await;
        let section = records["sections"]
            .as_array()
            .expect("sections")
            .iter()
            .find(|s| s["table"] == "dishonesty_list")
            .expect("section");
        let shown: Vec<&serde_json::Value> = section["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter(|r| r["record_id"] == listed["listing"]["record_id"])
            .collect();
        assert_eq!(
            shown.len(),
            1,
            "{uscc}'s listing is disclosed on its own page too"
        );
    }
    // Filtering by name keeps only names containing the query.
    let name = black[0]["name"].as_str().expect("name");
    let part: String = name.chars().skip(2).take(2).collect();
    let filtered = all_pages(&app, &format!("/api/v1/public/special/black_list?q={part}")).await;
    assert!(filtered.iter().any(|i| i["name"] == name));
    assert!(
        filtered
            .iter()
            .all(|i| i["name"].as_str().is_some_and(|n| n.contains(&part)))
    );
    // Qualifications: valid certificates whose name contains the query.
    let qualified = all_pages(&app, "/api/v1/public/special/qualifications").await;
    let first = qualified.first().expect("organisations hold certificates");
    let q = first["qualification"]["qualification_name"]
        .as_str()
        .expect("name");
    let some = all_pages(
        &app,
        &format!("/api/v1/public/special/qualifications?q={q}"),
    )
    .await;
    assert!(!some.is_empty());
    assert!(some.iter().all(|i| {
        i["qualification"]["qualification_name"]
            .as_str()
            .is_some_and(|n| n.contains(q))
    }));
    let (status, body) = app
        .call(Method::GET, "/api/v1/public/special/grey_list", None, None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // Sectors: by name or by industry code, with each enterprise's lists.
    let (_, sectors) = app
        .call(Method::GET, "/api/v1/public/sectors", None, None)
        .await;
    assert!(
        sectors["items"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["id"] == "elderly_care"))
    );
    let housekeeping = all_pages(&app, "/api/v1/public/sectors/housekeeping").await;
    assert!(!housekeeping.is_empty());
    assert!(housekeeping.iter().all(|e| {
        e["industry_code"]
            .as_str()
            .is_some_and(|c| c.starts_with("O801"))
    }));
    let by_code = all_pages(&app, "/api/v1/public/sectors/O801").await;
    assert_eq!(by_code.len(), housekeeping.len());
    let black_codes: std::collections::HashSet<&str> =
        black.iter().filter_map(|b| b["uscc"].as_str()).collect();
    for e in &housekeeping {
        let uscc = e["uscc"].as_str().expect("uscc");
        assert_eq!(
            e["lists"]["black_list"],
            black_codes.contains(uscc),
            "{uscc}"
        );
    }
    for bad in ["ZZ9", "O8010123", "家政"] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/v1/public/sectors/{bad}"),
                None,
                None,
            )
            .await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
}
