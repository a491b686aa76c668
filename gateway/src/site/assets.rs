//! The pages' static files, compiled into the binary and served by it alone: nothing is
//! fetched from another host, at build time or at run time. Each is served under a name
//! carrying a hash of its bytes (`/assets/site-1a2b3c4d5e6f.css`), so that a browser
//! may keep it for a year and a new release is fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One static file.
struct Asset {
    /// Its name as served, with the hash of its bytes.
    name: String,
    /// Its address (`/assets/` and the name), made once for every page to link.
    address: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// Every static file the pages use.
static ASSETS: LazyLock<[Asset; 4]> = LazyLock::new(|| {
    [
        asset(
            "site",
            "css",
            "text/css; charset=utf-8",
            include_bytes!("../../assets/site.css"),
        ),
        // htmx 2.0.11 (BSD Zero Clause License, `assets/htmx-LICENSE`), as published
        // on the npm registry (`htmx.org`, `dist/htmx.min.js`).
        asset(
            "htmx-2.0.11",
            "js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../assets/htmx-2.0.11.min.js"),
        ),
        asset(
            "icon",
            "svg",
            "image/svg+xml",
            include_bytes!("../../assets/icon.svg"),
        ),
        asset(
            "site",
            "js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../assets/site.js"),
        ),
    ]
});

fn asset(stem: &str, extension: &str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    let hash = storage::store::sha256_hex(bytes);
    let name = format!("{stem}-{}.{extension}", &hash[..12]);
    Asset {
        address: format!("/assets/{name}"),
        name,
        content_type,
        bytes,
    }
}

/// The address of the stylesheet.
pub(super) fn stylesheet() -> &'static str {
    &ASSETS[0].address
}

/// The address of htmx.
pub(super) fn htmx() -> &'static str {
    &ASSETS[1].address
}

/// The address of the site's icon.
pub(super) fn icon() -> &'static str {
    &ASSETS[2].address
}

/// The address of the site's own script.
pub(super) fn script() -> &'static str {
    &ASSETS[3].address
}

/// `GET /assets/{name}`: the file, cached for a year (its name changes with its bytes).
pub(super) async fn serve(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_hash_of_the_bytes() {
        let css = stylesheet();
        assert!(
            css.starts_with("/assets/site-") && css.ends_with(".css"),
            "{css}"
        );
        let hash = storage::store::sha256_hex(include_bytes!("../../assets/site.css"));
        assert!(css.contains(&hash[..12]));
        assert!(htmx().starts_with("/assets/htmx-2.0.11-"));
    }
}
