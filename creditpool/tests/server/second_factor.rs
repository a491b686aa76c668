//! Issue 15, item 5: two factors for staff (TOTP, RFC 6238, with recovery codes), on by
//! default; GB/T 22239 level 3 asks two kinds of authentication of administrators.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use governance::identity::Role;
use governance::second_factor::{STEP_SECONDS, code_at, from_base32};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error};

/// An authenticator app for one secret: each code it gives is of a later time step than
/// the last, as the server takes no code twice.
struct Authenticator {
    secret: Vec<u8>,
    last: u64,
}

impl Authenticator {
    fn new(secret: &str) -> Authenticator {
        Authenticator {
            secret: from_base32(secret).expect("base32"),
            last: 0,
        }
    }

    /// A code the server accepts now: of the current step (or the next, which it also
    /// takes), never within a second of a step's end.
    async fn code(&mut self) -> String {
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("time")
                .as_secs_f64();
            let into_step = now % STEP_SECONDS as f64;
            if into_step > STEP_SECONDS as f64 - 1.5 {
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            let current = (now / STEP_SECONDS as f64) as u64;
            let step = current.max(self.last + 1);
            if step <= current + 1 {
                self.last = step;
                return format!("{:06}", code_at(&self.secret, step));
            }
            tokio::time::sleep(Duration::from_secs_f64(
                STEP_SECONDS as f64 - into_step + 0.2,
            ))
            .await;
        }
    }

    /// The `n`th six digits that are no code the server would take around now.
    fn wrong(&self, n: usize) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("time")
            .as_secs()
            / STEP_SECONDS as u64;
        let near: Vec<u32> = (now.saturating_sub(2)..=now + 2)
            .map(|step| code_at(&self.secret, step))
            .collect();
        let wrong = (0..1_000_000u32)
            .map(|i| i * 111_111 % 1_000_000)
            .filter(|c| !near.contains(c))
            .nth(n)
            .expect("a wrong code");
        format!("{wrong:06}")
    }

    /// A code of a step the server no longer takes.
    fn stale(&self) -> String {
        format!("{:06}", code_at(&self.secret, self.last.saturating_sub(3)))
    }
}

async fn login(app: &TestApp, username: &str, code: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({ "username": username, "password": PASSWORD });
    if let Some(code) = code {
        body["one_time_code"] = json!(code);
    }
    app.call(Method::POST, "/api/v1/sessions", None, Some(body))
        .await
}

/// Enrols `username` as staff without a second factor would (by username and
/// password): the secret from the enrolment, then a login with one of its codes;
/// returns the authenticator and the recovery codes.
async fn enrol(app: &TestApp, username: &str) -> (Authenticator, Vec<String>) {
    let (status, enrolment) = app
        .call(
            Method::POST,
            "/api/v1/sessions/second-factor",
            None,
            Some(json!({ "username": username, "password": PASSWORD })),
        )
        .await;
    confirm(app, username, status, enrolment).await
}

/// Enrols `username` from a session of theirs, as anyone else would.
async fn enrol_from_session(app: &TestApp, username: &str) -> (Authenticator, Vec<String>) {
    let token = app.login(username).await;
    let (status, enrolment) = app
        .call(Method::POST, "/api/v1/me/second-factor", Some(&token), None)
        .await;
    confirm(app, username, status, enrolment).await
}

async fn confirm(
    app: &TestApp,
    username: &str,
    status: StatusCode,
    enrolment: Value,
) -> (Authenticator, Vec<String>) {
    assert_eq!(status, StatusCode::CREATED, "{enrolment}");
    let secret = enrolment["secret"].as_str().expect("secret");
    let uri = enrolment["otpauth_uri"].as_str().expect("uri");
    assert!(
        uri.starts_with(&format!(
            "otpauth://totp/creditpool:{username}?secret={secret}&"
        )),
        "{uri}"
    );
    assert_eq!(enrolment["digits"], 6);
    assert_eq!(enrolment["period_seconds"], 30);
    let mut app_on_phone = Authenticator::new(secret);
    let code = app_on_phone.code().await;
    let (status, body) = login(app, username, Some(&code)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .expect("recovery codes at enrolment")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    (app_on_phone, codes)
}

#[tokio::test]
async fn staff_enrol_then_log_in_with_a_code_never_the_same_one_twice() {
    // Issue 15: staff must have a second factor when the platform requires it (the
    // server's default); enrolment is confirmed by a login with one of its codes.
    let app = TestApp::spawn_with(|s| s.second_factor.required = true).await;
    let reviewer = app.user("reviewer.he", Role::Reviewer).await;

    let (status, body) = login(&app, "reviewer.he", None).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "second_factor_enrolment_required",
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("POST /api/v1/sessions/second-factor")),
        "{body}"
    );
    // Enrolment needs the password, counted like a login.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/sessions/second-factor",
            None,
            Some(json!({ "username": "reviewer.he", "password": "not the password" })),
        )
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");

    let (mut phone, recovery) = enrol(&app, "reviewer.he").await;
    assert_eq!(recovery.len(), 10);
    assert!(
        recovery
            .iter()
            .all(|c| c.len() == 14 && c.matches('-').count() == 2),
        "{recovery:?}"
    );
    let actions = app.audit_actions(&reviewer).await;
    for action in ["second_factor.enrolment_started", "second_factor.enrolled"] {
        assert!(actions.iter().any(|a| a == action), "{actions:?}");
    }
    // The password alone no longer opens a session.
    let (status, body) = login(&app, "reviewer.he", None).await;
    assert_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "second_factor_required",
    );
    // A wrong code, an old one, and a code used already are refused.
    let (status, body) = login(&app, "reviewer.he", Some(&phone.wrong(0))).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "bad_second_factor");
    let (status, body) = login(&app, "reviewer.he", Some(&phone.stale())).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "bad_second_factor");
    let code = phone.code().await;
    let (status, body) = login(&app, "reviewer.he", Some(&code)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.get("recovery_codes").is_none(), "shown once: {body}");
    let (status, body) = login(&app, "reviewer.he", Some(&code)).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "bad_second_factor");
    // A second enrolment is refused while one is confirmed.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/sessions/second-factor",
            None,
            Some(json!({ "username": "reviewer.he", "password": PASSWORD })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "second_factor_enrolled",
    );
    // The failed codes were audited as failed logins.
    let failed = app
        .audit_actions(&reviewer)
        .await
        .iter()
        .filter(|a| *a == "session.login_failed")
        .count();
    assert!(failed >= 3, "{failed}");
}

#[tokio::test]
async fn recovery_codes_log_in_once_each_and_can_be_renewed() {
    let app = TestApp::spawn_with(|s| s.second_factor.required = true).await;
    let admin = app.user("admin.qian", Role::Administrator).await;
    let (mut phone, recovery) = enrol(&app, "admin.qian").await;

    // Written in capitals and without hyphens, as people copy them, it still works.
    let typed = recovery[0].to_uppercase().replace('-', "");
    let (status, body) = login(&app, "admin.qian", Some(&typed)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().expect("token").to_owned();
    let (status, body) = login(&app, "admin.qian", Some(&recovery[0])).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "bad_second_factor");
    assert!(
        app.audit_actions(&admin)
            .await
            .iter()
            .any(|a| a == "second_factor.recovery_code_used")
    );

    // Renewal needs a code of the app, not a recovery code.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/me/recovery-codes",
            Some(&token),
            Some(json!({ "one_time_code": recovery[1] })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/me/recovery-codes",
            Some(&token),
            Some(json!({ "one_time_code": phone.wrong(0) })),
        )
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "bad_second_factor");
    let code = phone.code().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/me/recovery-codes",
            Some(&token),
            Some(json!({ "one_time_code": code })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let renewed = body["recovery_codes"].as_array().expect("codes");
    assert_eq!(renewed.len(), 10);
    // The old codes stop working; a new one works.
    let (status, body) = login(&app, "admin.qian", Some(&recovery[2])).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "bad_second_factor");
    let (status, body) = login(&app, "admin.qian", renewed[0].as_str()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        app.audit_actions(&admin)
            .await
            .iter()
            .any(|a| a == "second_factor.recovery_codes_renewed")
    );
    // Guessing the app's code through renewal counts as failed logins, and once the
    // address is locked even the right code waits.
    let token = body["token"].as_str().expect("token").to_owned();
    let renew = |code: String| {
        let (app, token) = (&app, &token);
        async move {
            app.call(
                Method::POST,
                "/api/v1/me/recovery-codes",
                Some(token),
                Some(json!({ "one_time_code": code })),
            )
            .await
        }
    };
    for n in 1..5 {
        let (status, body) = renew(phone.wrong(n)).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "bad_second_factor");
    }
    let (status, body) = renew(phone.wrong(5)).await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
    );
    let code = phone.code().await;
    let (status, body) = renew(code).await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
    );
}

#[tokio::test]
async fn wrong_codes_count_as_failed_logins_and_lock_the_address() {
    // A password known to an attacker does not give them a million guesses at the code.
    let app = TestApp::spawn_with(|s| s.second_factor.required = true).await;
    app.user_in(
        "source.zhao",
        Role::SourceUnit,
        None,
        Some("浙江省市场监督管理局"),
        None,
    )
    .await;
    let (mut phone, _) = enrol(&app, "source.zhao").await;
    let mut last = (StatusCode::OK, Value::Null);
    for n in 0..5 {
        last = login(&app, "source.zhao", Some(&phone.wrong(n))).await;
    }
    assert_error(
        last.0,
        &last.1,
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
    );
    // Locked even with the right code, until the delay passes.
    let code = phone.code().await;
    let (status, body) = login(&app, "source.zhao", Some(&code)).await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
    );
}

#[tokio::test]
async fn an_administrator_resets_a_lost_second_factor_and_the_user_enrols_again() {
    let app = TestApp::spawn_with(|s| s.second_factor.required = true).await;
    app.user("admin.sun", Role::Administrator).await;
    let agency = app
        .user_in(
            "agency.wu",
            Role::AgencyStaff,
            None,
            Some("杭州市发展和改革委员会"),
            None,
        )
        .await;
    let (mut admin_phone, _) = enrol(&app, "admin.sun").await;
    enrol(&app, "agency.wu").await;
    let code = admin_phone.code().await;
    let (status, body) = login(&app, "admin.sun", Some(&code)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let admin = body["token"].as_str().expect("token").to_owned();

    let reset = format!("/api/v1/users/{agency}/reset-second-factor");
    let (status, body) = app
        .call(
            Method::POST,
            &reset,
            Some(&admin),
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let (status, body) = app
        .call(
            Method::POST,
            &reset,
            Some(&admin),
            Some(json!({ "reason": "phone lost, ticket 42" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        app.audit_actions(&agency)
            .await
            .iter()
            .any(|a| a == "user.second_factor_reset")
    );
    // Nothing left to reset.
    let (status, body) = app
        .call(
            Method::POST,
            &reset,
            Some(&admin),
            Some(json!({ "reason": "phone lost, ticket 42" })),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    let (status, body) = login(&app, "agency.wu", None).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "second_factor_enrolment_required",
    );
    enrol(&app, "agency.wu").await;

    // Only administrators reset.
    let applicant = app.user("applicant.ma", Role::Applicant).await;
    let token = app.login("applicant.ma").await;
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{applicant}/reset-second-factor"),
            Some(&token),
            Some(json!({ "reason": "I lost it myself" })),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn others_log_in_with_a_password_unless_they_enrolled_and_a_switch_turns_staff_codes_off() {
    let app = TestApp::spawn_with(|s| s.second_factor.required = true).await;
    // Institution users and applicants are not staff: a password suffices...
    app.user("applicant.lin", Role::Applicant).await;
    app.login("applicant.lin").await;
    // ...until they enrol of their own accord, from a session: a password alone does
    // not enrol them (whoever knew it could lock them out with a factor of their own).
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/sessions/second-factor",
            None,
            Some(json!({ "username": "applicant.lin", "password": PASSWORD })),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "enrol_from_session");
    let (mut phone, _) = enrol_from_session(&app, "applicant.lin").await;
    let (status, body) = login(&app, "applicant.lin", None).await;
    assert_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "second_factor_required",
    );
    let code = phone.code().await;
    let (status, body) = login(&app, "applicant.lin", Some(&code)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // With the switch off (the demo), staff need not enrol and log in with a
    // password; one who enrolled all the same gives codes, the switch notwithstanding.
    let off = TestApp::spawn().await;
    off.user("reviewer.off", Role::Reviewer).await;
    off.login("reviewer.off").await;
    let (mut phone, _) = enrol_from_session(&off, "reviewer.off").await;
    let (status, body) = login(&off, "reviewer.off", None).await;
    assert_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "second_factor_required",
    );
    let (status, body) = login(&off, "reviewer.off", Some(&phone.wrong(0))).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "bad_second_factor");
    let code = phone.code().await;
    let (status, body) = login(&off, "reviewer.off", Some(&code)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
