//! Signed-in pages (issue 18, items 8 and 9) in a real browser — a person registering,
//! reading their record and report, granting and revoking an authorisation while the
//! grantee watches; agency staff having subjects verified and downloading the letter; a
//! source unit resolving an objection from its queue — and the page session's promises
//! checked over the wire: the cookie's flags, logout revoking the session, a login
//! sending the browser nowhere but this site.

use governance::identity::Role;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::browser::{all_pass, objected};
use crate::helpers::{PASSWORD, TestApp};
use crate::objections::enterprise_with_a_record;
use crate::persons::{register, two_persons};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persons_agencies_and_source_units_do_their_business_from_pages() {
    let _cores = crate::helpers::exclusive_cores().await;
    let app = TestApp::spawn_with(|settings| settings.public_rate.per_minute = 0).await;
    let persons = two_persons().await;
    // The grantee registered already; the person registers through the pages.
    let (status, body) = register(&app, "browser.grantee", &persons[1].1, &persons[1].2).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (subject, record) = enterprise_with_a_record(&app).await;
    let record_id = objected(&app, &subject, &record).await;
    let unit = record["source_unit"].as_str().expect("source_unit");
    app.user_in("browser.unit", Role::SourceUnit, None, Some(unit), None)
        .await;
    app.user_in(
        "browser.agency",
        Role::AgencyStaff,
        None,
        Some("某市发展和改革委员会"),
        None,
    )
    .await;
    let fixture = json!({
        "base_url": app.url(""),
        "password": PASSWORD,
        "person": { "name": persons[0].1, "id_number": persons[0].2, "username": "browser.person" },
        "grantee": { "name": persons[1].1, "username": "browser.grantee" },
        "agency": { "username": "browser.agency", "organisation": "某市发展和改革委员会" },
        "checked": { "name": subject["name"], "uscc": subject["uscc"] },
        "unit": { "username": "browser.unit", "name": unit },
        "objected": { "uscc": subject["uscc"], "record_id": record_id },
        "admin": { "username": "browser.admin" },
    });
    all_pass("browser/accounts.test.mjs", &fixture).await;
    // What the pages did is the platform's, audited as through the API.
    let (_, granted) = app
        .call(
            Method::GET,
            "/api/v1/me/authorisations",
            Some(&app.login("browser.grantee").await),
            None,
        )
        .await;
    let received = granted["received"].as_array().expect("received");
    assert_eq!(received.len(), 1, "{granted}");
    assert_eq!(received[0]["live"], false, "revoked from the page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_set_up_their_second_factor_from_the_pages_when_it_is_required() {
    let _cores = crate::helpers::exclusive_cores().await;
    let app = TestApp::spawn_with(|settings| {
        settings.public_rate.per_minute = 0;
        settings.second_factor.required = true;
    })
    .await;
    app.user_in(
        "browser.staff",
        Role::AgencyStaff,
        None,
        Some("某市市场监督管理局"),
        None,
    )
    .await;
    // Someone not made to have one, who sets one up from their session.
    app.user("browser.voluntary", Role::Applicant).await;
    let fixture = json!({
        "base_url": app.url(""),
        "password": PASSWORD,
        "username": "browser.staff",
        "voluntary": "browser.voluntary",
    });
    all_pass("browser/enrol.test.mjs", &fixture).await;
}

/// A browser's visit: its cookies (by name) and the form token of the last page read.
struct Visit {
    client: reqwest::Client,
    app_url: String,
    cookies: std::collections::BTreeMap<String, String>,
    token: String,
}

impl Visit {
    fn new(app: &TestApp) -> Visit {
        Visit {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            app_url: app.url(""),
            cookies: Default::default(),
            token: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps the cookies `response` sets (an emptied one is dropped); answers the
    /// `Set-Cookie` headers as sent.
    fn keep(&mut self, response: &reqwest::Response) -> Vec<String> {
        let set: Vec<String> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("cookie").to_owned())
            .collect();
        for line in &set {
            let pair = line.split(';').next().expect("pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        set
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String, reqwest::header::HeaderMap) {
        let response = self
            .client
            .get(format!("{}{path}", self.app_url))
            .header(header::COOKIE, self.cookie_header())
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .expect("page");
        self.keep(&response);
        let status = response.status();
        let headers = response.headers().clone();
        let html = response.text().await.expect("html");
        if let Some(token) = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        {
            token.clone_into(&mut self.token);
        }
        (status, html, headers)
    }

    async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Vec<String>, reqwest::header::HeaderMap) {
        let mut fields: Vec<(&str, &str)> = vec![("csrf", &self.token)];
        fields.extend_from_slice(form);
        let response = self
            .client
            .post(format!("{}{path}", self.app_url))
            .header(header::COOKIE, self.cookie_header())
            .form(&fields)
            .send()
            .await
            .expect("post");
        let set = self.keep(&response);
        (response.status(), set, response.headers().clone())
    }
}

#[tokio::test]
async fn a_page_session_is_an_httponly_strict_cookie_and_logging_out_revokes_it() {
    let app = TestApp::spawn_with(|settings| settings.public_rate.per_minute = 0).await;
    let persons = two_persons().await;
    app.user_in("site.person", Role::Person, None, None, Some(&persons[0].0))
        .await;
    let mut visit = Visit::new(&app);

    // A signed-in page without a session sends the browser to log in, and back.
    let (status, _, headers) = visit.get("/me/authorisations").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[header::LOCATION],
        "/login?next=%2Fme%2Fauthorisations"
    );

    // A login form without its token changes nothing.
    let refused = visit
        .client
        .post(app.url("/login"))
        .form(&[("username", "site.person"), ("password", PASSWORD)])
        .send()
        .await
        .expect("login");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(!refused.headers().contains_key(header::SET_COOKIE));

    // A wrong password is refused with the API's message, the login name kept.
    let (status, html, _) = visit.get("/login?next=%2Fme%2Fauthorisations").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("name=\"next\" value=\"/me/authorisations\""));
    let (status, set, _) = visit
        .post(
            "/login",
            &[
                ("username", "site.person"),
                ("password", "wrong password!!"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(set.iter().all(|c| !c.starts_with("cp_session=")), "{set:?}");

    // Logged in: the session is a cookie no script reads nor another site sends, and
    // the browser goes where it was going.
    let (status, set, headers) = visit
        .post(
            "/login",
            &[
                ("username", "site.person"),
                ("password", PASSWORD),
                ("next", "/me/authorisations"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/me/authorisations");
    let session = set
        .iter()
        .find(|c| c.starts_with("cp_session="))
        .expect("the session cookie");
    assert!(session.contains("; HttpOnly"), "{session}");
    assert!(session.contains("; SameSite=Strict"), "{session}");
    assert!(session.contains("; Path=/"), "{session}");
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    let token = visit.cookies["cp_session"].clone();
    let (status, html, _) = visit.get("/me").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("site.person"), "{html}");

    // The page session is no bearer token of the API's, and the API takes no cookie.
    let (status, _) = app
        .call(Method::GET, "/api/v1/me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "it is the platform's own session");
    let cookie_only = visit
        .client
        .get(app.url("/api/v1/me"))
        .header(header::COOKIE, format!("cp_session={token}"))
        .send()
        .await
        .expect("me");
    assert_eq!(cookie_only.status(), StatusCode::UNAUTHORIZED);

    // The password changed from a page, as through the API: every other session ends.
    let elsewhere = app.login("site.person").await;
    visit.get("/me/password").await;
    let new_password = "a new password of some length";
    for (form, field) in [
        (
            [
                ("current_password", PASSWORD),
                ("new_password", new_password),
                ("new_password_again", "something else entirely"),
            ],
            "new_password_again",
        ),
        (
            [
                ("current_password", "not the password at all"),
                ("new_password", new_password),
                ("new_password_again", new_password),
            ],
            "current_password",
        ),
        (
            [
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("new_password_again", "short"),
            ],
            "new_password",
        ),
    ] {
        let fields: Vec<(&str, &str)> = [("csrf", visit.token.as_str())]
            .into_iter()
            .chain(form)
            .collect();
        let response = visit
            .client
            .post(app.url("/me/password"))
            .header(header::COOKIE, visit.cookie_header())
            .form(&fields)
            .send()
            .await
            .expect("password");
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}"
        );
        let html = response.text().await.expect("html");
        assert!(
            html.contains(&format!("id=\"{field}-error\"")),
            "{field}: {html}"
        );
        assert!(
            !html.contains(new_password),
            "a password is never sent back"
        );
    }
    let (status, _) = app
        .call(Method::GET, "/api/v1/me", Some(&elsewhere), None)
        .await;
    assert_eq!(status, StatusCode::OK, "nothing changed yet");
    let (status, _, _) = visit
        .post(
            "/me/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", new_password),
                ("new_password_again", new_password),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(Method::GET, "/api/v1/me", Some(&elsewhere), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the other session ended");
    let (status, _, _) = visit.get("/me").await;
    assert_eq!(status, StatusCode::OK, "this one stays");
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(json!({ "username": "site.person", "password": new_password })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "the new password logs in");

    // Logging out revokes the session: the cookie kept elsewhere no longer works.
    let (status, set, headers) = visit.post("/logout", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/");
    assert!(
        set.iter()
            .any(|c| c.starts_with("cp_session=;") && c.contains("Max-Age=0")),
        "{set:?}"
    );
    let (status, _) = app
        .call(Method::GET, "/api/v1/me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    visit.cookies.insert("cp_session".into(), token);
    let (status, _, headers) = visit.get("/me").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login?next=%2Fme");

    // A login sends the browser nowhere but this site.
    visit.get("/login").await;
    for foreign in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let (status, _, headers) = visit
            .post(
                "/login",
                &[
                    ("username", "site.person"),
                    ("password", new_password),
                    ("next", foreign),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], "/me", "{foreign}");
    }
}

#[tokio::test]
async fn over_tls_the_session_and_form_cookies_are_secure() {
    let app = TestApp::spawn_with(|settings| {
        settings.public_rate.per_minute = 0;
        settings.public.base_url = "https://credit.example.gov.cn".into();
    })
    .await;
    let persons = two_persons().await;
    app.user_in("tls.person", Role::Person, None, None, Some(&persons[0].0))
        .await;
    let mut visit = Visit::new(&app);
    let response = visit
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("login page");
    let set = visit.keep(&response);
    let html = response.text().await.expect("html");
    visit.token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("token")
        .to_owned();
    assert!(
        set.iter()
            .any(|c| c.starts_with("cp_csrf=") && c.contains("; Secure")),
        "{set:?}"
    );
    let (status, set, _) = visit
        .post(
            "/login",
            &[("username", "tls.person"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        set.iter()
            .any(|c| c.starts_with("cp_session=") && c.contains("; Secure")),
        "{set:?}"
    );
}

#[tokio::test]
async fn a_persons_pages_keep_the_apis_rules() {
    // Q4: the page registers against the same register, refuses the same way, and shows
    // another person's record only under a live authorisation.
    let app = TestApp::spawn_with(|settings| settings.public_rate.per_minute = 0).await;
    let persons = two_persons().await;
    let mut visit = Visit::new(&app);
    visit.get("/register").await;
    let (status, _, _) = visit
        .post(
            "/register",
            &[
                ("name", "不是这个人"),
                ("id_number", &persons[0].2),
                ("username", "page.person"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(json!({ "username": "page.person", "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "nothing was registered");

    let (status, set, headers) = visit
        .post(
            "/register",
            &[
                ("name", &persons[0].1),
                ("id_number", &persons[0].2),
                ("username", "page.person"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/me");
    assert!(set.iter().any(|c| c.starts_with("cp_session=")));
    let (status, html, _) = visit.get(&format!("/persons/{}", persons[0].0)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&persons[0].1));
    // Masked as the API masks it.
    assert!(!html.contains(&persons[0].2), "the ID number is masked");

    // Another person's record is not there for them.
    let (status, html, _) = visit.get(&format!("/persons/{}", persons[1].0)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("须有本人的有效授权"), "{html}");
    let (status, _, _) = visit
        .post(&format!("/persons/{}/report", persons[1].0), &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A grant the API refuses is refused beside its field, what was typed kept.
    visit.get("/me/authorisations").await;
    let (status, _, _) = visit
        .post(
            "/me/authorisations",
            &[
                ("grantee", "nobody.here"),
                ("scope", "records"),
                ("purpose", "办理贷款"),
                ("days", "30"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, list) = app
        .call(
            Method::GET,
            "/api/v1/me/authorisations",
            Some(&visit.cookies["cp_session"].clone()),
            None,
        )
        .await;
    assert_eq!(list["granted"], Value::Array(vec![]), "nothing granted");
}

/// Every address a page's form posts to, as the site's routes declare them
/// (`gateway/src/site/*.rs`), each `{parameter}` as `x`.
fn posted_paths() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../gateway/src/site");
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the site's sources") {
        let source = std::fs::read_to_string(entry.expect("a file").path()).expect("text");
        for (at, _) in source.match_indices(".route(") {
            // The route's arguments, to its closing parenthesis.
            let rest = &source[at + ".route(".len()..];
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("a closed route");
            let route = &rest[..end];
            if !route.contains("post(") {
                continue;
            }
            let path = route.split('"').nth(1).expect("the route's path");
            let mut concrete = String::new();
            let mut in_parameter = false;
            for c in path.chars() {
                match c {
                    '{' => {
                        in_parameter = true;
                        concrete.push('x');
                    }
                    '}' => in_parameter = false,
                    c if !in_parameter => concrete.push(c),
                    _ => {}
                }
            }
            paths.push(concrete);
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

#[tokio::test]
async fn every_form_of_the_site_refuses_a_post_without_its_token() {
    // Issue 19: each form that changes something carries the CSRF token; one without it
    // is refused (403) whatever the form, signed in or not, and nothing is written.
    let app = TestApp::spawn_with(|settings| settings.public_rate.per_minute = 0).await;
    app.user("csrf.admin", Role::Administrator).await;
    let mut visit = Visit::new(&app);
    visit.get("/login").await;
    let (status, _, _) = visit
        .post(
            "/login",
            &[("username", "csrf.admin"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "signed in");
    let audited = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log")
            .fetch_one(app.store.pool())
            .await
            .expect("the audit log")
    };
    let before = audited().await;
    let paths = posted_paths();
    assert!(paths.len() >= 50, "the site's forms: {paths:?}");
    assert!(paths.contains(&"/console/institutions/x/quotas".to_owned()));
    assert!(paths.contains(&"/console/releases/trace".to_owned()));
    let boundary = "----creditpool-form";
    for path in &paths {
        // A form as a browser posts it, every field but the token.
        let plain = visit
            .client
            .post(app.url(path))
            .header(header::COOKIE, visit.cookie_header())
            .form(&[
                ("reason", "a reason long enough"),
                ("confirm", "yes"),
                ("name", "sneaked"),
            ])
            .send()
            .await
            .expect("post");
        let mut status = plain.status();
        if status == StatusCode::BAD_REQUEST || status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            // An upload form reads multipart: the same, with a file.
            let body = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nsneaked\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.csv\"\r\n\
                 Content-Type: text/csv\r\n\r\na,b\n1,2\n\r\n--{boundary}--\r\n"
            );
            status = visit
                .client
                .post(app.url(path))
                .header(header::COOKIE, visit.cookie_header())
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .expect("post")
                .status();
        }
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "POST {path} without its token"
        );
    }
    assert_eq!(audited().await, before, "nothing was written");
}
