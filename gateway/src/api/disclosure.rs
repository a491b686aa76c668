//! The public side (BRIEF Q4): finding an enterprise or organisation by its code or by
//! any part of its name, without logging in. Natural persons are not searchable here.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashSet;
use storage::ids::UserId;

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
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
        .route("/public/special/{list}", get(special))
        .route("/public/sectors", get(sectors))
        .route("/public/sectors/{sector}", get(sector))
        .route(
            "/public/reports/{number}/document-check",
            axum::routing::post(check_document)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_DOCUMENT_BYTES)),
        )
}

/// Longest query accepted.
const MAX_QUERY_CHARS: usize = 100;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SearchQuery {
    q: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A subject as search results and lists show it.
#[derive(Serialize)]
struct Item<'a> {
    uscc: &'a str,
    name: &'a str,
    region_name: &'a str,
    industry_code: &'a str,
    /// Q8: a subject with a record under objection is marked wherever it appears.
    #[serde(skip_serializing_if = "Option::is_none")]
    mark: Option<&'static str>,
}

impl<'a> Item<'a> {
    fn new(e: &'a Entry, objected: &HashSet<String>) -> Self {
        Self {
            uscc: &e.uscc,
            name: &e.name,
            region_name: &e.region_name,
            industry_code: &e.industry_code,
            mark: objected
                .contains(&e.subject_id)
                .then_some(policies::disclosure::UNDER_OBJECTION),
        }
    }
}

/// [`Item`] as a JSON object, for lists that add fields of their own.
fn item(e: &Entry, objected: &HashSet<String>) -> Value {
    json!(Item::new(e, objected))
}

/// What a code's checksum says, as a warning (early pilot codes fail it and are still
/// valid, so a failure never rejects the query).
fn code_warning(check: &policies::UsccCheck) -> Option<String> {
    check.warnings.first().map(ToString::to_string)
}

/// The answer to a query that is a code.
#[derive(Serialize)]
struct CodeResults<'a> {
    query: &'a str,
    #[serde(rename = "match")]
    matched: &'static str,
    warning: Option<String>,
    items: Vec<Item<'a>>,
    total: usize,
    next_cursor: Option<String>,
}

/// The answer to a query by part of a name.
#[derive(Serialize)]
struct NameResults<'a> {
    query: &'a str,
    #[serde(rename = "match")]
    matched: &'static str,
    items: Vec<Item<'a>>,
    total: usize,
    truncated: bool,
    next_cursor: Option<String>,
}

/// Exact by code when the query is a code, else every name containing it; paged.
async fn search(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Response, ApiError> {
    let q = query.q.unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid(
            "q",
            format!("a query has at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let (offset, limit) = page(query.limit, query.cursor.as_deref())?;
    let marks = state.marks.get(&state.store).await?;
    let objected = &marks.subjects;
    if let Ok(check) = policies::Uscc::check(&q) {
        let found = state.search.by_uscc(&q);
        return Ok(Json(CodeResults {
            query: &q,
            matched: "code",
            warning: code_warning(&check),
            items: found.map(|e| Item::new(e, objected)).into_iter().collect(),
            total: usize::from(found.is_some()),
            next_cursor: None,
        })
        .into_response());
    }
    let page = state
        .search
        .search(&q, offset, limit)
        .map_err(|e| match e {
            SearchError::Empty => ApiError::invalid("q", e.to_string()),
            other => ApiError::internal(other),
        })?;
    let next = offset + page.items.len();
    Ok(Json(NameResults {
        query: &q,
        matched: "name",
        items: page.items.iter().map(|e| Item::new(e, objected)).collect(),
        total: page.total,
        truncated: page.truncated,
        next_cursor: (next < page.total).then(|| super::page::cursor(&[&next.to_string()])),
    })
    .into_response())
}

/// The enterprise or organisation with this code, or 404.
fn subject<'a>(state: &'a AppState, uscc: &str) -> Result<&'a Entry, ApiError> {
    state
        .search
        .by_uscc(uscc)
        .ok_or_else(|| ApiError::not_found("enterprise or organisation"))
}

/// One subject found by its code, with what the code's checksum says.
#[derive(Serialize)]
struct ByCode<'a> {
    #[serde(flatten)]
    item: Item<'a>,
    warning: Option<String>,
}

async fn by_code(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
) -> Result<Response, ApiError> {
    let found = subject(&state, &uscc)?;
    let marks = state.marks.get(&state.store).await?;
    Ok(Json(ByCode {
        item: Item::new(found, &marks.subjects),
        warning: policies::Uscc::check(&uscc)
            .ok()
            .and_then(|check| code_warning(&check)),
    })
    .into_response())
}

/// The records the public sees of an enterprise or organisation today (Q1–Q3), by
/// section of 附录A; every section is listed, empty ones with a count of 0.
async fn records(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let found = subject(&state, &uscc)?;
    let today = platform::store::china_today();
    let sections = state
        .records
        .disclosed(
            &found.subject_id,
            today,
            &state.settings.disclosure,
            &state.marks.get(&state.store).await?.records,
        )
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "subject": item(found, &HashSet::new()),
        "as_of": today,
        "sections": sections,
    })))
}

pub(super) use platform::issuance::Format;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportQuery {
    #[serde(default)]
    #[param(inline)]
    format: Format,
    requester: Option<String>,
}

/// Longest requester name on a watermark.
const MAX_REQUESTER_CHARS: usize = 50;

/// Issues the public credit report of an enterprise or organisation (Q5) as JSON,
/// printable HTML or PDF (`?format=`), watermarked with the requester (`?requester=`,
/// else "社会公众") and the time; archived with its hashes (Q6).
async fn issue_report(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<axum::response::Response, ApiError> {
    let found = subject(&state, &uscc)?.clone();
    let requester = match query.requester.as_deref().map(str::trim) {
        None | Some("") => "社会公众".to_owned(),
        Some(r) if r.chars().count() > MAX_REQUESTER_CHARS || r.chars().any(char::is_control) => {
            return Err(ApiError::invalid(
                "requester",
                format!(
                    "a requester's name has at most {MAX_REQUESTER_CHARS} characters, without control characters"
                ),
            ));
        }
        Some(r) => r.to_owned(),
    };
    issue(
        &state,
        ::public::report::Subject::Organisation(&found),
        &found.subject_id,
        query.format,
        &requester,
        &UserId::from("public"),
    )
    .await
}

/// Issues one report ([`platform::Platform::issue_report`]); the response carries the
/// document, its number and verification code in headers.
pub(super) async fn issue(
    state: &AppState,
    subject: ::public::report::Subject<'_>,
    subject_id: &str,
    format: Format,
    requester: &str,
    actor: &UserId,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let issued = state
        .issue_report(
            subject,
            subject_id,
            format,
            requester,
            actor,
            &super::request_id(),
        )
        .await?;
    let number = issued.number;
    let mut response = (axum::http::StatusCode::CREATED, issued.document).into_response();
    let headers = response.headers_mut();
    let value = |v: &str| axum::http::HeaderValue::from_str(v).map_err(ApiError::internal);
    headers.insert(header::CONTENT_TYPE, value(format.content_type())?);
    headers.insert("x-report-number", value(&number)?);
    headers.insert("x-verification-code", value(&issued.code)?);
    match format {
        Format::Pdf => {
            headers.insert(
                header::CONTENT_DISPOSITION,
                value(&format!(
                    "attachment; filename=\"credit-report-{number}.pdf\""
                ))?,
            );
        }
        Format::Html => {
            // The page is self-contained: no script, no outside resource.
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                value("default-src 'none'; style-src 'unsafe-inline'; img-src data:")?,
            );
        }
        Format::Json => {}
    }
    Ok(response)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct Verification {
    number: String,
    code: String,
}

/// Whether a report number and verification code belong together (Q5): the answer
/// names the subject and the time of issue only when they do.
async fn verify_report(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<Verification>,
) -> Result<Json<Value>, ApiError> {
    let key = state.report_key();
    let genuine =
        desk::issuance::verify(&state.store, &key, query.number.trim(), &query.code).await?;
    Ok(Json(match genuine {
        Some(report) => json!({
            "valid": true,
            "report_number": report.report_number,
            "uscc": report.uscc,
            "subject_name": report.subject_name,
            "issued_at": report.issued_at,
            "content_sha256": report.content_sha256,
        }),
        None => json!({
            "valid": false,
            "message": "this report number and verification code do not belong to a report issued here; the report may have been altered",
        }),
    }))
}

/// Largest document accepted for a check.
const MAX_DOCUMENT_BYTES: usize = 32 * 1024 * 1024;

/// Whether a document (the PDF, HTML or JSON as downloaded) is, byte for byte, the one
/// issued under this report number: any changed byte fails.
async fn check_document(
    State(state): State<AppState>,
    Path(number): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "a document to check is at most {} MiB",
                MAX_DOCUMENT_BYTES >> 20
            ),
        )
    })?;
    let document = desk::issuance::check_document(&state.store, number.trim(), &body).await?;
    Ok(Json(match document {
        Some(d) => json!({
            "valid": true,
            "report_number": d.report_number,
            "subject_name": d.subject_name,
            "subject_code": d.subject_code,
            "issued_at": d.issued_at,
            "format": d.format,
            "document_sha256": d.document_sha256,
        }),
        None => json!({
            "valid": false,
            "message": "this document is not, byte for byte, a report issued here under this number: it may have been altered",
        }),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    q: Option<String>,
    region: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    cursor: Option<String>,
}

impl PageQuery {
    /// (offset, limit) of the page asked for.
    fn page(&self) -> Result<(usize, usize), ApiError> {
        let (offset, limit) = page(self.limit, self.cursor.as_deref())?;
        for (field, value) in [("q", &self.q), ("region", &self.region)] {
            if value
                .as_deref()
                .is_some_and(|v| v.chars().count() > MAX_QUERY_CHARS)
            {
                return Err(ApiError::invalid(
                    field,
                    format!("at most {MAX_QUERY_CHARS} characters"),
                ));
            }
        }
        Ok((offset, limit))
    }
}

/// (offset, limit) of the page a `limit` and a `cursor` (a previous `next_cursor`) ask for.
/// As every list of the API: 50 by default, 1 to 500, and an opaque cursor.
fn page(limit: Option<u32>, cursor: Option<&str>) -> Result<(usize, usize), ApiError> {
    let asked = super::page::Page {
        limit,
        cursor: cursor.map(str::to_owned),
    };
    let limit = asked.size()?;
    let offset = match asked.after(1)? {
        None => 0,
        Some(key) => key[0].parse().map_err(|_| {
            ApiError::invalid("cursor", "pass the next_cursor of the previous page")
        })?,
    };
    Ok((offset, limit as usize))
}

fn paged(items: Vec<Value>, offset: usize, limit: usize) -> Value {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let next = offset + page.len();
    json!({
        "total": total,
        "items": page,
        "next_cursor": (next < total).then(|| super::page::cursor(&[&next.to_string()])),
    })
}

/// Special queries (Q4): the enterprises on the red list, the serious-dishonesty list or
/// the abnormal-operation list today, or holding a valid qualification certificate
/// (`qualifications`, `q` = part of its name); `q` otherwise filters by name.
async fn special(
    State(state): State<AppState>,
    Path(list): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (offset, limit) = query.page()?;
    let today = platform::store::china_today();
    let wanted = query
        .q
        .as_deref()
        .map(::public::search::normalise)
        .unwrap_or_default();
    let marks = state.marks.get(&state.store).await?;
    let objected = &marks.subjects;
    let entry = |subject_id: &str| state.search.by_subject(subject_id);
    let items: Vec<Value> = if list == "qualifications" {
        state
            .special
            .qualified(query.q.as_deref().unwrap_or_default(), today)
            .into_iter()
            .filter_map(|q| {
                let e = entry(&q.subject_id)?;
                let mut out = item(e, objected);
                out["qualification"] = json!(q);
                Some(out)
            })
            .collect()
    } else {
        let which = ::public::special::List::parse(&list).ok_or_else(|| {
            ApiError::not_found(
                "special list (red_list, black_list, abnormal_operations, qualifications)",
            )
        })?;
        state
            .special
            .listed(which, today, &state.settings.disclosure)
            .into_iter()
            .filter_map(|l| {
                let e = entry(&l.subject_id)?;
                if !wanted.is_empty() && !::public::search::normalise(&e.name).contains(&wanted) {
                    return None;
                }
                let mut out = item(e, objected);
                out["listing"] = json!(l);
                Some(out)
            })
            .collect()
    };
    let mut out = paged(items, offset, limit);
    out["list"] = json!(list);
    out["as_of"] = json!(today);
    Ok(Json(out))
}

/// The named sectors of the sector query.
async fn sectors() -> Json<Value> {
    let items: Vec<Value> = ::public::special::SECTORS
        .iter()
        .map(|(id, code, name)| json!({ "id": id, "industry_code": code, "name_zh": name }))
        .collect();
    Json(json!({ "items": items, "next_cursor": null }))
}

/// Sector queries (Q4): the enterprises of a named sector or of an industry code (GB/T
/// 4754, a prefix such as `O801`), optionally in a region, each with the lists it is on.
async fn sector(
    State(state): State<AppState>,
    Path(sector): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (offset, limit) = query.page()?;
    let prefix = match ::public::special::SECTORS
        .iter()
        .find(|(id, _, _)| *id == sector)
    {
        Some((_, code, _)) => (*code).to_owned(),
        None => {
            let code = sector.to_ascii_uppercase();
            let mut chars = code.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && code.len() <= 5
                && chars.all(|c| c.is_ascii_digit());
            if !valid {
                return Err(ApiError::not_found(
                    "sector (a named sector of GET /public/sectors, or an industry code such as O801)",
                ));
            }
            code
        }
    };
    let today = platform::store::china_today();
    let rules = &state.settings.disclosure;
    let on = |list| -> HashSet<&str> {
        state
            .special
            .listed(list, today, rules)
            .into_iter()
            .map(|l| l.subject_id.as_str())
            .collect()
    };
    use ::public::special::List;
    let (red, black, abnormal) = (
        on(List::RedList),
        on(List::BlackList),
        on(List::AbnormalOperations),
    );
    let marks = state.marks.get(&state.store).await?;
    let objected = &marks.subjects;
    let items: Vec<Value> =
        ::public::special::sector(&state.search, &prefix, query.region.as_deref())
            .into_iter()
            .map(|e| {
                let mut out = item(e, objected);
                let id = e.subject_id.as_str();
                out["lists"] = json!({
                    "red_list": red.contains(id),
                    "black_list": black.contains(id),
                    "abnormal_operations": abnormal.contains(id),
                });
                out
            })
            .collect();
    let mut out = paged(items, offset, limit);
    out["industry_code"] = json!(prefix);
    out["as_of"] = json!(today);
    Ok(Json(out))
}
