//! The SQL of expert review and reviewers' affiliations (`crate::review`).

use sqlx::Row;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use storage::ids::{ApplicationId, UserId};
use storage::states::ApplicationStatus;

use storage::store::{Store, StoreError, Tx};

use crate::review::{Assigned, Decision, Review};

/// A review as it is stored.
pub(crate) struct NewReview<'a> {
    pub application_id: &'a ApplicationId,
    pub reviewer_id: &'a UserId,
    pub compliance: i64,
    pub innovation: i64,
    pub prospects: i64,
    pub opinion: &'a str,
    pub submitted_at: &'a str,
}

/// Where reviews, decisions and affiliations are kept: what a backend implements.
pub(crate) trait Reviews {
    /// The applications and products assigned to a reviewer, newest assignment first.
    async fn assignments(&self, reviewer_id: &UserId) -> Result<Vec<Assigned>, StoreError>;
    /// The reviewers assigned to an application, by id.
    async fn application_reviewers(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Vec<String>, StoreError>;
    /// The reviewers assigned to an application, by id, read in `tx`.
    async fn application_reviewers_in(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
    ) -> Result<Vec<String>, StoreError>;
    /// A reviewer's declared affiliations (unified social credit codes), sorted.
    async fn affiliations(&self, user_id: &UserId) -> Result<Vec<String>, StoreError>;
    /// A reviewer's declared affiliations, sorted, read in `tx`.
    async fn affiliations_in(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
    ) -> Result<Vec<String>, StoreError>;
    /// Assigns a reviewer to an application, unless assigned already.
    async fn assign_application_reviewer(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
        reviewer_id: &UserId,
        assigned_by: &str,
        assigned_at: &str,
    ) -> Result<(), StoreError>;
    /// Puts an application under review.
    async fn start_application_review(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
        at: &str,
    ) -> Result<(), StoreError>;
    /// Stores a review unless the reviewer has reviewed already; whether it was stored.
    async fn insert_review(&self, tx: &mut Tx, row: &NewReview<'_>) -> Result<bool, StoreError>;
    /// The reviews of an application with their reviewers' names, oldest first.
    async fn reviews(&self, application_id: &ApplicationId) -> Result<Vec<Review>, StoreError>;
    /// How many assigned reviewers of an application have not reviewed it, read in `tx`.
    async fn missing_reviews(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
    ) -> Result<i64, StoreError>;
    /// Stores the decision on an application.
    async fn insert_decision(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
        decision: &str,
        reason: &str,
        decided_by: &str,
        decided_at: &str,
    ) -> Result<(), StoreError>;
    /// Sets an application's status and time of change.
    async fn set_application_status(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
        status: ApplicationStatus,
        at: &str,
    ) -> Result<(), StoreError>;
    /// The decision on an application, if one is recorded.
    async fn decision(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Option<Decision>, StoreError>;
    /// The undecided applications a reviewer is assigned to: id and the form's code
    /// (empty if it has none).
    async fn undecided_applications_of(
        &self,
        tx: &mut Tx,
        reviewer_id: &UserId,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// The undecided products a reviewer is assigned to: id and the institution's code.
    async fn undecided_products_of(
        &self,
        tx: &mut Tx,
        reviewer_id: &UserId,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Removes every affiliation of a reviewer.
    async fn delete_affiliations(&self, tx: &mut Tx, user_id: &UserId) -> Result<(), StoreError>;
    /// Stores one affiliation of a reviewer.
    async fn insert_affiliation(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        uscc: &str,
    ) -> Result<(), StoreError>;
}

fn review(r: &SqliteRow) -> Review {
    Review {
        reviewer_id: r.get(0),
        reviewer_name: r.get(1),
        compliance: r.get::<i64, _>(2) as u8,
        innovation: r.get::<i64, _>(3) as u8,
        prospects: r.get::<i64, _>(4) as u8,
        opinion: r.get(5),
        submitted_at: r.get(6),
    }
}

async fn affiliations_on(
    conn: &mut SqliteConnection,
    user_id: &UserId,
) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar(
            "SELECT uscc FROM reviewer_affiliations WHERE user_id = ? ORDER BY uscc",
        )
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?,
    )
}

async fn application_reviewers_on(
    conn: &mut SqliteConnection,
    application_id: &ApplicationId,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT reviewer_id FROM application_reviewers WHERE application_id = ? ORDER BY reviewer_id",
    )
    .bind(application_id)
    .fetch_all(&mut *conn)
    .await?)
}

impl Reviews for Store {
    async fn assignments(&self, reviewer_id: &UserId) -> Result<Vec<Assigned>, StoreError> {
        let rows = sqlx::query(
            "SELECT 'application' AS kind, a.id AS id,
                    COALESCE(json_extract(a.form, '$.institution_name'), '') AS name,
                    a.status AS status, ar.assigned_at AS assigned_at,
                    EXISTS (SELECT 1 FROM reviews r
                             WHERE r.application_id = a.id AND r.reviewer_id = ar.reviewer_id) AS reviewed
               FROM application_reviewers ar JOIN applications a ON a.id = ar.application_id
              WHERE ar.reviewer_id = ?1
             UNION ALL
             SELECT 'product', p.id, COALESCE(json_extract(p.form, '$.product_name'), ''),
                    p.status, pr.assigned_at,
                    EXISTS (SELECT 1 FROM product_reviews r
                             WHERE r.product_id = p.id AND r.reviewer_id = pr.reviewer_id)
               FROM product_reviewers pr JOIN products p ON p.id = pr.product_id
              WHERE pr.reviewer_id = ?1
             ORDER BY assigned_at DESC, id",
        )
        .bind(reviewer_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|row| Assigned {
                kind: row.get("kind"),
                id: row.get("id"),
                name: row.get("name"),
                status: row.get("status"),
                assigned_at: row.get("assigned_at"),
                reviewed: row.get::<i64, _>("reviewed") != 0,
            })
            .collect())
    }

    async fn application_reviewers(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        application_reviewers_on(&mut conn, application_id).await
    }

    async fn application_reviewers_in(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
    ) -> Result<Vec<String>, StoreError> {
        application_reviewers_on(tx, application_id).await
    }

    async fn affiliations(&self, user_id: &UserId) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        affiliations_on(&mut conn, user_id).await
    }

    async fn affiliations_in(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
    ) -> Result<Vec<String>, StoreError> {
        affiliations_on(tx, user_id).await
    }

    async fn assign_application_reviewer(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
        reviewer_id: &UserId,
        assigned_by: &str,
        assigned_at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR IGNORE INTO application_reviewers (application_id, reviewer_id, assigned_by, assigned_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(application_id)
        .bind(reviewer_id)
        .bind(assigned_by)
        .bind(assigned_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn start_application_review(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE applications SET status = 'under_review', updated_at = ? WHERE id = ?")
            .bind(at)
            .bind(application_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn insert_review(&self, tx: &mut Tx, row: &NewReview<'_>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO reviews (application_id, reviewer_id, compliance, innovation, prospects, opinion, submitted_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.application_id)
        .bind(row.reviewer_id)
        .bind(row.compliance)
        .bind(row.innovation)
        .bind(row.prospects)
        .bind(row.opinion)
        .bind(row.submitted_at)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        Ok(done != 0)
    }

    async fn reviews(&self, application_id: &ApplicationId) -> Result<Vec<Review>, StoreError> {
        Ok(sqlx::query(
            "SELECT r.reviewer_id, u.display_name, r.compliance, r.innovation, r.prospects, r.opinion, r.submitted_at \
             FROM reviews r JOIN users u ON u.id = r.reviewer_id WHERE r.application_id = ? ORDER BY r.submitted_at",
        )
        .bind(application_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(review)
        .collect())
    }

    async fn missing_reviews(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM application_reviewers a LEFT JOIN reviews r \
             ON r.application_id = a.application_id AND r.reviewer_id = a.reviewer_id \
             WHERE a.application_id = ? AND r.reviewer_id IS NULL",
        )
        .bind(application_id)
        .fetch_one(&mut **tx)
        .await?)
    }

    async fn insert_decision(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
        decision: &str,
        reason: &str,
        decided_by: &str,
        decided_at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO decisions (application_id, decision, reason, decided_by, decided_at) VALUES (?, ?, ?, ?, ?)")
            .bind(application_id)
            .bind(decision)
            .bind(reason)
            .bind(decided_by)
            .bind(decided_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn set_application_status(
        &self,
        tx: &mut Tx,
        application_id: &ApplicationId,
        status: ApplicationStatus,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE applications SET status = ?, updated_at = ? WHERE id = ?")
            .bind(status)
            .bind(at)
            .bind(application_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn decision(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Option<Decision>, StoreError> {
        Ok(sqlx::query(
            "SELECT decision, reason, decided_by, decided_at FROM decisions WHERE application_id = ?",
        )
        .bind(application_id)
        .fetch_optional(self.pool())
        .await?
        .map(|r| Decision {
            decision: r.get(0),
            reason: r.get(1),
            decided_by: r.get(2),
            decided_at: r.get(3),
        }))
    }

    async fn undecided_applications_of(
        &self,
        tx: &mut Tx,
        reviewer_id: &UserId,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT a.id, COALESCE(json_extract(a.form, '$.uscc'), '') FROM application_reviewers r \
             JOIN applications a ON a.id = r.application_id \
             LEFT JOIN decisions d ON d.application_id = a.id \
             WHERE r.reviewer_id = ? AND d.application_id IS NULL",
        )
        .bind(reviewer_id)
        .fetch_all(&mut **tx)
        .await?)
    }

    async fn undecided_products_of(
        &self,
        tx: &mut Tx,
        reviewer_id: &UserId,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT p.id, i.uscc FROM product_reviewers r JOIN products p ON p.id = r.product_id \
             JOIN institutions i ON i.id = p.institution_id \
             LEFT JOIN product_decisions d ON d.product_id = p.id \
             WHERE r.reviewer_id = ? AND d.product_id IS NULL",
        )
        .bind(reviewer_id)
        .fetch_all(&mut **tx)
        .await?)
    }

    async fn delete_affiliations(&self, tx: &mut Tx, user_id: &UserId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM reviewer_affiliations WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn insert_affiliation(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        uscc: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO reviewer_affiliations (user_id, uscc) VALUES (?, ?)")
            .bind(user_id)
            .bind(uscc)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
