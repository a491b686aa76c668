//! The web pages: a second front door beside the JSON API, for people who do not write
//! curl (issue 18). Server-rendered HTML from templates compiled into the binary
//! (askama, `gateway/templates/`), one stylesheet and htmx served by the binary itself
//! (`assets`), over the same platform functions and Cedar rules as the API: a page
//! holds no rule of its own. Every page works without JavaScript; every value is escaped
//! by the template engine; the Content-Security-Policy allows no inline script or style
//! and nothing from another host.

mod admin;
mod agency;
mod apply;
mod assets;
mod calendar;
mod charts;
mod console;
mod csrf;
mod data;
mod keys;
mod objections;
mod persons;
mod products;
mod progress;
mod public;
mod releases;
mod reports;
mod review;
mod session;
mod source;
mod tickets;
mod workspace;

use askama::Template;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::api::{ApiError, AppState};

/// The pages' routes, with their security headers.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(public::routes())
        .merge(reports::routes())
        .merge(objections::routes())
        .merge(tickets::routes())
        .merge(session::routes())
        .merge(persons::routes())
        .merge(agency::routes())
        .merge(source::routes())
        .merge(console::routes())
        .merge(workspace::routes())
        .merge(data::routes())
        .merge(review::routes())
        .merge(products::routes())
        .merge(admin::routes())
        .merge(progress::routes())
        .merge(apply::routes())
        .merge(releases::routes())
        .merge(calendar::routes())
        .merge(keys::routes())
        .route("/assets/{name}", get(assets::serve))
        .layer(middleware::from_fn(secure))
}

/// The policy of every page: scripts, styles, images and requests only from this
/// server, forms posted only to it, no framing, no plugins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the pages' security headers.
async fn secure(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    harden(response.headers_mut());
    response
}

/// The pages' security headers.
fn harden(headers: &mut axum::http::HeaderMap) {
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // A list's address answers its results alone to htmx (`HX-Request`).
        (header::VARY, "HX-Request, HX-Target"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        // A document that sets its own policy keeps it (a printable report carries its
        // style inline and nothing else).
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}

/// What every page shows around its content: the addresses of the stylesheet and of
/// htmx, and the section of the site it belongs to (marked in the navigation).
pub(crate) struct Chrome {
    /// The stylesheet's address.
    pub stylesheet: &'static str,
    /// htmx's address.
    pub htmx: &'static str,
    /// The site's own script's address.
    pub script: &'static str,
    /// The icon's address.
    pub icon: &'static str,
    /// The navigation entry of this page (`home`, `special`, `sectors`), if any.
    pub section: &'static str,
}

impl Chrome {
    /// The chrome of a page of `section`.
    pub(crate) fn new(section: &'static str) -> Chrome {
        Chrome {
            stylesheet: assets::stylesheet(),
            htmx: assets::htmx(),
            script: assets::script(),
            icon: assets::icon(),
            section,
        }
    }

    /// `aria-current="page"` on the navigation entry of this page's section.
    pub(crate) fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

/// A rendered page.
pub(crate) fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => PageError::from(ApiError::internal(e)).into_response(),
    }
}

/// A page with forms: `page` is made with the browser's CSRF token, answered with
/// `status` (unless rendering failed), and the token's cookie is set when it is new.
pub(crate) fn render_with_token<T: Template>(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    status: StatusCode,
    page: impl FnOnce(String) -> T,
) -> Response {
    let token = csrf::Token::of(headers);
    let mut response = render(&page(token.value.clone()));
    if response.status().is_success() {
        *response.status_mut() = status;
    }
    token.set_on(state, &mut response);
    response
}

/// A refusal shown as a page: the same status and message the API gives.
pub(crate) struct PageError(ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(error: E) -> Self {
        PageError(error.into())
    }
}

/// The page of a refusal.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    title: &'static str,
    message: String,
    request_id: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let page = ErrorPage {
            chrome: Chrome::new(""),
            status: status.as_u16(),
            title: headline(status),
            message: self.0.message_zh().to_owned(),
            request_id: super::api::request_id().to_string(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!("rendering the error page: {e}");
                (status, self.0.message_zh().to_owned()).into_response()
            }
        }
    }
}

/// The headline of a refusal's page.
fn headline(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "未找到",
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "输入有误",
        StatusCode::UNAUTHORIZED => "请先登录",
        StatusCode::FORBIDDEN => "无权访问",
        StatusCode::TOO_MANY_REQUESTS => "请求过于频繁",
        StatusCode::CONFLICT => "操作冲突",
        s if s.is_server_error() => "服务暂时不可用",
        _ => "无法完成请求",
    }
}

/// Whether `path` is the address of a page (neither the API's nor a health check's nor
/// a static file's).
pub(crate) fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path == "/api"
        || path.starts_with("/assets/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics"))
}

/// Whether a request comes from a browser that wants a page rather than JSON.
pub(crate) fn wants_page(path: &str, headers: &axum::http::HeaderMap) -> bool {
    is_page(path)
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// `error` as a page, with the pages' security headers (for answers given outside the
/// pages' routes: an unknown address, a rate limit).
pub(crate) fn error_page(error: ApiError) -> Response {
    let mut response = PageError(error).into_response();
    harden(response.headers_mut());
    response
}

/// The page a browser gets for an address that is neither a page nor the API's.
pub(crate) fn not_found() -> Response {
    error_page(ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_page",
        "没有这个页面。请从首页查询，或检查地址是否输入正确。",
    ))
}

/// The numbered pages of a list: which page a `page` parameter asks for (1 when absent
/// or not a number) and the offset it starts at.
pub(crate) struct Paging {
    /// The page shown, from 1.
    pub page: usize,
    /// Items on a page.
    pub size: usize,
    /// Items in all.
    pub total: usize,
}

/// Items on a page of the site's lists.
pub(crate) const PAGE_SIZE: usize = 20;

impl Paging {
    /// The page `asked` for (leniently: anything but a number from 1 is the first).
    pub(crate) fn asked(asked: Option<&str>) -> Paging {
        let page = asked
            .and_then(|p| p.trim().parse::<usize>().ok())
            .filter(|p| (1..=100_000).contains(p))
            .unwrap_or(1);
        Paging {
            page,
            size: PAGE_SIZE,
            total: 0,
        }
    }

    /// This page of `items`, all of which are counted.
    pub(crate) fn page_of<T>(&mut self, items: Vec<T>) -> impl Iterator<Item = T> {
        self.total = items.len();
        items.into_iter().skip(self.offset()).take(self.size)
    }

    /// The first item's offset.
    pub(crate) fn offset(&self) -> usize {
        (self.page - 1) * self.size
    }

    /// How many pages there are.
    pub(crate) fn pages(&self) -> usize {
        self.total.div_ceil(self.size).max(1)
    }

    /// Whether there is a page before this one.
    pub(crate) fn has_previous(&self) -> bool {
        self.page > 1
    }

    /// Whether there is a page after this one.
    pub(crate) fn has_next(&self) -> bool {
        self.page < self.pages()
    }
}

/// `text` cut into the parts before, inside and after `range` (a match to highlight).
pub(crate) struct Highlighted<'a> {
    /// Before the match.
    pub before: &'a str,
    /// The match (empty when there is none).
    pub matched: &'a str,
    /// After the match.
    pub after: &'a str,
}

impl<'a> Highlighted<'a> {
    /// `name`, with the part `query` matches as a search matches it.
    pub(crate) fn new(name: &'a str, query: &str) -> Highlighted<'a> {
        match ::public::search::matched_range(name, query) {
            Some(range) => Highlighted {
                before: &name[..range.start],
                matched: &name[range.clone()],
                after: &name[range.end..],
            },
            None => Highlighted {
                before: name,
                matched: "",
                after: "",
            },
        }
    }
}

/// The form that follows an objection or a ticket: its number and the token given at
/// filing (posted, so that the token stays out of addresses and logs).
#[derive(serde::Deserialize)]
pub(crate) struct FollowForm {
    csrf: Option<String>,
    /// The number.
    #[serde(default)]
    pub number: String,
    /// The token given at filing.
    #[serde(default)]
    pub token: String,
}

impl csrf::Posted for FollowForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// What a refused form shows: the message beside each field at fault, and a refusal
/// that is no one field's.
#[derive(Default)]
pub(crate) struct Faults {
    by_field: std::collections::HashMap<String, String>,
    /// The refusal that is no one field's.
    pub general: Option<String>,
}

impl Faults {
    /// `error`, beside its field when it names one of `fields` (a list's item, such
    /// as `subjects[2]`, beside the list), else as the form's general refusal.
    pub(crate) fn of(error: &ApiError, fields: &[&str]) -> Faults {
        let mut faults = Faults::default();
        match error.field() {
            Some(field) if fields.contains(&field) => {
                faults
                    .by_field
                    .insert(field.to_owned(), error.message_zh().to_owned());
            }
            Some(field) => match field
                .split_once('[')
                .filter(|(list, _)| fields.contains(list))
            {
                Some((list, index)) => {
                    let line = index
                        .trim_end_matches(']')
                        .parse::<usize>()
                        .map_or(String::new(), |i| format!("第 {} 行：", i + 1));
                    faults
                        .by_field
                        .insert(list.to_owned(), format!("{line}{}", error.message_zh()));
                }
                None => faults.general = Some(error.message_zh().to_owned()),
            },
            None => faults.general = Some(error.message_zh().to_owned()),
        }
        faults
    }

    /// The general refusal shown beside `field` instead (a form of one field).
    pub(crate) fn general_on(mut self, field: &str) -> Faults {
        if let Some(message) = self.general.take() {
            self.by_field.insert(field.to_owned(), message);
        }
        self
    }

    /// `message` beside `field` (the first message a field gets is kept).
    pub(crate) fn add(&mut self, field: &str, message: &str) {
        self.by_field
            .entry(field.to_owned())
            .or_insert_with(|| message.to_owned());
    }

    /// One field at fault.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Faults {
        let mut faults = Faults::default();
        faults.by_field.insert(field.to_owned(), message.into());
        faults
    }

    /// Whether nothing is at fault.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_field.is_empty() && self.general.is_none()
    }

    /// The message beside `field`, if it is at fault.
    pub(crate) fn error(&self, field: &str) -> Option<&str> {
        self.by_field.get(field).map(String::as_str)
    }

    /// `aria-invalid` of `field`.
    pub(crate) fn invalid(&self, field: &str) -> &'static str {
        if self.by_field.contains_key(field) {
            "true"
        } else {
            "false"
        }
    }
}

/// A step of an institution's life in words: what was done, why, and by when it must
/// be rectified. The reason the platform itself wrote at opening is said in Chinese.
pub(crate) fn lifecycle_zh(e: &governance::accounts::LifecycleEvent) -> String {
    let action = match e.action.as_str() {
        "opened" => "开户",
        "suspended" => "暂停",
        "reinstated" => "恢复",
        "terminated" => "终止",
        other => other,
    };
    let reason = match e
        .reason
        .strip_prefix("application ")
        .and_then(|r| r.strip_suffix(" approved"))
    {
        Some(application) if e.action == "opened" => format!("申请 {application} 获批"),
        _ => e.reason.clone(),
    };
    let deadline = e
        .rectification_deadline
        .as_deref()
        .map(|d| format!("（整改期限 {}）", day(d)))
        .unwrap_or_default();
    format!("{action}：{reason}{deadline}")
}

/// A re-evaluation's conclusion in words.
pub(crate) fn conclusion_zh(conclusion: &str) -> &'static str {
    match conclusion {
        "good" => "良好",
        "adequate" => "合格",
        "poor" => "较差",
        _ => "—",
    }
}

/// Which of a page's several forms was refused (a form's name, or the id of the item
/// it acts on), and why: shown beside that form alone.
#[derive(Default)]
pub(crate) struct Refused(Option<(String, String)>);

impl Refused {
    /// `form` was refused with `message`.
    pub(crate) fn of(form: impl Into<String>, message: impl Into<String>) -> Refused {
        Refused(Some((form.into(), message.into())))
    }

    /// The refusal of `form`, if it was the one refused.
    pub(crate) fn at(&self, form: &str) -> Option<&str> {
        self.0
            .as_ref()
            .filter(|(f, _)| f == form)
            .map(|(_, m)| m.as_str())
    }
}

/// The tab of a list shown (`?show=`), for the links' `aria-current`.
pub(crate) struct Tab(pub String);

impl Tab {
    /// `aria-current` of the link to tab `key`.
    pub(crate) fn current(&self, key: &str) -> &'static str {
        if self.0 == key { "page" } else { "false" }
    }

    /// Whether tab `key` is shown.
    pub(crate) fn is(&self, key: &str) -> bool {
        self.0 == key
    }
}

/// A moment (RFC 3339) as a person reads it, in Beijing time.
pub(crate) fn moment(rfc3339: &str) -> String {
    ::public::report::display_time(&serde_json::Value::String(rfc3339.to_owned()))
}

/// A day as a person reads it: `2026年12月11日`.
pub(crate) fn date_zh(day: chrono::NaiveDate) -> String {
    day.format("%Y年%m月%d日").to_string()
}

/// [`date_zh`] of `2026-12-11`; anything else as given.
pub(crate) fn day(iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d").map_or_else(|_| iso.to_owned(), date_zh)
}

/// A query string's value, percent-encoded for a link.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_is_lenient_and_bounded() {
        assert_eq!(Paging::asked(None).page, 1);
        assert_eq!(Paging::asked(Some("abc")).page, 1);
        assert_eq!(Paging::asked(Some("0")).page, 1);
        assert_eq!(Paging::asked(Some("99999999999")).page, 1);
        let mut p = Paging::asked(Some("3"));
        assert_eq!(p.offset(), 2 * PAGE_SIZE);
        p.total = 2 * PAGE_SIZE + 1;
        assert_eq!(p.pages(), 3);
        assert!(p.has_previous() && !p.has_next());
    }

    #[test]
    fn links_encode_every_reserved_byte() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
