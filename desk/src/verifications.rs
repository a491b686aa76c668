//! Agencies' verification requests (BRIEF Q7, 附录B): agency staff list subjects for a
//! matter, the platform checks them as of a cut-off and issues a feedback letter, kept
//! here with its findings and the letter's hash. An agency sees its own letters;
//! administrators see every one.

use serde::Serialize;
use storage::audit::{self, Event};
use storage::ids::RequestId;
use storage::said::Said;
use storage::store::{Store, StoreError, new_id};

use crate::db::verifications::{NewRow, Verifications as _};

/// Longest list of subjects in one request.
pub use ::public::verification::MAX_SUBJECTS;

/// Why a verification request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A field is not acceptable.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: Said,
    },
}

impl RequestError {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            RequestError::Invalid { message, .. } => message.zh.clone(),
        }
    }
}

fn invalid(field: impl Into<String>, en: impl Into<String>, zh: impl Into<String>) -> RequestError {
    RequestError::Invalid {
        field: field.into(),
        message: Said::new(en, zh),
    }
}

/// A request as agency staff make it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The matter the check is for.
    pub matter: &'a str,
    /// The title of the agency's request letter.
    pub letter_title: &'a str,
    /// The subjects, each by name and code.
    pub subjects: &'a [::public::verification::Listed],
}

impl<'a> Request<'a> {
    /// The request with its matter and title trimmed, once every field is acceptable.
    pub fn checked(self) -> Result<Request<'a>, RequestError> {
        let matter = self.matter.trim();
        if matter.chars().count() < 2 || matter.chars().count() > 100 {
            return Err(invalid(
                "matter",
                "name the matter in 2 to 100 characters",
                "请填写核查事项，2 到 100 个字。",
            ));
        }
        let letter_title = self.letter_title.trim();
        if letter_title.chars().count() < 2 || letter_title.chars().count() > 100 {
            return Err(invalid(
                "letter_title",
                "give the title of your request letter, 2 to 100 characters",
                "请填写来函标题，2 到 100 个字。",
            ));
        }
        if self.subjects.is_empty() || self.subjects.len() > MAX_SUBJECTS {
            return Err(invalid(
                "subjects",
                format!("list 1 to {MAX_SUBJECTS} subjects; split longer lists"),
                format!("核查名单列 1 到 {MAX_SUBJECTS} 个主体；更长的名单请分批提交。"),
            ));
        }
        for (i, s) in self.subjects.iter().enumerate() {
            if s.name.trim().is_empty() || s.code.trim().is_empty() {
                return Err(invalid(
                    format!("subjects[{i}]"),
                    "each subject needs its name and its code (USCC, or a person's ID number)",
                    "每个主体须有名称和代码（统一社会信用代码，或自然人的公民身份号码）。",
                ));
            }
        }
        Ok(Request {
            matter,
            letter_title,
            subjects: self.subjects,
        })
    }
}

/// A letter issued for a checked request, to archive.
#[derive(Clone, Copy, Debug)]
pub struct Letter<'a> {
    /// The letter's number.
    pub number: &'a str,
    /// The staff member who asked.
    pub requested_by: &'a str,
    /// Their agency.
    pub agency: &'a str,
    /// The request.
    pub request: Request<'a>,
    /// What the check found, subject by subject.
    pub findings: &'a [::public::verification::Finding],
    /// The cut-off of the check (RFC 3339).
    pub cut_off_at: &'a str,
    /// The letter (PDF).
    pub pdf: &'a [u8],
}

/// An archived letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archived {
    /// Its id.
    pub id: String,
    /// The hash of the PDF.
    pub letter_sha256: String,
}

/// Archives and audits a letter.
pub async fn archive(
    store: &Store,
    letter: Letter<'_>,
    request_id: &RequestId,
) -> Result<Archived, StoreError> {
    let id = new_id();
    let letter_sha256 = storage::store::sha256_hex(letter.pdf);
    let mut tx = store.write().await?;
    store
        .insert_verification(
            &mut tx,
            &NewRow {
                id: &id,
                number: letter.number,
                requested_by: letter.requested_by,
                agency: letter.agency,
                matter: letter.request.matter,
                letter_title: letter.request.letter_title,
                subjects: &serde_json::to_string(letter.request.subjects)
                    .expect("subjects serialise"),
                results: &serde_json::to_string(letter.findings).expect("findings serialise"),
                cut_off_at: letter.cut_off_at,
                letter_sha256: &letter_sha256,
                letter: letter.pdf,
            },
        )
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor: letter.requested_by,
            action: "verification.issued",
            subject: &id,
            detail: serde_json::json!({
                "number": letter.number,
                "agency": letter.agency,
                "matter": letter.request.matter,
                "subjects": letter.request.subjects.len(),
                "letter_sha256": letter_sha256,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Archived { id, letter_sha256 })
}

/// A letter as the ledger lists it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = VerificationLetter)]
pub struct Listed {
    /// Its id.
    pub id: String,
    /// Its number.
    pub number: String,
    /// The agency that asked.
    pub agency: String,
    /// The matter.
    pub matter: String,
    /// The findings, subject by subject.
    #[schema(value_type = Vec<::public::verification::Finding>)]
    pub results: serde_json::Value,
    /// The cut-off of the check.
    pub cut_off_at: String,
}

/// The letters of `agency` (every agency's when None), newest first.
pub async fn list(store: &Store, agency: Option<&str>) -> Result<Vec<Listed>, StoreError> {
    Ok(store
        .verifications(agency)
        .await?
        .into_iter()
        .map(|(id, number, agency, matter, results, cut_off_at)| Listed {
            id,
            number,
            agency,
            matter,
            results: serde_json::from_str(&results).unwrap_or(serde_json::Value::Null),
            cut_off_at,
        })
        .collect())
}

/// An archived letter's agency, number and PDF.
pub async fn letter(
    store: &Store,
    id: &str,
) -> Result<Option<(String, String, Vec<u8>)>, StoreError> {
    store.verification_letter(id).await
}
