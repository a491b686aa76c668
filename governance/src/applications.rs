//! Applications in the platform database: drafts, submission, listing.

use sqlx::Row;

use crate::form::{ApplicationForm, FieldError, check_for_submission};
use storage::audit::{self, Event};
use storage::store::{Store, StoreError, Tx, new_id, now};

/// Where an application is in the workflow.
pub const STATUSES: [&str; 5] = ["draft", "submitted", "under_review", "approved", "rejected"];

/// An application as stored.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Application {
    /// Id.
    pub id: String,
    /// The applicant user.
    pub applicant_id: String,
    /// `draft`, `submitted`, `under_review`, `approved` or `rejected`.
    pub status: String,
    /// The form.
    pub form: ApplicationForm,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Submitted, once it is.
    pub submitted_at: Option<String>,
    /// The automatic entry-criteria checks (BRIEF P2), attached at submission.
    pub criteria: Option<serde_json::Value>,
}

/// Why an application operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    /// No such application.
    #[error("no such application")]
    NotFound,
    /// The application is past the draft stage.
    #[error("the application was submitted on {0} and can no longer be changed")]
    NotDraft(String),
    /// The form is not complete or not valid.
    #[error("the application is not complete")]
    Incomplete(Vec<FieldError>),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ApplicationError {
    fn from(e: sqlx::Error) -> Self {
        ApplicationError::Store(StoreError::Query(e))
    }
}

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Application, ApplicationError> {
    let form: String = row.get("form");
    Ok(Application {
        id: row.get("id"),
        applicant_id: row.get("applicant_id"),
        status: row.get("status"),
        form: serde_json::from_str(&form)
            .map_err(|e| StoreError::Query(sqlx::Error::Decode(Box::new(e))))?,
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        submitted_at: row.get("submitted_at"),
        criteria: row
            .get::<Option<String>, _>("criteria")
            .and_then(|c| serde_json::from_str(&c).ok()),
    })
}

/// Brings the unified social credit codes stored before codes were normalised into their
/// one canonical form ([`policies::Uscc::canonical`]): in application forms, institutions
/// and reviewers' affiliations. Run at every start, after the schema's migrations; it
/// changes nothing once done, and what it changes is audited. Two institutions whose
/// codes differ only in how they were typed are left as they are and reported: which
/// one is the real one is an administrator's decision.
pub async fn normalise_stored_codes(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.write().await?;
    let mut forms = 0;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, form FROM applications")
        .fetch_all(&mut *tx)
        .await?;
    for (id, text) in rows {
        let Ok(form) = serde_json::from_str::<ApplicationForm>(&text) else {
            continue;
        };
        let normal = form.normalised();
        if normal != form {
            sqlx::query("UPDATE applications SET form = ? WHERE id = ?")
                .bind(serde_json::to_string(&normal).expect("a form serialises"))
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            forms += 1;
        }
    }
    let mut institutions = 0;
    let mut clashes = Vec::new();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, uscc FROM institutions")
        .fetch_all(&mut *tx)
        .await?;
    for (id, code) in rows {
        let normal = policies::Uscc::canonical(&code);
        if normal == code {
            continue;
        }
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM institutions WHERE uscc = ?")
                .bind(&normal)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(other) = taken {
            clashes.push(serde_json::json!({ "institutions": [id, other], "uscc": normal }));
            continue;
        }
        sqlx::query("UPDATE institutions SET uscc = ? WHERE id = ?")
            .bind(&normal)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        institutions += 1;
    }
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT user_id, uscc FROM reviewer_affiliations")
            .fetch_all(&mut *tx)
            .await?;
    let mut affiliations = 0;
    for (user, code) in rows {
        let normal = policies::Uscc::canonical(&code);
        if normal != code {
            sqlx::query(
                "UPDATE OR IGNORE reviewer_affiliations SET uscc = ? WHERE user_id = ? AND uscc = ?",
            )
            .bind(&normal)
            .bind(&user)
            .bind(&code)
            .execute(&mut *tx)
            .await?;
            // The canonical code was there already: the typed copy goes.
            sqlx::query("DELETE FROM reviewer_affiliations WHERE user_id = ? AND uscc = ?")
                .bind(&user)
                .bind(&code)
                .execute(&mut *tx)
                .await?;
            affiliations += 1;
        }
    }
    if !clashes.is_empty() {
        tracing::error!(
            clashes = %serde_json::Value::Array(clashes.clone()),
            "institutions whose unified social credit codes differ only in how they were typed; an administrator must decide which is real"
        );
    }
    // Audited when something changed; clashes alone are logged at every start until
    // resolved, not audited again each time.
    if forms + institutions + affiliations == 0 {
        return Ok(());
    }
    audit::append(
        &mut tx,
        Event {
            actor: "system",
            action: "store.codes_normalised",
            subject: "unified social credit codes",
            detail: serde_json::json!({
                "application_forms": forms,
                "institutions": institutions,
                "affiliations": affiliations,
                "clashes": clashes,
            }),
            request_id: "start",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Creates a draft for `applicant_id`.
pub async fn create(
    store: &Store,
    applicant_id: &str,
    form: &ApplicationForm,
    request_id: &str,
) -> Result<Application, ApplicationError> {
    let id = new_id();
    let at = now();
    let mut tx = store.write().await?;
    sqlx::query(
        "INSERT INTO applications (id, applicant_id, status, form, created_at, updated_at) \
         VALUES (?, ?, 'draft', ?, ?, ?)",
    )
    .bind(&id)
    .bind(applicant_id)
    .bind(serde_json::to_string(&form.normalised()).expect("a form serialises"))
    .bind(&at)
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        Event {
            actor: applicant_id,
            action: "application.created",
            subject: &id,
            detail: serde_json::json!({}),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    get(store, &id).await
}

/// One application.
pub async fn get(store: &Store, id: &str) -> Result<Application, ApplicationError> {
    let row = sqlx::query("SELECT * FROM applications WHERE id = ?")
        .bind(id)
        .fetch_optional(store.pool())
        .await?
        .ok_or(ApplicationError::NotFound)?;
    from_row(&row)
}

/// Applications of one applicant, or all (for administrators), oldest first, paged by
/// id after `cursor`.
pub async fn list(
    store: &Store,
    applicant_id: Option<&str>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Vec<Application>, ApplicationError> {
    let rows = sqlx::query(
        "SELECT * FROM applications WHERE (?1 IS NULL OR applicant_id = ?1) AND id > ?2 \
         ORDER BY id LIMIT ?3",
    )
    .bind(applicant_id)
    .bind(cursor.unwrap_or(""))
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// The application `id`, read inside `tx`, if it is still a draft.
async fn draft_in(tx: &mut Tx, id: &str) -> Result<Application, ApplicationError> {
    let row = sqlx::query("SELECT * FROM applications WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(ApplicationError::NotFound)?;
    let application = from_row(&row)?;
    if application.status != "draft" {
        return Err(ApplicationError::NotDraft(
            application.submitted_at.unwrap_or_default(),
        ));
    }
    Ok(application)
}

/// Replaces a draft's form.
pub async fn update(
    store: &Store,
    id: &str,
    actor: &str,
    form: &ApplicationForm,
    request_id: &str,
) -> Result<Application, ApplicationError> {
    let mut tx = store.write().await?;
    draft_in(&mut tx, id).await?;
    sqlx::query("UPDATE applications SET form = ?, updated_at = ? WHERE id = ?")
        .bind(serde_json::to_string(&form.normalised()).expect("a form serialises"))
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "application.updated",
            subject: id,
            detail: serde_json::json!({}),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    get(store, id).await
}

/// Submits a draft after checking every field against the catalog's tables.
pub async fn submit(
    store: &Store,
    id: &str,
    actor: &str,
    catalog_tables: &std::collections::HashSet<String>,
    request_id: &str,
) -> Result<Application, ApplicationError> {
    let mut tx = store.write().await?;
    let application = draft_in(&mut tx, id).await?;
    let mut errors = check_for_submission(&application.form, catalog_tables)
        .err()
        .unwrap_or_default();
    let uploaded: Vec<String> =
        sqlx::query_scalar("SELECT id FROM evidence_files WHERE application_id = ?")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    for (i, q) in application.form.qualifications.iter().enumerate() {
        for (j, file) in q.evidence.iter().enumerate() {
            if !uploaded.contains(file) {
                errors.push(FieldError {
                    field: format!("qualifications[{i}].evidence[{j}]"),
                    message: format!(
                        "no evidence file '{file}' was uploaded to this application; upload it with POST /api/v1/applications/{id}/evidence"
                    ),
                });
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApplicationError::Incomplete(errors));
    }
    let at = now();
    sqlx::query("UPDATE applications SET status = 'submitted', submitted_at = ?, updated_at = ? WHERE id = ?")
        .bind(&at)
        .bind(&at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "application.submitted",
            subject: id,
            detail: serde_json::json!({
                "uscc": application.form.uscc,
                "institution_name": application.form.institution_name,
                "data_supply": application.form.data_supply,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    get(store, id).await
}

/// Attaches the entry-criteria checks to a submitted application; audited.
pub async fn attach_criteria(
    store: &Store,
    id: &str,
    criteria: &crate::criteria::CriteriaReport,
    request_id: &str,
) -> Result<(), ApplicationError> {
    let mut tx = store.write().await?;
    sqlx::query("UPDATE applications SET criteria = ? WHERE id = ?")
        .bind(serde_json::to_string(criteria).unwrap_or_default())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor: "system",
            action: "application.criteria_checked",
            subject: id,
            detail: serde_json::json!({
                "all_required_passed": criteria.all_required_passed,
                "outcomes": criteria
                    .criteria
                    .iter()
                    .map(|c| (c.id.clone(), c.outcome.clone()))
                    .collect::<std::collections::BTreeMap<_, _>>(),
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
