//! The SQL of applications and of the normalisation of stored codes
//! (`crate::applications`).

use sqlx::Row;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use storage::ids::{ApplicationId, UserId};
use storage::states::ApplicationStatus;

use storage::store::{Store, StoreError, Tx};

use crate::applications::Application;
use crate::criteria::CriteriaReport;
use crate::form::ApplicationForm;

/// Where applications are kept: what a backend implements.
pub(crate) trait Applications {
    /// The status of application `application_id`, read in `tx`, if it exists.
    async fn application_status(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
    ) -> Result<Option<ApplicationStatus>, StoreError>;
    /// Every application's id and form, read in `tx`; `None` for a form that does not
    /// decode.
    async fn application_forms(
        &self,
        tx: &mut Tx,
    ) -> Result<Vec<(String, Option<ApplicationForm>)>, StoreError>;
    /// Replaces an application's form, its time of change untouched.
    async fn set_application_form(
        &self,
        tx: &mut Tx,
        id: &str,
        form: &ApplicationForm,
    ) -> Result<(), StoreError>;
    /// Every institution's id and unified social credit code as stored, read in `tx`.
    async fn institution_codes(&self, tx: &mut Tx) -> Result<Vec<(String, String)>, StoreError>;
    /// Replaces an institution's code.
    async fn set_institution_code(
        &self,
        tx: &mut Tx,
        id: &str,
        uscc: &str,
    ) -> Result<(), StoreError>;
    /// Every reviewer's affiliation (user id, code as stored), read in `tx`.
    async fn affiliation_codes(&self, tx: &mut Tx) -> Result<Vec<(UserId, String)>, StoreError>;
    /// Replaces a reviewer's affiliation `from` by `to`, the copy going if `to` was
    /// there already.
    async fn recode_affiliation(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        from: &str,
        to: &str,
    ) -> Result<(), StoreError>;
    /// Stores a new draft.
    async fn insert_application(
        &self,
        tx: &mut Tx,
        id: &str,
        applicant_id: &UserId,
        form: &ApplicationForm,
        at: &str,
    ) -> Result<(), StoreError>;
    /// One application by id.
    async fn application(&self, id: &str) -> Result<Option<Application>, StoreError>;
    /// One application by id, read in `tx`.
    async fn application_in(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<Application>, StoreError>;
    /// At most `limit` applications with ids after `after`, of one applicant or all, by id.
    async fn applications(
        &self,
        applicant_id: Option<&str>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<Application>, StoreError>;
    /// Replaces a draft's form and sets its time of change.
    async fn update_application_form(
        &self,
        tx: &mut Tx,
        id: &str,
        form: &ApplicationForm,
        at: &str,
    ) -> Result<(), StoreError>;
    /// The ids of the evidence files uploaded to an application, read in `tx`.
    async fn uploaded_evidence(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
    ) -> Result<Vec<String>, StoreError>;
    /// Marks an application submitted at `at`.
    async fn submit_application(&self, tx: &mut Tx, id: &str, at: &str) -> Result<(), StoreError>;
    /// Attaches the entry-criteria checks to an application.
    async fn set_application_criteria(
        &self,
        tx: &mut Tx,
        id: &str,
        criteria: &CriteriaReport,
    ) -> Result<(), StoreError>;
}

/// Decodes a stored application form.
pub(crate) fn form(text: &str) -> Result<ApplicationForm, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Query(sqlx::Error::Decode(Box::new(e))))
}

fn form_text(form: &ApplicationForm) -> String {
    serde_json::to_string(form).expect("a form serialises")
}

fn application(row: &SqliteRow) -> Result<Application, StoreError> {
    let text: String = row.get("form");
    Ok(Application {
        id: row.get("id"),
        applicant_id: row.get("applicant_id"),
        status: row.get("status"),
        form: form(&text)?,
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        submitted_at: row.get("submitted_at"),
        criteria: row
            .get::<Option<String>, _>("criteria")
            .and_then(|c| serde_json::from_str(&c).ok()),
    })
}

async fn application_on(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<Application>, StoreError> {
    sqlx::query("SELECT * FROM applications WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| application(&r))
        .transpose()
}

impl Applications for Store {
    async fn application_status(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
    ) -> Result<Option<ApplicationStatus>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT status FROM applications WHERE id = ?")
                .bind(application_id)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }

    async fn application_forms(
        &self,
        tx: &mut Tx,
    ) -> Result<Vec<(String, Option<ApplicationForm>)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, form FROM applications")
            .fetch_all(&mut **tx)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, text)| (id, serde_json::from_str(&text).ok()))
            .collect())
    }

    async fn set_application_form(
        &self,
        tx: &mut Tx,
        id: &str,
        form: &ApplicationForm,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE applications SET form = ? WHERE id = ?")
            .bind(form_text(form))
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn institution_codes(&self, tx: &mut Tx) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT id, uscc FROM institutions")
            .fetch_all(&mut **tx)
            .await?)
    }

    async fn set_institution_code(
        &self,
        tx: &mut Tx,
        id: &str,
        uscc: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE institutions SET uscc = ? WHERE id = ?")
            .bind(uscc)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn affiliation_codes(&self, tx: &mut Tx) -> Result<Vec<(UserId, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT user_id, uscc FROM reviewer_affiliations")
                .fetch_all(&mut **tx)
                .await?,
        )
    }

    async fn recode_affiliation(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        from: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE OR IGNORE reviewer_affiliations SET uscc = ? WHERE user_id = ? AND uscc = ?",
        )
        .bind(to)
        .bind(user_id)
        .bind(from)
        .execute(&mut **tx)
        .await?;
        // The canonical code was there already: the typed copy goes.
        sqlx::query("DELETE FROM reviewer_affiliations WHERE user_id = ? AND uscc = ?")
            .bind(user_id)
            .bind(from)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn insert_application(
        &self,
        tx: &mut Tx,
        id: &str,
        applicant_id: &UserId,
        form: &ApplicationForm,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO applications (id, applicant_id, status, form, created_at, updated_at) \
             VALUES (?, ?, 'draft', ?, ?, ?)",
        )
        .bind(id)
        .bind(applicant_id)
        .bind(form_text(form))
        .bind(at)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn application(&self, id: &str) -> Result<Option<Application>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        application_on(&mut conn, id).await
    }

    async fn application_in(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<Application>, StoreError> {
        application_on(tx, id).await
    }

    async fn applications(
        &self,
        applicant_id: Option<&str>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<Application>, StoreError> {
        sqlx::query(
            "SELECT * FROM applications WHERE (?1 IS NULL OR applicant_id = ?1) AND id > ?2 \
             ORDER BY id LIMIT ?3",
        )
        .bind(applicant_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(application)
        .collect()
    }

    async fn update_application_form(
        &self,
        tx: &mut Tx,
        id: &str,
        form: &ApplicationForm,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE applications SET form = ?, updated_at = ? WHERE id = ?")
            .bind(form_text(form))
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn uploaded_evidence(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
    ) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM evidence_files WHERE application_id = ?")
                .bind(application_id)
                .fetch_all(&mut **tx)
                .await?,
        )
    }

    async fn submit_application(&self, tx: &mut Tx, id: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE applications SET status = 'submitted', submitted_at = ?, updated_at = ? WHERE id = ?")
            .bind(at)
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn set_application_criteria(
        &self,
        tx: &mut Tx,
        id: &str,
        criteria: &CriteriaReport,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE applications SET criteria = ? WHERE id = ?")
            .bind(serde_json::to_string(criteria).unwrap_or_default())
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
