//! The SQL of persons' authorisations (`crate::authorisations`).

use sqlx::Row;
use storage::ids::UserId;

use storage::store::{Store, StoreError, Tx};

/// An authorisation as it is first stored.
pub(crate) struct NewRow<'a> {
    pub id: &'a str,
    pub grantor_id: &'a UserId,
    pub grantee_id: &'a str,
    pub scope: &'a str,
    pub purpose: &'a str,
    pub created_at: &'a str,
    pub expires_at: &'a str,
}

/// An authorisation as listed, with the login names of both sides.
pub(crate) struct Listed {
    pub id: String,
    pub grantor_id: String,
    pub grantor: String,
    pub grantor_subject_id: Option<String>,
    pub grantee: String,
    pub scope: String,
    pub purpose: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

/// Where authorisations are kept: what a backend implements.
pub(crate) trait Authorisations {
    /// Stores a new authorisation.
    async fn insert_authorisation(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError>;
    /// The authorisations a user granted or received, newest first.
    async fn authorisations_of(&self, user_id: &UserId) -> Result<Vec<Listed>, StoreError>;
    /// Revokes a live authorisation of `grantor_id`; whether there was one.
    async fn revoke_authorisation(
        &self,
        tx: &mut Tx,
        id: &str,
        grantor_id: &UserId,
        at: &str,
    ) -> Result<bool, StoreError>;
    /// `(id, grantee_id, scope)` of the authorisations on person `subject`'s record
    /// neither revoked nor expired at `now`.
    async fn live_authorisations(
        &self,
        subject: &str,
        now: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError>;
}

impl Authorisations for Store {
    async fn insert_authorisation(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO authorisations (id, grantor_id, grantee_id, scope, purpose, created_at, \
             expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.id)
        .bind(row.grantor_id)
        .bind(row.grantee_id)
        .bind(row.scope)
        .bind(row.purpose)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn authorisations_of(&self, user_id: &UserId) -> Result<Vec<Listed>, StoreError> {
        Ok(sqlx::query(
            "SELECT a.id, g.username AS grantor, g.subject_id AS grantor_subject, \
                    r.username AS grantee, a.scope, a.purpose, a.created_at, a.expires_at, \
                    a.revoked_at, a.grantor_id \
             FROM authorisations a JOIN users g ON g.id = a.grantor_id \
                  JOIN users r ON r.id = a.grantee_id \
             WHERE a.grantor_id = ?1 OR a.grantee_id = ?1 ORDER BY a.created_at DESC",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| Listed {
            id: row.get("id"),
            grantor_id: row.get("grantor_id"),
            grantor: row.get("grantor"),
            grantor_subject_id: row.get("grantor_subject"),
            grantee: row.get("grantee"),
            scope: row.get("scope"),
            purpose: row.get("purpose"),
            created_at: row.get("created_at"),
            expires_at: row.get("expires_at"),
            revoked_at: row.get("revoked_at"),
        })
        .collect())
    }

    async fn revoke_authorisation(
        &self,
        tx: &mut Tx,
        id: &str,
        grantor_id: &UserId,
        at: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE authorisations SET revoked_at = ? \
             WHERE id = ? AND grantor_id = ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .bind(grantor_id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn live_authorisations(
        &self,
        subject: &str,
        now: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT a.id, a.grantee_id, a.scope FROM authorisations a \
             JOIN users u ON u.id = a.grantor_id \
             WHERE u.subject_id = ? AND a.revoked_at IS NULL AND a.expires_at > ?",
        )
        .bind(subject)
        .bind(now)
        .fetch_all(self.pool())
        .await?)
    }
}
