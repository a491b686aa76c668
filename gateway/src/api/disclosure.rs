//! The public side (BRIEF Q4): finding an enterprise or organisation by its code or by
//! any part of its name, without logging in. Natural persons are not searchable here.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use storage::ids::UserId;

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::page::Listed;
use super::{ApiError, ApiQuery, AppState};
use platform::disclosure::{self, Found, Subject};

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

impl<'a> From<Subject<'a>> for Item<'a> {
    fn from(subject: Subject<'a>) -> Self {
        let e = subject.entry;
        Self {
            uscc: &e.uscc,
            name: &e.name,
            region_name: &e.region_name,
            industry_code: &e.industry_code,
            mark: subject.mark(),
        }
    }
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
    disclosure::check_query("q", Some(&q))?;
    let (offset, limit) = page(query.limit, query.cursor.as_deref())?;
    Ok(match state.find_subjects(&q, offset, limit).await? {
        Found::Code { warning, subject } => Json(SearchResults::Code(CodeResults {
            query: &q,
            matched: CodeMatch::Code,
            warning: warning.map(|w| w.en),
            total: usize::from(subject.is_some()),
            items: subject.map(Item::from).into_iter().collect(),
            next_cursor: None,
        }))
        .into_response(),
        Found::Name {
            page,
            total,
            truncated,
        } => {
            let next = offset + page.len();
            Json(SearchResults::Name(NameResults {
                query: &q,
                matched: NameMatch::Name,
                items: page.into_iter().map(Item::from).collect(),
                total,
                truncated,
                next_cursor: (next < total).then(|| super::page::cursor(&[&next.to_string()])),
            }))
            .into_response()
        }
    })
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
    let found = state.public_subject(&uscc).await?;
    Ok(Json(ByCode {
        item: found.into(),
        warning: disclosure::code_warning(&uscc).map(|w| w.en),
    })
    .into_response())
}

/// The records the public sees of an enterprise or organisation today (Q1–Q3), by
/// section of 附录A; every section is listed, empty ones with a count of 0.
async fn records(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
) -> Result<Response, ApiError> {
    let found = state.public_subject(&uscc).await?;
    let (as_of, sections) = state.disclosed_records(&found).await?;
    Ok(Json(SubjectRecords {
        // The records carry their own marks.
        subject: Subject {
            under_objection: false,
            ..found
        }
        .into(),
        as_of,
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

/// Issues the public credit report of an enterprise or organisation (Q5) as JSON,
/// printable HTML or PDF (`?format=`), watermarked with the requester (`?requester=`,
/// else "社会公众") and the time; archived with its hashes (Q6).
async fn issue_report(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<axum::response::Response, ApiError> {
    let found = state.public_subject(&uscc).await?.entry.clone();
    let requester = disclosure::requester(query.requester.as_deref())?;
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
/// document, its number and verification code in headers. The pages answer a report's
/// form with it too.
pub(crate) async fn issue(
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
    let genuine = state.verify_report(&query.number, &query.code).await?;
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
pub(crate) const MAX_DOCUMENT_BYTES: usize = 32 * 1024 * 1024;

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
    let document = state.check_report_document(&number, &body).await?;
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
        disclosure::check_query("q", self.q.as_deref())?;
        disclosure::check_query("region", self.region.as_deref())?;
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
    let items: Vec<SpecialItem> = state
        .special_list(&list, query.q.as_deref())
        .await?
        .into_iter()
        .map(|found| SpecialItem {
            subject: found.subject.into(),
            qualification: found.qualification,
            listing: found.listing,
        })
        .collect();
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
    let today = platform::store::china_today();
    let (prefix, found) = state.sector(&sector, query.region.as_deref()).await?;
    let items: Vec<SectorItem> = found
        .into_iter()
        .map(|found| SectorItem {
            subject: found.subject.into(),
            lists: OnLists {
                red_list: found.red_list,
                black_list: found.black_list,
                abnormal_operations: found.abnormal_operations,
            },
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
