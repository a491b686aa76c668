//! A JSON body extractor whose refusals are API errors: malformed JSON is 400, a wrong
//! content type 415, a missing or mistyped field 422 naming the field, an oversized
//! body 413.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::{ApiError, MAX_JSON_BYTES};

/// `Json<T>` with API errors.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(refusal(rejection)),
        }
    }
}

fn refusal(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // serde names the path: "missing field `password`", "invalid type … at line".
            let detail = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.body_text());
            let error = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("the JSON body does not have the expected fields and types: {detail}"),
            );
            match field_named_in(&detail) {
                Some(field) => error.with_field(field),
                None => error,
            }
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body is not valid JSON",
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with 'Content-Type: application/json'",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the body is larger than the limit of {} KiB",
                    MAX_JSON_BYTES >> 10
                ),
            )
        }
        other => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", other.body_text()),
    }
}

/// The field at fault in serde's message: the path before ": " when there is one
/// ("name: invalid type: …"), else the field in "missing field `x`" or "unknown field
/// `x`".
fn field_named_in(detail: &str) -> Option<String> {
    for marker in ["missing field `", "unknown field `"] {
        if let Some(at) = detail.find(marker) {
            return detail[at + marker.len()..]
                .split('`')
                .next()
                .map(str::to_owned);
        }
    }
    let (path, _) = detail.split_once(": ")?;
    (!path.is_empty() && path != "." && !path.contains(' ')).then(|| path.to_owned())
}

/// `Query<T>` with API errors: a query string that does not fit is 400 `invalid_query`,
/// naming what serde could not read (an unknown or mistyped parameter).
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => {
                let detail = std::error::Error::source(&rejection)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| rejection.body_text());
                Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("the query string does not have the expected parameters: {detail}"),
                ))
            }
        }
    }
}
