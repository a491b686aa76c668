//! Issuing a credit report (BRIEF Q5, Q6), the use case every front door calls: the
//! subject's records as disclosed today (objections marked), the report built, numbered
//! and signed with its verification code, rendered as JSON, a printable page or a PDF
//! (watermarked with the requester and the time), archived with its hashes and audited.

use crate::{DocumentError, Platform};

/// The form a report is issued in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The report as data.
    #[default]
    Json,
    /// A printable page.
    Html,
    /// A PDF document.
    Pdf,
}

impl Format {
    /// Its name, as stored and as asked for.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }

    /// The media type of the document.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
        }
    }
}

/// A report issued and archived.
#[derive(Clone, Debug)]
pub struct IssuedReport {
    /// Its number.
    pub number: String,
    /// Its verification code.
    pub code: String,
    /// The form it was issued in.
    pub format: Format,
    /// The document, as delivered and archived (its hash).
    pub document: Vec<u8>,
}

/// Why a report was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The document could not be made (the PDF font is missing, or rendering failed).
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// The records or the archive failed.
    #[error("{0}")]
    Internal(String),
}

impl From<storage::store::StoreError> for IssueError {
    fn from(e: storage::store::StoreError) -> Self {
        IssueError::Internal(e.to_string())
    }
}

impl Platform {
    /// The key of report verification codes.
    pub fn report_key(&self) -> Vec<u8> {
        desk::issuance::report_key(self.settings.gate.secret.as_ref())
    }

    /// Builds, renders, archives and audits one report about `subject` (whose id is
    /// `subject_id`) for `requester` (named on the watermark), on behalf of `actor`.
    pub async fn issue_report(
        &self,
        subject: ::public::report::Subject<'_>,
        subject_id: &str,
        format: Format,
        requester: &str,
        actor: &str,
        request_id: &str,
    ) -> Result<IssuedReport, IssueError> {
        // Fail before numbering when the PDF font is missing.
        let face = match format {
            Format::Pdf => Some(self.face()?),
            _ => None,
        };
        let now = chrono::Utc::now().with_timezone(&storage::store::beijing());
        let sections = self
            .records
            .disclosed(
                subject_id,
                now.date_naive(),
                &self.settings.disclosure,
                &self.marks.get(&self.store).await?.records,
            )
            .map_err(|e| IssueError::Internal(e.to_string()))?;
        let base = &self.settings.public.base_url;
        let issuer = ::public::report::Issuer {
            name: self.settings.public.issuer.clone(),
            verify_url: format!("{base}/api/v1/public/reports/verify"),
            objection_contact: format!("{base}/api/v1/public/objections"),
        };
        let key = self.report_key();
        let watermark = format!("{requester} {} 查询", now.format("%Y-%m-%d %H:%M"));
        // A number is the second of issue and four random digits: retry on a collision.
        for _ in 0..10 {
            let number =
                ::public::report_id::report_number(now, ::public::report_id::random_suffix());
            let report = ::public::report::build(subject, &sections, &issuer, now, &number, &key);
            let code = report["cover"]["verification_code"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let hash = storage::store::sha256_hex(&::public::report::canonical(&report));
            let content =
                serde_json::to_vec(&report).map_err(|e| IssueError::Internal(e.to_string()))?;
            let verify_url =
                format!("{base}/api/v1/public/reports/verify?number={number}&code={code}");
            let document = match (format, &face) {
                (Format::Pdf, Some(face)) => {
                    let face = face.clone();
                    let (watermark, url) = (watermark.clone(), verify_url.clone());
                    self.render(move || ::public::pdf::report(&face, &report, &watermark, &url))
                        .await?
                        .map_err(|e| IssueError::Internal(e.to_string()))?
                }
                (Format::Html, _) => {
                    ::public::html::report(&report, &watermark, &verify_url).into_bytes()
                }
                _ => serde_json::to_vec_pretty(&report)
                    .map_err(|e| IssueError::Internal(e.to_string()))?,
            };
            let document_hash = storage::store::sha256_hex(&document);
            let archived = desk::issuance::archive(
                &self.store,
                desk::issuance::Issued {
                    number: &number,
                    code: subject.code(),
                    name: subject.name(),
                    subject_id,
                    content_sha256: &hash,
                    content: &content,
                    format: format.as_str(),
                    requester,
                    document_sha256: &document_hash,
                },
                actor,
                request_id,
            )
            .await?;
            if archived {
                return Ok(IssuedReport {
                    number,
                    code,
                    format,
                    document,
                });
            }
        }
        Err(IssueError::Internal(
            "ten report numbers in one second collided".into(),
        ))
    }
}
