//! Credit reports on the public site (BRIEF Q5, Q6, issue 18): request one from a
//! subject's page (the PDF to download, or the printable page), and the page the QR code
//! and the verification address of every report lead to: whether the report with that
//! number and code is genuine, for which subject and when it was issued, and a check of
//! the downloaded file byte for byte.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use platform::issuance::Format;
use serde::Deserialize;
use storage::ids::UserId;

use super::csrf::{self, Checked, Posted};
use super::{Chrome, PageError, render_with_token};
use crate::api::disclosure::{MAX_DOCUMENT_BYTES, issue};
use crate::api::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/subjects/{uscc}/report", post(request))
        .route("/verify", get(verify))
        .route(
            "/verify/document",
            post(check_document).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 64 * 1024)),
        )
}

/// The report form of a subject's page.
#[derive(Deserialize)]
pub(super) struct ReportForm {
    csrf: Option<String>,
    #[serde(default)]
    requester: String,
    format: Option<String>,
}

impl Posted for ReportForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl ReportForm {
    /// The document asked for: the printable page, or (by default) the PDF.
    pub(super) fn format(&self) -> Format {
        match self.format.as_deref() {
            Some("html") => Format::Html,
            _ => Format::Pdf,
        }
    }
}

/// What the subject's page shows in its report form: what was typed, and why it was
/// refused.
#[derive(Default)]
pub(super) struct ReportFormState {
    /// The requester typed.
    pub requester: String,
    /// Why the form was refused, next to the requester field.
    pub error: Option<String>,
}

/// `POST /subjects/{uscc}/report`: issues the report (the same function as the API's)
/// and answers with the document: the PDF as a download, or the printable page. A
/// refused form shows the subject's page again with the reason beside the field.
async fn request(
    State(state): State<AppState>,
    Path(uscc): Path<String>,
    headers: HeaderMap,
    Checked(form): Checked<ReportForm>,
) -> Result<Response, PageError> {
    let format = form.format();
    let found = state.public_subject(&uscc).await?.entry.clone();
    let requester = match platform::disclosure::requester(Some(&form.requester)) {
        Ok(requester) => requester,
        Err(refusal) => {
            let error = ApiError::from(refusal).message_zh().to_owned();
            return super::public::subject_page(
                &state,
                &headers,
                &uscc,
                ReportFormState {
                    requester: form.requester,
                    error: Some(error),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    Ok(issue(
        &state,
        ::public::report::Subject::Organisation(&found),
        &found.subject_id,
        format,
        &requester,
        &UserId::from("public"),
    )
    .await?)
}

#[derive(Deserialize)]
struct VerifyQuery {
    number: Option<String>,
    code: Option<String>,
}

/// A report as the archive vouches for it.
struct Vouched {
    number: String,
    subject_name: String,
    code: String,
    issued_at: String,
}

#[derive(Template)]
#[template(path = "public/verify.html")]
struct VerifyPage {
    chrome: Chrome,
    csrf: String,
    number: String,
    code: String,
    /// Whether a number and a code were given.
    asked: bool,
    genuine: Option<Vouched>,
    /// The outcome of a document check, when one was made.
    document: Option<DocumentOutcome>,
    /// Why the document check's number is refused.
    number_error: Option<&'static str>,
    /// Why the document check's file is refused.
    document_error: Option<&'static str>,
}

/// What a document check found.
struct DocumentOutcome {
    /// Whether the file is the one issued, byte for byte.
    same: bool,
    /// The file's name as uploaded.
    file_name: String,
    /// The format of the report issued under the number (pdf, html, json), when same.
    format: String,
}

impl From<desk::issuance::Genuine> for Vouched {
    fn from(g: desk::issuance::Genuine) -> Self {
        Vouched {
            number: g.report_number,
            subject_name: g.subject_name,
            code: g.uscc,
            // As printed on the report: `2026年11月20日 09:30:00`.
            issued_at: super::moment(&g.issued_at),
        }
    }
}

/// `GET /verify?number=&code=`: whether the report is genuine, said plainly.
async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<VerifyQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = query.map(|Query(q)| q).unwrap_or(VerifyQuery {
        number: None,
        code: None,
    });
    let number = query.number.unwrap_or_default().trim().to_owned();
    let code = query.code.unwrap_or_default().trim().to_owned();
    let asked = !number.is_empty() && !code.is_empty();
    let genuine = if asked {
        state
            .verify_report(&number, &code)
            .await?
            .map(Vouched::from)
    } else {
        None
    };
    Ok(render_with_token(
        &state,
        &headers,
        StatusCode::OK,
        |csrf| VerifyPage {
            chrome: Chrome::new("verify"),
            csrf,
            number,
            code,
            asked,
            genuine,
            document: None,
            number_error: None,
            document_error: None,
        },
    ))
}

/// `POST /verify/document` (multipart: `number`, `code`, `document`, `csrf`): whether the
/// uploaded file is, byte for byte, the one issued under the number.
async fn check_document(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let unreadable = |detail: String| PageError::from(csrf::unreadable(&detail));
    let mut multipart = multipart.map_err(|e| unreadable(e.body_text()))?;
    let (mut token, mut number, mut code) = (None, String::new(), String::new());
    let mut document: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| too_large_or(e.status(), e.body_text()))?
    {
        match field.name() {
            Some(csrf::FIELD) => {
                token = Some(field.text().await.map_err(|e| unreadable(e.body_text()))?)
            }
            Some("number") => number = field.text().await.map_err(|e| unreadable(e.body_text()))?,
            Some("code") => code = field.text().await.map_err(|e| unreadable(e.body_text()))?,
            Some("document") => {
                let name = field.file_name().unwrap_or("报告文件").to_owned();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| too_large_or(e.status(), e.body_text()))?;
                document = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    csrf::check(&headers, token.as_deref())?;
    let number = number.trim().to_owned();
    let code = code.trim().to_owned();
    let document = document.filter(|(_, b)| !b.is_empty());
    let number_error = number.is_empty().then_some("请填写报告上印的报告编号。");
    let document_error = document
        .is_none()
        .then_some("请选择要核对的报告文件（PDF、网页或 JSON）。");
    let refused = number_error.is_some() || document_error.is_some();
    let Some((file_name, bytes)) = document.filter(|_| !refused) else {
        return Ok(render_with_token(
            &state,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            |csrf| VerifyPage {
                chrome: Chrome::new("verify"),
                csrf,
                asked: false,
                number,
                code,
                genuine: None,
                document: None,
                number_error,
                document_error,
            },
        ));
    };
    let checked = state.check_report_document(&number, &bytes).await?;
    let genuine = if code.is_empty() {
        None
    } else {
        state
            .verify_report(&number, &code)
            .await?
            .map(Vouched::from)
    };
    Ok(render_with_token(
        &state,
        &headers,
        StatusCode::OK,
        |csrf| VerifyPage {
            chrome: Chrome::new("verify"),
            csrf,
            asked: !code.is_empty(),
            number,
            code,
            genuine,
            document: Some(DocumentOutcome {
                same: checked.is_some(),
                file_name,
                format: checked.map(|d| d.format).unwrap_or_default(),
            }),
            number_error: None,
            document_error: None,
        },
    ))
}

/// 413 for a file over the limit, else 400 with `detail`.
fn too_large_or(status: StatusCode, detail: String) -> PageError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "a document to check is at most {} MiB",
                MAX_DOCUMENT_BYTES >> 20
            ),
        )
        .with_zh(format!("核对的文件最大 {} MB。", MAX_DOCUMENT_BYTES >> 20))
        .into();
    }
    csrf::unreadable(&detail).into()
}
