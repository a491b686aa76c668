//! The working-day calendar as operational data (BRIEF Q8, Q9): a filing whose deadline
//! runs into a year without data is accepted with a provisional deadline, and the year
//! is added by an administrator, over the API or the command line, without a rebuild.
//!
//! The gateways here start from an empty base calendar, so that every deadline is
//! provisional whatever today's date, and the years added are made for today's year.

use std::process::Command;

use chrono::{Datelike, Duration, NaiveDate};
use desk::calendar::Calendars;
use governance::identity::Role;
use platform::store::china_today;
use policies::calendar::{Calendar, YearNotice};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error};

fn empty() -> Calendar {
    Calendar::parse("years = []").expect("an empty calendar")
}

/// A notice for `year`: New Year's Day off, and the three days after `today` that fall
/// in `year` (so that the recounted deadline differs from the weekday count).
fn notice(year: i32, today: NaiveDate) -> YearNotice {
    let mut holidays = vec![format!("{year}-01-01")];
    for ahead in 1..=3 {
        let day = today + Duration::days(ahead);
        if day.year() == year && !(day.month() == 1 && day.day() == 1) {
            holidays.push(day.to_string());
        }
    }
    YearNotice {
        year,
        source: format!("国务院办公厅关于{year}年部分节假日安排的通知（测试）"),
        holidays,
        working_weekends: Vec::new(),
    }
}

fn ticket() -> Value {
    json!({
        "kind": "consultation",
        "category": "information_query",
        "name": "李四",
        "contact": "13812345678",
        "content": "请问如何查询本企业的信用报告？",
    })
}

async fn calendar_audit(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log WHERE action LIKE 'calendar.%' ORDER BY seq")
        .fetch_all(app.store.pool())
        .await
        .expect("the audit log reads")
}

#[tokio::test]
async fn a_deadline_past_the_calendar_is_provisional_until_an_administrator_adds_the_year() {
    let app = TestApp::spawn_with(|s| s.calendar = empty()).await;
    let today = china_today();
    let year = today.year();

    // Q9: filed all the same, due on the fifth weekday, said to be provisional.
    let (status, filed) = app
        .call(Method::POST, "/api/v1/public/tickets", None, Some(ticket()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let weekdays = empty().deadline(today, 5);
    assert!(weekdays.provisional);
    assert_eq!(filed["due_on"], weekdays.day.to_string());
    assert_eq!(filed["due_provisional"], true);
    let message = filed["message"].as_str().expect("message");
    assert!(message.contains("provisional"), "{message}");
    let follow = format!(
        "/api/v1/public/tickets/{}?token={}",
        filed["number"].as_str().expect("number"),
        filed["token"].as_str().expect("token")
    );

    // Anyone can see which year is missing; administrators are warned in the quality
    // view and in /metrics.
    let (status, listing) = app
        .call(Method::GET, "/api/v1/calendar/years", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    assert_eq!(listing["items"], json!([]));
    assert_eq!(listing["missing_year"], year);
    app.user("admin", Role::Administrator).await;
    let admin = app.login("admin").await;
    let (_, quality) = app
        .call(Method::GET, "/api/v1/quality", Some(&admin), None)
        .await;
    assert_eq!(quality["calendar"]["missing_year"], year, "{quality}");
    assert!(
        quality["calendar"]["warning"]
            .as_str()
            .is_some_and(|w| w.contains("provisional") && w.contains("calendar add")),
        "{quality}"
    );
    assert_eq!(quality["tickets"]["provisional"], 1, "{quality}");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(&format!("creditpool_calendar_missing_year {year}\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains("creditpool_deadlines_provisional 1\n"),
        "{metrics}"
    );

    // Q8: an objection accepted now is due 5 working days from its acceptance, counted
    // on weekdays while the year has no data, and recounted with the tickets.
    let (subject, record) = crate::objections::enterprise_with_a_record(&app).await;
    let (status, objection) = app
        .call(
            Method::POST,
            "/api/v1/objections",
            Some(&admin),
            Some(crate::objections::filing(&subject, &record)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{objection}");
    assert_eq!(objection["due_on"], weekdays.day.to_string());
    assert_eq!(objection["due_provisional"], true);
    let objection_path = format!(
        "/api/v1/objections/{}",
        objection["id"].as_str().expect("id")
    );

    // Hostile and malformed additions are refused, each naming what is wrong, and change
    // nothing.
    app.user("reviewer", Role::Reviewer).await;
    let reviewer = app.login("reviewer").await;
    let good = serde_json::to_value(notice(year, today)).expect("json");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/calendar/years",
            Some(&reviewer),
            Some(good.clone()),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/calendar/years",
            None,
            Some(good.clone()),
        )
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let mut without_new_year = good.clone();
    without_new_year["holidays"] = json!([]);
    let mut weekday_worked = good.clone();
    weekday_worked["working_weekends"] = json!([format!("{year}-01-01")]);
    let mut other_year = good.clone();
    other_year["holidays"] = json!([format!("{year}-01-01"), format!("{}-01-01", year + 1)]);
    let mut not_a_date = good.clone();
    not_a_date["holidays"] = json!([format!("{year}-01-01"), format!("{year}-02-30")]);
    let mut nameless = good.clone();
    nameless["source"] = json!(" ");
    for (bad, field) in [
        (without_new_year, "holidays"),
        (weekday_worked, "working_weekends"),
        (other_year, "holidays"),
        (not_a_date, "holidays"),
        (nameless, "source"),
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/calendar/years",
                Some(&admin),
                Some(bad.clone()),
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        assert_eq!(body["error"]["field"], field, "{bad}: {body}");
    }
    let mut unknown = good.clone();
    unknown["approved"] = json!(true);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/calendar/years",
            Some(&admin),
            Some(unknown),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, listing) = app
        .call(Method::GET, "/api/v1/calendar/years", None, None)
        .await;
    assert_eq!(listing["items"], json!([]));
    let (_, still) = app.call(Method::GET, &follow, None, None).await;
    assert_eq!(still["due_provisional"], true, "{still}");
    assert!(calendar_audit(&app).await.is_empty());

    // This year and the next added: the deadline is recounted on them, audited, final.
    let mut expected = empty();
    for y in [year, year + 1] {
        let (status, added) = app
            .call(
                Method::POST,
                "/api/v1/calendar/years",
                Some(&admin),
                Some(serde_json::to_value(notice(y, today)).expect("json")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{added}");
        assert_eq!(added["year"]["year"], y);
        assert_eq!(added["year"]["origin"], "added");
        expected = expected.with_year(notice(y, today)).expect("valid");
    }
    let final_deadline = expected.deadline(today, 5);
    assert!(!final_deadline.provisional);
    assert_ne!(
        final_deadline.day, weekdays.day,
        "the notice moved the deadline"
    );
    let (_, recounted) = app.call(Method::GET, &follow, None, None).await;
    assert_eq!(recounted["due_on"], final_deadline.day.to_string());
    assert_eq!(recounted["due_provisional"], false);
    let (_, recounted) = app
        .call(Method::GET, &objection_path, Some(&admin), None)
        .await;
    assert_eq!(recounted["due_on"], final_deadline.day.to_string());
    assert_eq!(recounted["due_provisional"], false);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/calendar/years",
            Some(&admin),
            Some(good),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "calendar_year_exists");
    let actions = calendar_audit(&app).await;
    assert_eq!(actions[0], "calendar.year_added");
    assert!(actions.contains(&"calendar.deadlines_recounted".to_owned()));
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "calendar.year_added")
            .count(),
        2
    );

    // New filings count on the added years at once; the warning is gone.
    let (_, second) = app
        .call(Method::POST, "/api/v1/public/tickets", None, Some(ticket()))
        .await;
    assert_eq!(second["due_on"], final_deadline.day.to_string());
    assert_eq!(second["due_provisional"], false);
    let (_, listing) = app
        .call(Method::GET, "/api/v1/calendar/years", None, None)
        .await;
    assert_eq!(listing["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(listing["missing_year"], Value::Null);
    assert!(matches!(
        storage::audit::verify(&app.store).await.expect("verify"),
        storage::audit::Verdict::Intact { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_added_from_the_command_line_recounts_open_deadlines_without_a_restart() {
    let app = TestApp::spawn_with(|s| s.calendar = empty()).await;
    let today = china_today();
    let (_, filed) = app
        .call(Method::POST, "/api/v1/public/tickets", None, Some(ticket()))
        .await;
    assert_eq!(filed["due_provisional"], true, "{filed}");

    // The administrator's file, in the form of the shipped calendar.
    let file = app.dir.path().join("notice.toml");
    let toml_of = |n: &YearNotice| {
        format!(
            "[[years]]\nyear = {}\nsource = \"{}\"\nholidays = {:?}\nworking_weekends = []\n",
            n.year, n.source, n.holidays
        )
    };
    let database = app.dir.path().join("creditpool.db");
    // Run beside the server, which goes on serving (and writing) meanwhile.
    let run = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_creditpool"));
        command
            .args(args)
            .arg("--database")
            .arg(&database)
            .env_remove("CREDITPOOL_CONFIG");
        async move {
            tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
                .await
                .expect("joined")
        }
    };
    // A malformed file is refused, naming the fault, and adds nothing.
    let next = today.year() + 1;
    let mut bad = notice(next, today);
    bad.holidays = vec![format!("{next}-01-01..{next}-12-31")];
    std::fs::write(&file, toml_of(&bad)).expect("write");
    let out = run(&["calendar", "add", file.to_str().expect("utf8")]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("more than any notice"), "{stderr}");
    assert!(
        !calendar_audit(&app)
            .await
            .contains(&"calendar.year_added".to_owned())
    );

    // The command counts on the shipped years and adds those it lacks of this year and
    // the next.
    let shipped = Calendar::builtin();
    let years: Vec<YearNotice> = [today.year(), next]
        .into_iter()
        .filter(|y| !shipped.has_year(*y))
        .map(|y| notice(y, today))
        .collect();
    std::fs::write(&file, years.iter().map(toml_of).collect::<String>()).expect("write");
    let out = run(&["calendar", "add", file.to_str().expect("utf8")]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("added {next}")), "{stdout}");
    assert!(
        stdout.contains(filed["number"].as_str().expect("number")),
        "{stdout}"
    );
    let out = run(&["calendar", "list"]).await;
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains(&format!("{next}  added")), "{listed}");
    assert!(!listed.contains("warning"), "{listed}");

    // The command recounted the open ticket in the database; the running server takes
    // the years in on its next refresh (every minute), done here at once.
    let expected = years
        .iter()
        .fold(shipped.clone(), |c, n| {
            c.with_year(n.clone()).expect("valid")
        })
        .deadline(today, 5);
    let follow = format!(
        "/api/v1/public/tickets/{}?token={}",
        filed["number"].as_str().expect("number"),
        filed["token"].as_str().expect("token")
    );
    let (_, ticket_now) = app.call(Method::GET, &follow, None, None).await;
    assert_eq!(ticket_now["due_on"], expected.day.to_string());
    assert_eq!(ticket_now["due_provisional"], false);
    let calendars = Calendars::load(&app.store, empty())
        .await
        .expect("the stored years load");
    assert!(calendars.current().has_year(next));
}
