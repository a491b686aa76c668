//! Forms that change anything carry a token only this site's pages can know (issue 18).
//! The token lives in a cookie of its own (HttpOnly, SameSite=Strict, Secure when the
//! site is served over TLS) and in a hidden field of every form; a form is taken only
//! when both are present and equal, and when the browser does not say the request came
//! from another site (`Sec-Fetch-Site`, `Origin`). Another site can neither read the
//! cookie nor make the browser send it (SameSite=Strict), so it cannot forge the pair.

use axum::http::header::{COOKIE, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use crate::api::{ApiError, AppState};

/// The cookie holding the token.
pub(crate) const COOKIE_NAME: &str = "cp_csrf";

/// The form field holding the token.
pub(crate) const FIELD: &str = "csrf";

/// A page's token: the browser's, or a fresh one to set.
pub(crate) struct Token {
    /// The token, for the forms' hidden field.
    pub value: String,
    /// Whether it is new (to be set as a cookie with the page).
    fresh: bool,
}

impl Token {
    /// The browser's token, or a new one.
    pub(crate) fn of(headers: &HeaderMap) -> Token {
        match cookie(headers, COOKIE_NAME).filter(|v| well_formed(v)) {
            Some(value) => Token {
                value: value.to_owned(),
                fresh: false,
            },
            None => Token {
                value: storage::store::hex(&storage::store::random_bytes::<32>()),
                fresh: true,
            },
        }
    }

    /// Sets the cookie on `response` when the token is new.
    pub(crate) fn set_on(&self, state: &AppState, response: &mut Response) {
        if !self.fresh {
            return;
        }
        set_cookie(state, response, COOKIE_NAME, &self.value, None);
    }
}

/// Sets cookie `name` to `value` on `response`: HttpOnly, SameSite=Strict, for the whole
/// site, Secure when the site is served over TLS; `max_age` in seconds (0 ends it), or
/// until the browser closes.
pub(crate) fn set_cookie(
    state: &AppState,
    response: &mut Response,
    name: &str,
    value: &str,
    max_age: Option<u32>,
) {
    let secure = if state.settings.public.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let max_age = max_age
        .map(|s| format!("; Max-Age={s}"))
        .unwrap_or_default();
    let cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{max_age}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

/// A token as this module makes them: 64 hex digits.
fn well_formed(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The value of cookie `name`, if the browser sent it.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Checks a posted form's token (`field`, from its hidden field) against the cookie, and
/// that the browser does not say the form came from another site.
pub(crate) fn check(headers: &HeaderMap, field: Option<&str>) -> Result<(), ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "这个表单已过期或不是从本站页面提交的，未作任何处理。请返回上一页，刷新后重新提交。",
        )
    };
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site");
    let foreign_origin = match (
        headers.get(ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get("host").and_then(|v| v.to_str().ok()),
    ) {
        // `null` (a sandboxed frame, a redirect across origins) is no origin of ours.
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_none_or(|(_, authority)| authority != host),
        _ => false,
    };
    if cross_site || foreign_origin {
        return Err(refused());
    }
    let (Some(cookie), Some(field)) = (cookie(headers, COOKIE_NAME), field) else {
        return Err(refused());
    };
    if !well_formed(cookie) || !constant_time_eq(cookie.as_bytes(), field.as_bytes()) {
        return Err(refused());
    }
    Ok(())
}

/// A form that carries the token in its hidden field.
pub(crate) trait Posted {
    /// The token the form carried.
    fn csrf(&self) -> Option<&str>;
}

/// A form that carries nothing but its token (a button: log out, revoke).
#[derive(serde::Deserialize)]
pub(crate) struct TokenOnly {
    csrf: Option<String>,
}

impl Posted for TokenOnly {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// A posted form (`application/x-www-form-urlencoded`) whose token checked out: what
/// every page handler that changes anything takes. The token is checked first, so a
/// form without it (or from another site) is refused with 403 whatever else it holds;
/// a form with it that cannot be read is refused with 400; either changes nothing.
pub(crate) struct Checked<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Checked<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Posted,
{
    type Rejection = super::PageError;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| unreadable(&e.body_text()))?;
        // The same body read twice: its token alone, then the whole form.
        let again = |body: &axum::body::Bytes| {
            let mut request = axum::extract::Request::new(axum::body::Body::from(body.clone()));
            // A form is read from the body of a POST (from the query of a GET).
            *request.method_mut() = axum::http::Method::POST;
            if let Some(kind) = headers.get(axum::http::header::CONTENT_TYPE) {
                request
                    .headers_mut()
                    .insert(axum::http::header::CONTENT_TYPE, kind.clone());
            }
            request
        };
        let token = axum::Form::<TokenOnly>::from_request(again(&body), state)
            .await
            .map(|axum::Form(t)| t)
            .unwrap_or(TokenOnly { csrf: None });
        check(&headers, token.csrf())?;
        let axum::Form(form) = axum::Form::<T>::from_request(again(&body), state)
            .await
            .map_err(|e| unreadable(&e.body_text()))?;
        Ok(Checked(form))
    }
}

/// A form the browser could not send as one (400).
pub(crate) fn unreadable(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_form",
        format!("the form cannot be read: {detail}"),
    )
    .with_zh("表单内容无法读取，未作任何处理。请返回上一页，刷新后重新提交。")
}

/// Equal, in a time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn a_form_is_taken_only_with_its_cookie_from_this_site() {
        let token = "ab".repeat(32);
        let cookie = format!("other=1; {COOKIE_NAME}={token}");
        let ok = headers(&[
            ("cookie", &cookie),
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(check(&ok, Some(&token)).is_ok());
        // Without the field, with another value, without the cookie.
        assert!(check(&ok, None).is_err());
        assert!(check(&ok, Some(&"cd".repeat(32))).is_err());
        let no_cookie = headers(&[("host", "127.0.0.1:8080")]);
        assert!(check(&no_cookie, Some(&token)).is_err());
        // From another site, even with the pair (a cookie set by a sibling domain).
        for (name, value) in [
            ("origin", "http://evil.example"),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
        ] {
            let from = headers(&[
                ("cookie", &cookie),
                ("host", "127.0.0.1:8080"),
                (name, value),
            ]);
            assert!(check(&from, Some(&token)).is_err(), "{name}: {value}");
        }
        // A cookie this site did not make.
        let forged = headers(&[("cookie", "cp_csrf=x"), ("host", "127.0.0.1:8080")]);
        assert!(check(&forged, Some("x")).is_err());
    }

    #[test]
    fn a_browser_keeps_its_token() {
        let token = "0f".repeat(32);
        let kept = Token::of(&headers(&[("cookie", &format!("{COOKIE_NAME}={token}"))]));
        assert_eq!(kept.value, token);
        assert!(!kept.fresh);
        let fresh = Token::of(&HeaderMap::new());
        assert!(fresh.fresh && well_formed(&fresh.value));
    }
}
