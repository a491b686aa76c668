//! The public side (BRIEF Q4): finding an enterprise or organisation by its code or by
//! any part of its name, without logging in. Natural persons are not searchable here.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use ::public::search::{Entry, SearchError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/public/subjects", get(search))
        .route("/public/subjects/{uscc}", get(by_code))
        .route("/public/subjects/{uscc}/records", get(records))
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

fn item(e: &Entry) -> Value {
    json!({
        "uscc": e.uscc,
        "name": e.name,
        "region_name": e.region_name,
        "industry_code": e.industry_code,
    })
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
    Query(query): Query<SearchQuery>,
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
    if policies::Uscc::check(&q).is_ok() {
        let found = state.search.by_uscc(&q);
        return Ok(Json(json!({
            "query": q,
            "match": "code",
            "warning": code_warning(&q),
            "items": found.map(item).into_iter().collect::<Vec<_>>(),
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
        "items": page.items.iter().map(|e| item(e)).collect::<Vec<_>>(),
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
    let mut out = item(found);
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
        &std::collections::HashSet::new(),
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "subject": item(found),
        "as_of": today,
        "sections": sections,
    })))
}
