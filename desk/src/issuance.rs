//! The archive of issued credit reports (BRIEF Q5, Q6): each report is kept with its
//! number, its subject, the hash of its canonical content and of the document as
//! delivered, so that anyone holding a report can check it: by its number and
//! verification code ([`verify`]), or the document itself, byte for byte
//! ([`check_document`]).

use serde::Serialize;
use storage::audit::{self, Event};
use storage::ids::{RequestId, UserId};
use storage::store::{Store, StoreError, now};

use crate::db::issuance::IssuedReports as _;

/// The key of report verification codes, derived from the server's key so that it never
/// equals the gate's.
pub fn report_key(server_secret: &[u8]) -> Vec<u8> {
    let mut material = b"creditpool report verification\n".to_vec();
    material.extend_from_slice(server_secret);
    ring::digest::digest(&ring::digest::SHA256, &material)
        .as_ref()
        .to_vec()
}

/// A report about to be archived.
#[derive(Clone, Copy, Debug)]
pub struct Issued<'a> {
    /// Its number.
    pub number: &'a str,
    /// The subject's code (USCC, or a person's masked ID number).
    pub code: &'a str,
    /// The subject's name.
    pub name: &'a str,
    /// The subject's id.
    pub subject_id: &'a str,
    /// The hash of its canonical content.
    pub content_sha256: &'a str,
    /// Its content (the report as JSON).
    pub content: &'a [u8],
    /// `json`, `html` or `pdf`.
    pub format: &'a str,
    /// Who asked for it, as its watermark names them.
    pub requester: &'a str,
    /// The hash of the document delivered.
    pub document_sha256: &'a str,
}

/// Archives and audits an issued report; false (nothing written) when its number is
/// taken already, so that the caller numbers it again.
pub async fn archive(
    store: &Store,
    report: Issued<'_>,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<bool, StoreError> {
    let mut tx = store.write().await?;
    let inserted = store.insert_issued_report(&mut tx, &report, &now()).await?;
    if !inserted {
        return Ok(false);
    }
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "report.issued",
            subject: report.number,
            detail: serde_json::json!({
                "subject": report.code,
                "format": report.format,
                "requester": report.requester,
                "content_sha256": report.content_sha256,
                "document_sha256": report.document_sha256,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A report the archive vouches for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Genuine {
    /// Its number.
    pub report_number: String,
    /// The subject's code.
    pub uscc: String,
    /// The subject's name.
    pub subject_name: String,
    /// When it was issued.
    pub issued_at: String,
    /// The hash of its canonical content.
    pub content_sha256: String,
}

/// The report issued under `number`, when `code` is its verification code (under
/// `key`, [`report_key`]); None for an unknown number or a wrong code alike.
pub async fn verify(
    store: &Store,
    key: &[u8],
    number: &str,
    code: &str,
) -> Result<Option<Genuine>, StoreError> {
    let row = store
        .issued_report(number)
        .await?
        .map(|a| (a.uscc, a.subject_name, a.content_sha256, a.issued_at));
    Ok(
        row.and_then(|(uscc, subject_name, content_sha256, issued_at)| {
            ::public::report_id::verify_hash(key, number, &uscc, &content_sha256, code).then(|| {
                Genuine {
                    report_number: number.to_owned(),
                    uscc,
                    subject_name,
                    issued_at,
                    content_sha256,
                }
            })
        }),
    )
}

/// A document the archive vouches for, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = IssuedDocument)]
pub struct Document {
    /// The report's number.
    pub report_number: String,
    /// The subject's name.
    pub subject_name: String,
    /// The subject's code.
    pub subject_code: String,
    /// When it was issued.
    pub issued_at: String,
    /// `json`, `html` or `pdf`.
    pub format: String,
    /// The document's hash.
    pub document_sha256: String,
}

/// The report issued under `number`, when `document` is, byte for byte, the document
/// delivered then; None otherwise.
pub async fn check_document(
    store: &Store,
    number: &str,
    document: &[u8],
) -> Result<Option<Document>, StoreError> {
    let row = store.issued_report(number).await?.map(|a| {
        (
            a.subject_name,
            a.issued_at,
            a.document_sha256,
            a.format,
            a.uscc,
        )
    });
    let hash = storage::store::sha256_hex(document);
    Ok(
        row.and_then(|(subject_name, issued_at, stored, format, subject_code)| {
            (stored.as_deref() == Some(hash.as_str())).then(|| Document {
                report_number: number.to_owned(),
                subject_name,
                subject_code,
                issued_at,
                format,
                document_sha256: hash,
            })
        }),
    )
}
