//! The public side (BRIEF Q4): finding an enterprise or organisation by its code or by
//! any part of its name, without logging in. Natural persons are not searchable here.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashSet;
use storage::ids::UserId;

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::page::Listed;
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

/// An enterprise or organisation as search results and lists show it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublicSubject)]
pub(super) struct Item<'a> {
    uscc: &'a str,
    name: &'a str,
    region_name: &'a str,
    industry_code: &'a str,
    /// 异议处理中 when a record of the subject is under objection (Q8): a subject is
    /// marked wherever it appears.
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

/// What a code's checksum says, as a warning (early pilot codes fail it and are still
/// valid, so a failure never rejects the query).
fn code_warning(check: &policies::UsccCheck) -> Option<String> {
    check.warnings.first().map(ToString::to_string)
}

/// The answer to a search: by code when the query is a code, else by part of a name.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(super) enum SearchResults<'a> {
    Code(CodeResults<'a>),
    Name(NameResults<'a>),
}

/// How a search matched: the query is a code.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum CodeMatch {
    Code,
}

/// How a search matched: the query is part of a name.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum NameMatch {
    Name,
}

/// The answer to a query that is a code.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct CodeResults<'a> {
    query: &'a str,
    #[serde(rename = "match")]
    matched: CodeMatch,
    /// What the code's checksum says, when it fails (early pilot codes do).
    warning: Option<String>,
    items: Vec<Item<'a>>,
    total: usize,
    next_cursor: Option<String>,
}

/// The answer to a query by part of a name.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct NameResults<'a> {
    query: &'a str,
    #[serde(rename = "match")]
    matched: NameMatch,
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
        return Ok(Json(SearchResults::Code(CodeResults {
            query: &q,
            matched: CodeMatch::Code,
            warning: code_warning(&check),
            items: found.map(|e| Item::new(e, objected)).into_iter().collect(),
            total: usize::from(found.is_some()),
            next_cursor: None,
        }))
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
    Ok(Json(SearchResults::Name(NameResults {
        query: &q,
        matched: NameMatch::Name,
        items: page.items.iter().map(|e| Item::new(e, objected)).collect(),
        total: page.total,
        truncated: page.truncated,
        next_cursor: (next < page.total).then(|| super::page::cursor(&[&next.to_string()])),
    }))
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
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublicSubjectByCode)]
pub(super) struct ByCode<'a> {
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
) -> Result<Response, ApiError> {
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
    Ok(Json(SubjectRecords {
        subject: Item::new(found, &HashSet::new()),
        as_of: today,
        sections,
    })
    .into_response())
}

/// The records the public sees of a subject today, by section of 附录A.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SubjectRecords<'a> {
    subject: Item<'a>,
    /// The day the disclosure rules were applied for.
    as_of: chrono::NaiveDate,
    /// Every catalog table, empty or not.
    sections: Vec<::public::records::Section>,
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
) -> Result<Json<ReportVerification>, ApiError> {
    let key = state.report_key();
    let genuine =
        desk::issuance::verify(&state.store, &key, query.number.trim(), &query.code).await?;
    Ok(Json(match genuine {
        Some(report) => ReportVerification::Valid(Vouched {
            valid: true,
            found: report,
        }),
        None => ReportVerification::Invalid(NotVouched {
            valid: false,
            message: "this report number and verification code do not belong to a report issued here; the report may have been altered",
        }),
    }))
}

/// Whether a report number and verification code belong together; the report's
/// particulars only when they do.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(super) enum ReportVerification {
    Valid(Vouched<desk::issuance::Genuine>),
    Invalid(NotVouched),
}

/// What the archive vouches for, with `valid: true`.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Vouched<T> {
    /// `true`.
    valid: bool,
    #[serde(flatten)]
    found: T,
}

/// `valid: false`, and why.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct NotVouched {
    /// `false`.
    valid: bool,
    message: &'static str,
}

/// Largest document accepted for a check.
const MAX_DOCUMENT_BYTES: usize = 32 * 1024 * 1024;

/// Whether a document (the PDF, HTML or JSON as downloaded) is, byte for byte, the one
/// issued under this report number: any changed byte fails.
async fn check_document(
    State(state): State<AppState>,
    Path(number): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<DocumentCheck>, ApiError> {
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
        Some(d) => DocumentCheck::Valid(Vouched {
            valid: true,
            found: d,
        }),
        None => DocumentCheck::Invalid(NotVouched {
            valid: false,
            message: "this document is not, byte for byte, a report issued here under this number: it may have been altered",
        }),
    }))
}

/// Whether a document is, byte for byte, one issued under a report number; the
/// document's particulars only when it is.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(super) enum DocumentCheck {
    Valid(Vouched<desk::issuance::Document>),
    Invalid(NotVouched),
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

/// The page of `items` from `offset`: how many there are, the page, and the cursor of
/// the next page.
fn paged<T>(items: Vec<T>, offset: usize, limit: usize) -> (usize, Vec<T>, Option<String>) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let next = offset + page.len();
    let next_cursor = (next < total).then(|| super::page::cursor(&[&next.to_string()]));
    (total, page, next_cursor)
}

/// A page of a special list (Q4).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SpecialPage<'a> {
    /// The list: red_list, black_list, abnormal_operations or qualifications.
    list: String,
    /// The day the lists were read for.
    as_of: chrono::NaiveDate,
    /// How many subjects the list holds (after `q`).
    total: usize,
    items: Vec<SpecialItem<'a>>,
    next_cursor: Option<String>,
}

/// A subject on a special list, with its listing or its qualification certificate.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SpecialItem<'a> {
    #[serde(flatten)]
    subject: Item<'a>,
    /// The certificate (the `qualifications` list).
    #[serde(skip_serializing_if = "Option::is_none")]
    qualification: Option<&'a ::public::special::Qualification>,
    /// The listing (the other lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    listing: Option<&'a ::public::special::Listing>,
}

/// Special queries (Q4): the enterprises on the red list, the serious-dishonesty list or
/// the abnormal-operation list today, or holding a valid qualification certificate
/// (`qualifications`, `q` = part of its name); `q` otherwise filters by name.
async fn special(
    State(state): State<AppState>,
    Path(list): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
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
    let items: Vec<SpecialItem> = if list == "qualifications" {
        state
            .special
            .qualified(query.q.as_deref().unwrap_or_default(), today)
            .into_iter()
            .filter_map(|q| {
                Some(SpecialItem {
                    subject: Item::new(entry(&q.subject_id)?, objected),
                    qualification: Some(q),
                    listing: None,
                })
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
                Some(SpecialItem {
                    subject: Item::new(e, objected),
                    qualification: None,
                    listing: Some(l),
                })
            })
            .collect()
    };
    let (total, items, next_cursor) = paged(items, offset, limit);
    Ok(Json(SpecialPage {
        list,
        as_of: today,
        total,
        items,
        next_cursor,
    })
    .into_response())
}

/// The named sectors of the sector query.
async fn sectors() -> Json<Listed<Sector>> {
    let items = ::public::special::SECTORS
        .iter()
        .map(|(id, industry_code, name_zh)| Sector {
            id,
            industry_code,
            name_zh,
        })
        .collect();
    Json(Listed::all(items))
}

/// A named sector of the sector query.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Sector {
    /// The name the sector query takes.
    id: &'static str,
    /// The GB/T 4754 industry code prefix it stands for.
    industry_code: &'static str,
    name_zh: &'static str,
}

/// A page of a sector query (Q4).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SectorPage<'a> {
    /// The industry code prefix queried.
    industry_code: String,
    /// The day the lists were read for.
    as_of: chrono::NaiveDate,
    /// How many subjects the sector holds (in the region, if given).
    total: usize,
    items: Vec<SectorItem<'a>>,
    next_cursor: Option<String>,
}

/// A subject of a sector, with the lists it is on today.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SectorItem<'a> {
    #[serde(flatten)]
    subject: Item<'a>,
    lists: OnLists,
}

/// Which special lists a subject is on today.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct OnLists {
    red_list: bool,
    black_list: bool,
    abnormal_operations: bool,
}

/// Sector queries (Q4): the enterprises of a named sector or of an industry code (GB/T
/// 4754, a prefix such as `O801`), optionally in a region, each with the lists it is on.
async fn sector(
    State(state): State<AppState>,
    Path(sector): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
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
    let items: Vec<SectorItem> =
        ::public::special::sector(&state.search, &prefix, query.region.as_deref())
            .into_iter()
            .map(|e| {
                let id = e.subject_id.as_str();
                SectorItem {
                    subject: Item::new(e, objected),
                    lists: OnLists {
                        red_list: red.contains(id),
                        black_list: black.contains(id),
                        abnormal_operations: abnormal.contains(id),
                    },
                }
            })
            .collect();
    let (total, items, next_cursor) = paged(items, offset, limit);
    Ok(Json(SectorPage {
        industry_code: prefix,
        as_of: today,
        total,
        items,
        next_cursor,
    })
    .into_response())
}
