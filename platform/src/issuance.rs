//! Issuing documents, the use cases every front door calls. A credit report (BRIEF Q5,
//! Q6): the subject's records as disclosed today (objections marked), the report built,
//! numbered and signed with its verification code, rendered as JSON, a printable page
//! or a PDF (watermarked with the requester and the time), archived with its hashes and
//! audited. A verification letter (Q7, 附录B): an agency's subjects checked as of now,
//! the feedback letter rendered, archived and audited.

use crate::{DocumentError, Platform, Refusal};
use governance::identity::{Caller, Role};
use policies::access::{Action, Resource};
use storage::ids::{RequestId, UserId};

/// The form a report is issued in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
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

    /// Whether a report number and verification code belong to a report issued here
    /// (Q5): its particulars when they do.
    pub async fn verify_report(
        &self,
        number: &str,
        code: &str,
    ) -> Result<Option<desk::issuance::Genuine>, storage::store::StoreError> {
        desk::issuance::verify(&self.store, &self.report_key(), number.trim(), code.trim()).await
    }

    /// Whether `document` is, byte for byte, the one issued under report `number`: its
    /// particulars when it is.
    pub async fn check_report_document(
        &self,
        number: &str,
        document: &[u8],
    ) -> Result<Option<desk::issuance::Document>, storage::store::StoreError> {
        desk::issuance::check_document(&self.store, number.trim(), document).await
    }

    /// Builds, renders, archives and audits one report about `subject` (whose id is
    /// `subject_id`) for `requester` (named on the watermark), on behalf of `actor`.
    pub async fn issue_report(
        &self,
        subject: ::public::report::Subject<'_>,
        subject_id: &str,
        format: Format,
        requester: &str,
        actor: &UserId,
        request_id: &RequestId,
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
            // The verification page (a person scans the QR code with a phone).
            verify_url: format!("{base}/verify"),
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
            let verify_url = format!("{base}/verify?number={number}&code={code}");
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

/// A verification letter issued and archived.
#[derive(Clone, Debug)]
pub struct IssuedLetter {
    /// Its id in the archive.
    pub id: String,
    /// Its number.
    pub number: String,
    /// The cut-off of the check (RFC 3339).
    pub cut_off_at: String,
    /// What the check found, subject by subject.
    pub findings: Vec<::public::verification::Finding>,
    /// The hash of the PDF.
    pub letter_sha256: String,
}

/// Why a verification letter was not issued.
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    /// The request is not acceptable.
    #[error(transparent)]
    Request(#[from] desk::verifications::RequestError),
    /// The letter could not be made, or the archive failed.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The caller may not ask for one.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl LetterError {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            LetterError::Request(desk::verifications::RequestError::Invalid {
                message, ..
            }) => message.zh.clone(),
            LetterError::Issue(IssueError::Document(DocumentError::FontUnavailable)) => {
                "暂时无法生成 PDF 文件，请稍后再试。".into()
            }
            LetterError::Issue(_) => "服务暂时不可用，请稍后再试。".into(),
            LetterError::Refused(e) => e.zh(),
        }
    }
}

/// An archived feedback letter.
#[derive(Clone, Debug)]
pub struct ArchivedLetter {
    /// Its number.
    pub number: String,
    /// The PDF.
    pub pdf: Vec<u8>,
}

impl Platform {
    /// Agency staff ask for the subjects of `request` to be checked (Q7): the request
    /// checked, the subjects checked as of now, the feedback letter of 附录B addressed to
    /// their agency and watermarked with their name rendered (PDF), archived and audited.
    pub async fn issue_verification_letter(
        &self,
        caller: &Caller,
        request: desk::verifications::Request<'_>,
        request_id: &RequestId,
    ) -> Result<IssuedLetter, LetterError> {
        self.authorize(caller, Action::VerifySubjects, &Resource::Platform)?;
        let requester: &str = &caller.user_id;
        let requester_name = &caller.display_name;
        let agency = caller.organisation.as_deref().unwrap_or_default();
        let request = request.checked()?;
        let face = self.face().map_err(IssueError::from)?;
        let now = chrono::Utc::now().with_timezone(&storage::store::beijing());
        let findings = ::public::verification::check(
            &self.records,
            &self.search,
            request.subjects,
            now.date_naive(),
            &self.settings.disclosure,
            &self
                .marks
                .get(&self.store)
                .await
                .map_err(IssueError::from)?
                .records,
        )
        .map_err(|e| IssueError::Internal(e.to_string()))?;
        let suffix = u32::from_be_bytes(storage::store::random_bytes::<4>()) % 10_000;
        let number = format!("HC{}{suffix:04}", now.format("%Y%m%d%H%M%S"));
        let public = &self.settings.public;
        let letter = ::public::pdf::Letter {
            matter: request.matter.to_owned(),
            addressee: agency.to_owned(),
            letter_title: request.letter_title.to_owned(),
            cut_off: now.format("%Y年%m月%d日%H时%M分").to_string(),
            issuer: public.issuer.clone(),
            platform: format!("{}信用核查系统", public.issuer),
            contact: public.contact.clone(),
            number: number.clone(),
            date: now.format("%Y年%m月%d日").to_string(),
            findings: findings.clone(),
        };
        let watermark = format!(
            "{agency} {requester_name} {} 核查",
            now.format("%Y-%m-%d %H:%M")
        );
        let pdf = self
            .render(move || ::public::pdf::letter(&face, &letter, &watermark))
            .await
            .map_err(IssueError::from)?
            .map_err(|e| IssueError::Internal(e.to_string()))?;
        let cut_off_at = now.to_rfc3339();
        let archived = desk::verifications::archive(
            &self.store,
            desk::verifications::Letter {
                number: &number,
                requested_by: requester,
                agency,
                request,
                findings: &findings,
                cut_off_at: &cut_off_at,
                pdf: &pdf,
            },
            request_id,
        )
        .await
        .map_err(IssueError::from)?;
        Ok(IssuedLetter {
            id: archived.id,
            number,
            cut_off_at,
            findings,
            letter_sha256: archived.letter_sha256,
        })
    }

    /// The verification letters of `caller`'s agency, newest first (administrators:
    /// every agency's).
    pub async fn verifications(
        &self,
        caller: &Caller,
    ) -> Result<Vec<desk::verifications::Listed>, Refusal> {
        let agency = if caller.role == Role::AgencyStaff {
            Some(caller.organisation.clone().ok_or(Refusal::Forbidden {
                code: "forbidden",
                message: "your account names no agency: ask the administrators to set it".into(),
            })?)
        } else {
            self.authorize(caller, Action::ReadVerificationLedger, &Resource::Platform)?;
            None
        };
        Ok(desk::verifications::list(&self.store, agency.as_deref()).await?)
    }

    /// The archived feedback letter `id`, for its agency's staff and administrators;
    /// another agency's letter is, to its staff, not there.
    pub async fn verification_letter(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<ArchivedLetter, Refusal> {
        let Some((agency, number, pdf)) = desk::verifications::letter(&self.store, id).await?
        else {
            return Err(Refusal::NotFound("verification"));
        };
        let own =
            caller.role == Role::AgencyStaff && caller.organisation.as_deref() == Some(&agency);
        if !own {
            if caller.role != Role::Administrator {
                return Err(Refusal::NotFound("verification"));
            }
            self.authorize(caller, Action::ReadVerificationLedger, &Resource::Platform)?;
        }
        Ok(ArchivedLetter { number, pdf })
    }
}
