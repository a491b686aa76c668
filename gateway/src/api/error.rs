//! The one error shape of the API (docs/api-conventions.md): a status, a stable code,
//! a human message, the field at fault if one is, and the request id. Internals go to
//! the log, never to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use governance::identity::IdentityError;
use platform::store::StoreError;
use storage::ids::RequestId;

tokio::task_local! {
    /// The id of the request being served.
    pub static REQUEST_ID: String;
}

/// The current request's id, or `-` outside a request.
pub fn request_id() -> RequestId {
    REQUEST_ID
        .try_with(|id| RequestId::from(id.as_str()))
        .unwrap_or_else(|_| RequestId::from("-"))
}

/// An error answered to the client. Boxed, so that `Result<_, ApiError>` stays small.
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
    details: Option<serde_json::Value>,
    /// What a page shows, in Chinese, when it differs from `message` (the API's).
    zh: Option<String>,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(Inner {
            status,
            code,
            message: message.into(),
            field: None,
            details: None,
            zh: None,
        }))
    }

    /// 422 for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message).with_field(field)
    }

    /// 404: not found, or not the caller's.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {what} with that id is visible to you"),
        )
        .with_zh("没有找到，或您无权查看。")
    }

    /// 401.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 500 for a bug or an environment failure: logged in full, answered in general.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(request_id = %request_id(), "internal error: {error}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; it has been logged with this request's id",
        )
        .with_zh("服务出了差错，已按本次请求的编号记录，请稍后再试。")
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The stable code (`invalid_field`, `second_factor_required`, …).
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// What the caller is told.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// What a page shows: the message in Chinese where the rule that refused says it,
    /// else [`Self::message`].
    pub fn message_zh(&self) -> &str {
        self.0.zh.as_deref().unwrap_or(&self.0.message)
    }

    /// The same error, said in Chinese on the pages.
    pub fn with_zh(mut self, zh: impl Into<String>) -> ApiError {
        self.0.zh = Some(zh.into());
        self
    }

    /// The field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        self.0.field.as_deref()
    }

    /// Its structured details, if it has any.
    pub fn details(&self) -> Option<&serde_json::Value> {
        self.0.details.as_ref()
    }

    /// The same error with structured details (e.g. every field at fault).
    pub fn with_details(mut self, details: serde_json::Value) -> ApiError {
        self.0.details = Some(details);
        self
    }

    /// The same error, naming the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.0.field = Some(field.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Inner {
            status,
            code,
            message,
            field,
            details,
            zh: _,
        } = *self.0;
        let mut error = serde_json::json!({
            "code": code,
            "message": message,
            "request_id": request_id(),
        });
        if let Some(field) = field {
            error["field"] = field.into();
        }
        // A refusal that knows when to come back says so in the header too (RFC 9110).
        let retry_after = details
            .as_ref()
            .and_then(|d| d["retry_after_seconds"].as_u64());
        if let Some(details) = details {
            error["details"] = details;
        }
        let mut response = (status, Json(serde_json::json!({ "error": error }))).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<desk::authorisations::AuthorisationError> for ApiError {
    fn from(e: desk::authorisations::AuthorisationError) -> Self {
        use desk::authorisations::AuthorisationError;
        let zh = e.zh();
        let error: ApiError = match e {
            AuthorisationError::Invalid { field, message } => ApiError::invalid(field, message.en),
            AuthorisationError::NotFound => ApiError::not_found("live authorisation of yours"),
            AuthorisationError::Store(e) => ApiError::internal(e),
        };
        error.with_zh(zh)
    }
}

impl From<desk::verifications::RequestError> for ApiError {
    fn from(e: desk::verifications::RequestError) -> Self {
        let zh = e.zh();
        let error: ApiError = match e {
            desk::verifications::RequestError::Invalid { field, message } => {
                ApiError::invalid(field, message.en)
            }
        };
        error.with_zh(zh)
    }
}

impl From<platform::LifecycleError> for ApiError {
    fn from(e: platform::LifecycleError) -> Self {
        match e {
            platform::LifecycleError::Account(e) => e.into(),
            platform::LifecycleError::Workspace(e) => e.into(),
        }
    }
}

impl From<platform::issuance::IssueError> for ApiError {
    fn from(e: platform::issuance::IssueError) -> Self {
        match e {
            platform::issuance::IssueError::Document(e) => e.into(),
            platform::issuance::IssueError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl From<platform::issuance::LetterError> for ApiError {
    fn from(e: platform::issuance::LetterError) -> Self {
        let zh = e.zh();
        let error: ApiError = match e {
            platform::issuance::LetterError::Request(e) => e.into(),
            platform::issuance::LetterError::Issue(e) => e.into(),
            platform::issuance::LetterError::Refused(e) => e.into(),
        };
        error.with_zh(zh)
    }
}

impl From<platform::CredentialFailure> for ApiError {
    fn from(e: platform::CredentialFailure) -> Self {
        let zh = e.zh();
        let error: ApiError = match e {
            platform::CredentialFailure::Identity(e) => e.into(),
            platform::CredentialFailure::Refused(e) => e.into(),
        };
        error.with_zh(zh)
    }
}

impl From<platform::Refusal> for ApiError {
    fn from(e: platform::Refusal) -> Self {
        use platform::Refusal;
        let zh = e.zh();
        let error: ApiError = match e {
            Refusal::Forbidden { code, message } => {
                ApiError::new(StatusCode::FORBIDDEN, code, message)
            }
            Refusal::NotFound(what) => ApiError::not_found(what),
            Refusal::Invalid { field, message } => ApiError::invalid(field, message.en),
            Refusal::Internal(e) => ApiError::internal(e),
        };
        error.with_zh(zh)
    }
}

impl From<platform::DocumentError> for ApiError {
    fn from(e: platform::DocumentError) -> Self {
        match e {
            platform::DocumentError::FontUnavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "pdf_unavailable",
                e.to_string(),
            ),
            platform::DocumentError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        let zh = e.zh();
        let error: ApiError = match e {
            IdentityError::BadLogin => ApiError::unauthenticated(e.to_string()),
            IdentityError::Locked { ref until } => {
                // `until` is cut to the second: one more, so that a client retrying on
                // time finds the account open.
                let seconds = chrono::DateTime::parse_from_rfc3339(until)
                    .map(|t| (t.timestamp() - chrono::Utc::now().timestamp() + 1).max(1))
                    .unwrap_or(1);
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "account_locked",
                    e.to_string(),
                )
                .with_details(serde_json::json!({ "retry_after_seconds": seconds }))
            }
            IdentityError::BadToken => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", e.to_string())
            }
            IdentityError::Invalid { field, message } => ApiError::invalid(field, message.en),
            IdentityError::Taken(_) => {
                ApiError::new(StatusCode::CONFLICT, "username_taken", e.to_string())
                    .with_field("username")
            }
            IdentityError::SecondFactorRequired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "second_factor_required",
                e.to_string(),
            )
            .with_field("one_time_code"),
            IdentityError::BadSecondFactor => {
                ApiError::new(StatusCode::UNAUTHORIZED, "bad_second_factor", e.to_string())
                    .with_field("one_time_code")
            }
            IdentityError::SecondFactorEnrolmentNeeded => ApiError::new(
                StatusCode::FORBIDDEN,
                "second_factor_enrolment_required",
                e.to_string(),
            ),
            IdentityError::EnrolFromSession => {
                ApiError::new(StatusCode::FORBIDDEN, "enrol_from_session", e.to_string())
            }
            IdentityError::SecondFactorEnrolled => ApiError::new(
                StatusCode::CONFLICT,
                "second_factor_enrolled",
                e.to_string(),
            ),
            IdentityError::Disabled => {
                ApiError::new(StatusCode::FORBIDDEN, "account_disabled", e.to_string())
            }
            IdentityError::NoUser => ApiError::not_found("user"),
            IdentityError::PersonRegistered => {
                ApiError::new(StatusCode::CONFLICT, "already_registered", e.to_string())
            }
            IdentityError::Store(e) => ApiError::internal(e),
        };
        error.with_zh(zh)
    }
}
