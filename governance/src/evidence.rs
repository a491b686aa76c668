//! Qualification evidence files of an application (BRIEF P1, 证明材料): PDF, PNG or
//! JPEG, at most [`MAX_EVIDENCE_BYTES`] each and [`MAX_FILES`] per application, the type
//! checked from the content and not only the declared one. Uploaded to drafts only.

use serde::Serialize;
use storage::ids::{ApplicationId, RequestId, UserId};

use storage::audit::{self, Event};
use storage::store::{Store, StoreError, new_id, now, sha256_hex};

use crate::db::applications::Applications as _;
use crate::db::evidence::{Evidence as _, NewRow};
use storage::states::ApplicationStatus;

/// Largest evidence file.
pub const MAX_EVIDENCE_BYTES: usize = 10 << 20;
/// Most files per application.
pub const MAX_FILES: i64 = 50;
/// Accepted types and their leading bytes.
pub const ACCEPTED: [(&str, &[u8]); 3] = [
    ("application/pdf", b"%PDF-"),
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
];

/// An uploaded file, without its content.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceFile {
    /// Id, to list in a qualification's `evidence`.
    pub id: String,
    /// The name it was uploaded under.
    pub filename: String,
    /// `application/pdf`, `image/png` or `image/jpeg`.
    pub media_type: String,
    /// Size.
    pub size_bytes: i64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// When.
    pub uploaded_at: String,
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// Not an accepted type, or the content is not what the type says.
    #[error("{0}")]
    Type(String),
    /// Too large or too many.
    #[error("{0}")]
    TooLarge(String),
    /// Bad file name.
    #[error("{0}")]
    Name(String),
    /// The application is not a draft.
    #[error("evidence can only be added to a draft; this application is {0}")]
    NotDraft(String),
    /// No such file.
    #[error("no such evidence file")]
    NotFound,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The accepted type a Content-Type names, with its leading bytes.
pub fn accepted_type(declared: &str) -> Result<(&'static str, &'static [u8]), EvidenceError> {
    let declared = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ACCEPTED
        .iter()
        .find(|(t, _)| *t == declared)
        .copied()
        .ok_or_else(|| {
            EvidenceError::Type(format!(
                "evidence must be PDF, PNG or JPEG (Content-Type application/pdf, image/png or image/jpeg); got '{declared}'"
            ))
        })
}

/// Checks the declared type against the content; returns the type.
pub fn check_type(declared: &str, content: &[u8]) -> Result<&'static str, EvidenceError> {
    let (media_type, magic) = accepted_type(declared)?;
    if !content.starts_with(magic) {
        return Err(EvidenceError::Type(format!(
            "the content is not a {media_type} file: it does not begin as one"
        )));
    }
    Ok(media_type)
}

/// Checks a file name: 1–200 characters, no path separators or control characters.
pub fn check_filename(name: &str) -> Result<String, EvidenceError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > 200
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
        || name == "."
        || name == ".."
    {
        return Err(EvidenceError::Name(
            "give the file name in ?filename= (1-200 characters, no '/' or '\\')".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Stores an evidence file for a draft application; audited.
pub async fn upload(
    store: &Store,
    application_id: &ApplicationId,
    user_id: &UserId,
    filename: &str,
    media_type: &str,
    content: &[u8],
    request_id: &RequestId,
) -> Result<EvidenceFile, EvidenceError> {
    let filename = check_filename(filename)?;
    if content.len() > MAX_EVIDENCE_BYTES {
        return Err(EvidenceError::TooLarge(format!(
            "an evidence file may be at most {} MiB",
            MAX_EVIDENCE_BYTES >> 20
        )));
    }
    let media_type = check_type(media_type, content)?;
    let mut tx = store.write().await?;
    let status = store
        .application_status(&mut tx, application_id)
        .await?
        .ok_or(EvidenceError::NotFound)?;
    if status != ApplicationStatus::Draft {
        return Err(EvidenceError::NotDraft(status.to_string()));
    }
    let count = store.evidence_count(&mut tx, application_id).await?;
    if count >= MAX_FILES {
        return Err(EvidenceError::TooLarge(format!(
            "an application may have at most {MAX_FILES} evidence files"
        )));
    }
    let file = EvidenceFile {
        id: new_id(),
        filename,
        media_type: media_type.into(),
        size_bytes: content.len() as i64,
        sha256: sha256_hex(content),
        uploaded_at: now(),
    };
    store
        .insert_evidence(
            &mut tx,
            &NewRow {
                id: &file.id,
                application_id,
                uploaded_by: user_id,
                filename: &file.filename,
                media_type: &file.media_type,
                size_bytes: file.size_bytes,
                sha256: &file.sha256,
                content,
                uploaded_at: &file.uploaded_at,
            },
        )
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor: user_id,
            action: "evidence.uploaded",
            subject: &file.id,
            detail: serde_json::json!({
                "application_id": application_id,
                "filename": file.filename,
                "media_type": file.media_type,
                "size_bytes": file.size_bytes,
                "sha256": file.sha256,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(file)
}

/// The files of an application.
pub async fn list(
    store: &Store,
    application_id: &ApplicationId,
) -> Result<Vec<EvidenceFile>, StoreError> {
    store.evidence_files(application_id).await
}

/// One file's type and content.
pub async fn content(
    store: &Store,
    application_id: &ApplicationId,
    id: &str,
) -> Result<(EvidenceFile, Vec<u8>), EvidenceError> {
    store
        .evidence_file(application_id, id)
        .await?
        .ok_or(EvidenceError::NotFound)
}
