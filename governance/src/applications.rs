//! Applications in the platform database: drafts, submission, listing.

use crate::db::accounts::Accounts as _;
use crate::db::applications::Applications as _;
use crate::form::{ApplicationForm, FieldError, check_for_submission};
use storage::audit::{self, Event};
use storage::ids::{ApplicationId, RequestId, UserId};
use storage::states::ApplicationStatus;
use storage::store::{Store, StoreError, Tx, now};

/// An application as stored.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Application {
    /// Id.
    pub id: ApplicationId,
    /// The applicant user.
    pub applicant_id: UserId,
    /// `draft`, `submitted`, `under_review`, `approved` or `rejected`.
    pub status: ApplicationStatus,
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

/// Brings the unified social credit codes stored before codes were normalised into their
/// one canonical form ([`policies::Uscc::canonical`]): in application forms, institutions
/// and reviewers' affiliations. Run at every start, after the schema's migrations; it
/// changes nothing once done, and what it changes is audited. Two institutions whose
/// codes differ only in how they were typed are left as they are and reported: which
/// one is the real one is an administrator's decision.
pub async fn normalise_stored_codes(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.write().await?;
    let mut forms = 0;
    let rows = store.application_forms(&mut tx).await?;
    for (id, form) in rows {
        let Some(form) = form else {
            continue;
        };
        let normal = form.normalised();
        if normal != form {
            store.set_application_form(&mut tx, &id, &normal).await?;
            forms += 1;
        }
    }
    let mut institutions = 0;
    let mut clashes = Vec::new();
    let rows = store.institution_codes(&mut tx).await?;
    for (id, code) in rows {
        let normal = policies::Uscc::canonical(&code);
        if normal == code {
            continue;
        }
        let taken = store.institution_with_uscc(&mut tx, &normal).await?;
        if let Some(other) = taken {
            clashes.push(serde_json::json!({ "institutions": [id, other], "uscc": normal }));
            continue;
        }
        store.set_institution_code(&mut tx, &id, &normal).await?;
        institutions += 1;
    }
    let rows = store.affiliation_codes(&mut tx).await?;
    let mut affiliations = 0;
    for (user, code) in rows {
        let normal = policies::Uscc::canonical(&code);
        if normal != code {
            store
                .recode_affiliation(&mut tx, &user, &code, &normal)
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
    applicant_id: &UserId,
    form: &ApplicationForm,
    request_id: &RequestId,
) -> Result<Application, ApplicationError> {
    let id = ApplicationId::random();
    let at = now();
    let mut tx = store.write().await?;
    store
        .insert_application(&mut tx, &id, applicant_id, &form.normalised(), &at)
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
pub async fn get(store: &Store, id: &ApplicationId) -> Result<Application, ApplicationError> {
    store
        .application(id)
        .await?
        .ok_or(ApplicationError::NotFound)
}

/// Applications of one applicant, or all (for administrators), oldest first, paged by
/// id after `cursor`.
pub async fn list(
    store: &Store,
    applicant_id: Option<&str>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Vec<Application>, ApplicationError> {
    Ok(store
        .applications(applicant_id, cursor.unwrap_or(""), i64::from(limit))
        .await?)
}

/// The application `id`, read inside `tx`, if it is still a draft.
async fn draft_in(
    store: &Store,
    tx: &mut Tx,
    id: &ApplicationId,
) -> Result<Application, ApplicationError> {
    let application = store
        .application_in(tx, id)
        .await?
        .ok_or(ApplicationError::NotFound)?;
    if application.status != ApplicationStatus::Draft {
        return Err(ApplicationError::NotDraft(
            application.submitted_at.unwrap_or_default(),
        ));
    }
    Ok(application)
}

/// Replaces a draft's form.
pub async fn update(
    store: &Store,
    id: &ApplicationId,
    actor: &UserId,
    form: &ApplicationForm,
    request_id: &RequestId,
) -> Result<Application, ApplicationError> {
    let mut tx = store.write().await?;
    draft_in(store, &mut tx, id).await?;
    store
        .update_application_form(&mut tx, id, &form.normalised(), &now())
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
    id: &ApplicationId,
    actor: &UserId,
    catalog_tables: &std::collections::HashSet<String>,
    request_id: &RequestId,
) -> Result<Application, ApplicationError> {
    let mut tx = store.write().await?;
    let application = draft_in(store, &mut tx, id).await?;
    let mut errors = check_for_submission(&application.form, catalog_tables)
        .err()
        .unwrap_or_default();
    let uploaded = store.uploaded_evidence(&mut tx, id).await?;
    for (i, q) in application.form.qualifications.iter().enumerate() {
        for (j, file) in q.evidence.iter().enumerate() {
            if !uploaded.contains(file) {
                errors.push(FieldError::new(
                    format!("qualifications[{i}].evidence[{j}]"),
                    format!(
                        "no evidence file '{file}' was uploaded to this application; upload it with POST /api/v1/applications/{id}/evidence"
                    ),
                    format!("证明材料“{file}”尚未上传到本申请：请先上传该文件。"),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApplicationError::Incomplete(errors));
    }
    let at = now();
    store.submit_application(&mut tx, id, &at).await?;
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
    id: &ApplicationId,
    criteria: &crate::criteria::CriteriaReport,
    request_id: &RequestId,
) -> Result<(), ApplicationError> {
    let mut tx = store.write().await?;
    store
        .set_application_criteria(&mut tx, id, criteria)
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
