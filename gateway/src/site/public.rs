//! The public credit site (BRIEF Q1–Q4, issue 18): the home page's search, the results,
//! a subject's page with its disclosed records, the special lists and the sector
//! queries. No login. Each page asks the same platform function as its JSON twin
//! (`platform::disclosure`).

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use platform::disclosure::{self, Found, SPECIAL_LISTS, Subject};
use serde::Deserialize;
use serde_json::Value;

use super::reports::ReportFormState;
use super::{Chrome, Highlighted, PageError, Paging, date_zh, encode, render, render_with_token};
use crate::api::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/search", get(search))
        .route("/subjects/{uscc}", get(subject))
        .route("/special", get(special_lists))
        .route("/special/{list}", get(special_list))
        .route("/sectors", get(sectors))
        .route("/sectors/{sector}", get(sector))
        .route("/products", get(products))
}

/// What a list page's address may carry. Anything else is ignored: a person's browser
/// and the links they follow add what they like.
#[derive(Deserialize, Default)]
struct ListQuery {
    q: Option<String>,
    region: Option<String>,
    page: Option<String>,
}

/// The query of a page's address; a malformed one (bad percent-encoding) is refused.
fn asked(query: Result<Query<ListQuery>, QueryRejection>) -> Result<ListQuery, PageError> {
    query.map(|Query(q)| q).map_err(|e| {
        PageError::from(
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("the address's query cannot be read: {}", e.body_text()),
            )
            .with_zh("网址中的查询参数无法识别，请从页面上的链接或表单重新查询。"),
        )
    })
}

/// A subject as a list shows it.
struct Row<'a> {
    uscc: &'a str,
    name: Highlighted<'a>,
    region_name: &'a str,
    industry_code: &'a str,
    mark: Option<&'static str>,
    /// What else the list says of it (a listing, a certificate, the lists it is on).
    notes: Vec<String>,
    /// Badges: (class, text).
    badges: Vec<(&'static str, &'static str)>,
}

impl<'a> Row<'a> {
    fn new(subject: Subject<'a>, query: &str) -> Row<'a> {
        let e = subject.entry;
        Row {
            uscc: &e.uscc,
            name: Highlighted::new(&e.name, query),
            region_name: &e.region_name,
            industry_code: &e.industry_code,
            mark: subject.mark(),
            notes: Vec::new(),
            badges: Vec::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "public/home.html")]
struct Home {
    chrome: Chrome,
    lists: &'static [(&'static str, &'static str)],
    sectors: &'static [(&'static str, &'static str, &'static str)],
}

/// `GET /`: one search box, the special lists and the sectors.
async fn home() -> Response {
    render(&Home {
        chrome: Chrome::new("home"),
        lists: &SPECIAL_LISTS,
        sectors: &::public::special::SECTORS,
    })
}

#[derive(Template)]
#[template(path = "public/search.html")]
struct SearchPage<'a> {
    chrome: Chrome,
    q: &'a str,
    /// Whether the query is a code.
    by_code: bool,
    warning: Option<String>,
    rows: Vec<Row<'a>>,
    paging: Paging,
    truncated: bool,
    /// The address of the pages, to which `page=N` is added.
    base: String,
}

/// `GET /search?q=`: by code when the query is one, else every name containing it.
async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = asked(query)?;
    let q = query.q.as_deref().map(str::trim).unwrap_or_default();
    let mut paging = Paging::asked(query.page.as_deref());
    let found = if q.is_empty() {
        None
    } else {
        Some(state.find_subjects(q, paging.offset(), paging.size).await)
    };
    let (by_code, warning, rows, truncated) = match found {
        None => (false, None, Vec::new(), false),
        Some(Ok(Found::Code { warning, subject })) => {
            paging.total = usize::from(subject.is_some());
            let rows = subject.map(|s| Row::new(s, q)).into_iter().collect();
            (true, warning.map(|w| w.zh), rows, false)
        }
        Some(Ok(Found::Name {
            page,
            total,
            truncated,
        })) => {
            paging.total = total;
            let rows = page.into_iter().map(|s| Row::new(s, q)).collect();
            (false, None, rows, truncated)
        }
        // A query the platform refuses is said on the page, beside the search box.
        Some(Err(platform::Refusal::Invalid { message, .. })) => {
            (false, Some(message.zh), Vec::new(), false)
        }
        Some(Err(e)) => return Err(e.into()),
    };
    let base = format!("/search?q={}&", encode(q));
    if results_only(&headers) {
        return Ok(results(rows, paging, base));
    }
    Ok(render(&SearchPage {
        chrome: Chrome::new("home"),
        q,
        by_code,
        warning,
        rows,
        paging,
        truncated,
        base,
    }))
}

/// A page of a list's results alone (`public/_results.html`): what htmx swaps in when a
/// paging link of a list is followed with JavaScript on. Without it the link loads the
/// whole page, as every link does.
#[derive(Template)]
#[template(path = "public/_results.html")]
struct Results<'a> {
    rows: Vec<Row<'a>>,
    paging: Paging,
    base: String,
}

/// Whether htmx asks for a list's results alone, to replace those shown.
fn results_only(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("hx-request") == Some("true") && header("hx-target") == Some("results")
}

/// [`Results`], rendered.
fn results(rows: Vec<Row<'_>>, paging: Paging, base: String) -> Response {
    render(&Results { rows, paging, base })
}

/// A record as the subject's page shows it: its fields under their Chinese labels.
pub(super) struct RecordView {
    /// Its `record_id`, for the objection form's link.
    pub id: String,
    pub under_objection: bool,
    pub correction: Option<String>,
    pub fields: Vec<(String, String)>,
}

/// A section of 附录A on the subject's page.
pub(super) struct SectionView {
    pub anchor: String,
    pub name_zh: String,
    pub source_unit: String,
    pub count: usize,
    pub records: Vec<RecordView>,
}

#[derive(Template)]
#[template(path = "public/subject.html")]
struct SubjectPage<'a> {
    chrome: Chrome,
    csrf: String,
    subject: Row<'a>,
    warning: Option<String>,
    as_of: String,
    /// Records link to the objection form.
    objectable: bool,
    sections: Vec<SectionView>,
    under_objection: usize,
    report: ReportFormState,
}

/// Fields a record carries for the page's own use, not shown as rows.
const NOT_ROWS: [&str; 2] = ["mark", "correction"];

/// `GET /subjects/{uscc}`: the subject's basic information and its disclosed records by
/// section of 附录A, masked and marked as everywhere else, and the form to request its
/// credit report.
async fn subject(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    subject_page(
        &state,
        &headers,
        &uscc,
        ReportFormState::default(),
        StatusCode::OK,
    )
    .await
}

/// The subject's page, its report form showing `report`, answered with `status`.
pub(super) async fn subject_page(
    state: &AppState,
    headers: &HeaderMap,
    uscc: &str,
    report: ReportFormState,
    status: StatusCode,
) -> Result<Response, PageError> {
    let found = state.public_subject(uscc).await?;
    let (as_of, sections) = state.disclosed_records(&found).await?;
    let (sections, under_objection) = section_views(sections);
    Ok(render_with_token(state, headers, status, |csrf| {
        SubjectPage {
            chrome: Chrome::new("home"),
            csrf,
            subject: Row::new(found, ""),
            warning: disclosure::code_warning(uscc).map(|w| w.zh),
            as_of: date_zh(as_of),
            objectable: true,
            sections,
            under_objection,
            report,
        }
    }))
}

/// Disclosed records as the pages show them, by section, and how many are under
/// objection.
pub(super) fn section_views(
    sections: Vec<::public::records::Section>,
) -> (Vec<SectionView>, usize) {
    let mut under_objection = 0;
    let sections = sections
        .into_iter()
        .map(|section| SectionView {
            anchor: section.table.clone(),
            name_zh: section.name_zh,
            source_unit: section.source_unit,
            count: section.count,
            records: section
                .records
                .into_iter()
                .map(|record| {
                    let marked = record.contains_key("mark");
                    under_objection += usize::from(marked);
                    let correction = record
                        .get("correction")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    let shown: serde_json::Map<String, Value> = record
                        .into_iter()
                        .filter(|(k, _)| !NOT_ROWS.contains(&k.as_str()))
                        .collect();
                    RecordView {
                        id: shown
                            .get("record_id")
                            .and_then(Value::as_str)
                            .map(super::encode)
                            .unwrap_or_default(),
                        under_objection: marked,
                        correction,
                        fields: ::public::report::readable_fields(&Value::Object(shown)),
                    }
                })
                .collect(),
        })
        .collect();
    (sections, under_objection)
}

#[derive(Template)]
#[template(path = "public/special_lists.html")]
struct SpecialLists {
    chrome: Chrome,
    lists: &'static [(&'static str, &'static str)],
}

/// `GET /special`: the special lists.
async fn special_lists() -> Response {
    render(&SpecialLists {
        chrome: Chrome::new("special"),
        lists: &SPECIAL_LISTS,
    })
}

#[derive(Template)]
#[template(path = "public/special_list.html")]
struct SpecialListPage<'a> {
    chrome: Chrome,
    list: &'a str,
    title: &'static str,
    q: &'a str,
    rows: Vec<Row<'a>>,
    paging: Paging,
    base: String,
}

/// `GET /special/{list}?q=`: a special list today, filtered by part of a name.
async fn special_list(
    State(state): State<AppState>,
    Path(list): Path<String>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = asked(query)?;
    let q = query.q.as_deref().map(str::trim).unwrap_or_default();
    let title = SPECIAL_LISTS
        .iter()
        .find(|(id, _)| *id == list)
        .map(|(_, title)| *title)
        .ok_or(platform::Refusal::NotFound("special list"))?;
    let mut paging = Paging::asked(query.page.as_deref());
    let found = state
        .special_list(&list, (!q.is_empty()).then_some(q))
        .await?;
    let rows = paging
        .page_of(found)
        .map(|found| {
            let mut row = Row::new(found.subject, q);
            if let Some(l) = found.listing {
                row.notes.push(format!(
                    "列入日期 {}；列入原因：{}；认定单位：{}",
                    date_zh(l.listed_on),
                    l.reason,
                    l.source_unit
                ));
            }
            if let Some(c) = found.qualification {
                row.notes.push(format!(
                    "{}{}；证书编号 {}；发证日期 {}{}",
                    c.qualification_name,
                    c.level
                        .as_deref()
                        .map(|l| format!("（{l}）"))
                        .unwrap_or_default(),
                    c.certificate_number,
                    date_zh(c.issued_on),
                    c.valid_until
                        .map(|d| format!("；有效期至 {}", date_zh(d)))
                        .unwrap_or_default()
                ));
            }
            row
        })
        .collect();
    let base = format!("/special/{}?q={}&", encode(&list), encode(q));
    if results_only(&headers) {
        return Ok(results(rows, paging, base));
    }
    Ok(render(&SpecialListPage {
        chrome: Chrome::new("special"),
        list: &list,
        title,
        q,
        rows,
        paging,
        base,
    }))
}

#[derive(Template)]
#[template(path = "public/sectors.html")]
struct Sectors<'a> {
    chrome: Chrome,
    sectors: &'static [(&'static str, &'static str, &'static str)],
    /// The industry code typed, kept in the form.
    code: &'a str,
    /// Why the code typed is refused.
    error: Option<String>,
}

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

/// `GET /sectors`: the named sectors, and a form for any industry code
/// (`?code=`, answered by the sector's page).
async fn sectors(query: Result<Query<CodeQuery>, QueryRejection>) -> Response {
    let code = query.ok().and_then(|Query(q)| q.code).unwrap_or_default();
    let code = code.trim();
    if !code.is_empty()
        && let Some(prefix) = disclosure::sector_prefix(code)
    {
        return Redirect::to(&format!("/sectors/{}", encode(&prefix))).into_response();
    }
    render(&Sectors {
        chrome: Chrome::new("sectors"),
        sectors: &::public::special::SECTORS,
        code,
        error: (!code.is_empty())
            .then(|| "行业代码是一个字母加至多四位数字（GB/T 4754），如 O801。".to_owned()),
    })
}

#[derive(Template)]
#[template(path = "public/sector.html")]
struct SectorPage<'a> {
    chrome: Chrome,
    sector: &'a str,
    title: String,
    region: &'a str,
    rows: Vec<Row<'a>>,
    paging: Paging,
    base: String,
}

/// `GET /sectors/{sector}?region=`: the subjects of a sector, with the lists each is on.
async fn sector(
    State(state): State<AppState>,
    Path(sector): Path<String>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = asked(query)?;
    let region = query.region.as_deref().map(str::trim).unwrap_or_default();
    let mut paging = Paging::asked(query.page.as_deref());
    let (prefix, found) = state
        .sector(&sector, (!region.is_empty()).then_some(region))
        .await?;
    let title = ::public::special::SECTORS
        .iter()
        .find(|(id, _, _)| *id == sector)
        .map_or_else(
            || format!("行业代码 {prefix}"),
            |(_, code, name)| format!("{name}（行业代码 {code}）"),
        );
    let rows = paging
        .page_of(found)
        .map(|found| {
            let mut row = Row::new(found.subject, "");
            for (on, class, text) in [
                (found.red_list, "red", "红名单"),
                (found.black_list, "black", "严重失信主体名单"),
                (found.abnormal_operations, "abnormal", "经营异常名录"),
            ] {
                if on {
                    row.badges.push((class, text));
                }
            }
            row
        })
        .collect();
    let base = format!("/sectors/{}?region={}&", encode(&sector), encode(region));
    if results_only(&headers) {
        return Ok(results(rows, paging, base));
    }
    Ok(render(&SectorPage {
        chrome: Chrome::new("sectors"),
        sector: &sector,
        title,
        region,
        rows,
        paging,
        base,
    }))
}

/// A recommended product as the public list shows it.
struct ProductView {
    name: String,
    institution: String,
    uscc: String,
    description: governance::products::Description,
    data_items: Vec<String>,
    recommended_on: String,
}

#[derive(Template)]
#[template(path = "public/products.html")]
struct ProductsPage {
    chrome: Chrome,
    products: Vec<ProductView>,
}

/// `GET /products`: the products recommended to the public (P9), each with its
/// description (附件3).
async fn products(State(state): State<AppState>) -> Result<Response, PageError> {
    let products = governance::products::public_list(&state.store)
        .await?
        .into_iter()
        .map(|p| ProductView {
            name: p.product_name,
            institution: p.institution_name,
            uscc: p.uscc,
            description: p.description,
            data_items: p
                .data_items
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| {
                    item.as_str()
                        .or_else(|| item["name"].as_str())
                        .map(str::to_owned)
                })
                .collect(),
            // The day of an RFC 3339 time, as written (China's offset).
            recommended_on: super::day(p.recommended_at.get(..10).unwrap_or_default()),
        })
        .collect();
    Ok(render(&ProductsPage {
        chrome: Chrome::new("products"),
        products,
    }))
}
