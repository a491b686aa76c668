//! The public side (BRIEF Q4): finding an enterprise or organisation by its code or by
//! any part of its name, without logging in. Natural persons are not searchable here.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiQuery, AppState};
use ::public::search::{Entry, SearchError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/public/subjects", get(search))
        .route("/public/subjects/{uscc}", get(by_code))
        .route("/public/subjects/{uscc}/records", get(records))
        .route(
            "/public/subjects/{uscc}/reports",
            axum::routing::post(issue_report),
        )
        .route("/public/reports/verify", get(verify_report))
}

/// Longest query accepted.
const MAX_QUERY_CHARS: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn item(e: &Entry, objected: &HashSet<String>) -> Value {
    let mut out = json!({
        "uscc": e.uscc,
        "name": e.name,
        "region_name": e.region_name,
        "industry_code": e.industry_code,
    });
    // Q8: a subject with a record under objection is marked wherever it appears.
    if objected.contains(&e.subject_id) {
        out["mark"] = json!(policies::disclosure::UNDER_OBJECTION);
    }
    out
}

/// What a code's checksum says, as a warning (early pilot codes fail it and are still
/// valid, so a failure never rejects the query).
fn code_warning(q: &str) -> Option<Value> {
    match policies::Uscc::check(q) {
        Ok(check) => check.warnings.first().map(|w| json!(w.to_string())),
        Err(_) => None,
    }
}

/// Exact by code when the query is a code, else every name containing it; paged.
async fn search(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    let q = query.q.unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid(
            "q",
            format!("a query has at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "limit is between 1 and 100"));
    }
    let offset: usize = match query.cursor.as_deref() {
        None => 0,
        Some(c) => c.parse().map_err(|_| {
            ApiError::invalid("cursor", "pass the next_cursor of the previous page")
        })?,
    };
    let objected = crate::objections::subjects_under_objection(&state.store).await?;
    if policies::Uscc::check(&q).is_ok() {
        let found = state.search.by_uscc(&q);
        return Ok(Json(json!({
            "query": q,
            "match": "code",
            "warning": code_warning(&q),
            "items": found.map(|e| item(e, &objected)).into_iter().collect::<Vec<_>>(),
            "total": usize::from(found.is_some()),
            "next_cursor": null,
        })));
    }
    let page = state
        .search
        .search(&q, offset, limit as usize)
        .map_err(|e| match e {
            SearchError::Empty => ApiError::invalid("q", e.to_string()),
            other => ApiError::internal(other),
        })?;
    let next = offset + page.items.len();
    Ok(Json(json!({
        "query": q,
        "match": "name",
        "items": page.items.iter().map(|e| item(e, &objected)).collect::<Vec<_>>(),
        "total": page.total,
        "truncated": page.truncated,
        "next_cursor": (next < page.total).then(|| next.to_string()),
    })))
}

/// The enterprise or organisation with this code, or 404.
fn subject<'a>(state: &'a AppState, uscc: &str) -> Result<&'a Entry, ApiError> {
    state
        .search
        .by_uscc(uscc)
        .ok_or_else(|| ApiError::not_found("enterprise or organisation"))
}

async fn by_code(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let found = subject(&state, &uscc)?;
    let objected = crate::objections::subjects_under_objection(&state.store).await?;
    let mut out = item(found, &objected);
    out["warning"] = code_warning(&uscc).unwrap_or(Value::Null);
    Ok(Json(out))
}

/// The records the public sees of an enterprise or organisation today (Q1–Q3), by
/// section of 附录A; every section is listed, empty ones with a count of 0.
async fn records(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let found = subject(&state, &uscc)?;
    let today = chrono::Utc::now().date_naive();
    let sections = ::public::records::disclosed(
        state.workspaces.catalog(),
        &found.subject_id,
        today,
        &state.settings.disclosure,
        &crate::objections::objected(&state.store).await?,
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "subject": item(found, &HashSet::new()),
        "as_of": today,
        "sections": sections,
    })))
}

/// The key of report verification codes, derived from the server's key so that it
/// never equals the gate's.
fn report_key(state: &AppState) -> Vec<u8> {
    let mut material = b"creditpool report verification\n".to_vec();
    material.extend_from_slice(state.settings.gate.secret.as_ref());
    ring::digest::digest(&ring::digest::SHA256, &material)
        .as_ref()
        .to_vec()
}

/// Issues the public credit report of an enterprise or organisation (Q5) as JSON, with
/// a fresh report number and its verification code; archived with its hash (Q6).
async fn issue_report(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let found = subject(&state, &uscc)?.clone();
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8");
    let now = chrono::Utc::now().with_timezone(&beijing);
    let sections = ::public::records::disclosed(
        state.workspaces.catalog(),
        &found.subject_id,
        now.date_naive(),
        &state.settings.disclosure,
        &crate::objections::objected(&state.store).await?,
    )
    .await
    .map_err(ApiError::internal)?;
    let issuer = ::public::report::Issuer {
        name: "浙江省公共信用信息平台".into(),
        verify_url: "/api/v1/public/reports/verify".into(),
        objection_contact: "向报告出具单位提出书面异议".into(),
    };
    let key = report_key(&state);
    // A number is the second of issue and four random digits: retry on a collision.
    for _ in 0..10 {
        let number = ::public::report_id::report_number(now, ::public::report_id::random_suffix());
        let report = ::public::report::build(&found, &sections, &issuer, now, &number, &key);
        let hash = crate::store::sha256_hex(&::public::report::canonical(&report));
        let content = serde_json::to_vec(&report).map_err(ApiError::internal)?;
        let mut tx = state.store.write().await?;
        let inserted = sqlx::query(
            "INSERT OR IGNORE INTO issued_reports (number, uscc, subject_name, content_sha256, content, issued_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&number)
        .bind(&found.uscc)
        .bind(&found.name)
        .bind(&hash)
        .bind(&content)
        .bind(crate::store::now())
        .execute(&mut *tx)
        .await
        .map_err(ApiError::internal)?
        .rows_affected();
        if inserted == 0 {
            continue;
        }
        crate::audit::append(
            &mut tx,
            crate::audit::Event {
                actor: "public",
                action: "report.issued",
                subject: &number,
                detail: json!({ "uscc": found.uscc, "content_sha256": hash }),
                request_id: &super::request_id(),
            },
        )
        .await?;
        tx.commit().await.map_err(ApiError::internal)?;
        return Ok((axum::http::StatusCode::CREATED, Json(report)).into_response());
    }
    Err(ApiError::internal(
        "ten report numbers in one second collided",
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Verification {
    number: String,
    code: String,
}

/// Whether a report number and verification code belong together (Q5): the answer
/// names the subject and the time of issue only when they do.
async fn verify_report(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<Verification>,
) -> Result<Json<Value>, ApiError> {
    let row: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT uscc, subject_name, content_sha256, issued_at FROM issued_reports WHERE number = ?",
    )
    .bind(query.number.trim())
    .fetch_optional(state.store.pool())
    .await
    .map_err(ApiError::internal)?;
    let key = report_key(&state);
    match row {
        Some((uscc, name, hash, issued_at))
            if ::public::report_id::verify_hash(
                &key,
                query.number.trim(),
                &uscc,
                &hash,
                &query.code,
            ) =>
        {
            Ok(Json(json!({
                "valid": true,
                "report_number": query.number.trim(),
                "uscc": uscc,
                "subject_name": name,
                "issued_at": issued_at,
                "content_sha256": hash,
            })))
        }
        _ => Ok(Json(json!({
            "valid": false,
            "message": "this report number and verification code do not belong to a report issued here; the report may have been altered",
        }))),
    }
}
