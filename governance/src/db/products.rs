//! The SQL of credit products, their review and their recommendation
//! (`crate::products`).

use sqlx::Row;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use storage::ids::{InstitutionId, JobId, ProductId, UserId};
use storage::states::ProductStatus;

use storage::store::{Store, StoreError, Tx};

use crate::products::{Product, ProductReview, Registration};

/// A product as it is first stored.
pub(crate) struct NewRow<'a> {
    pub id: &'a str,
    pub institution_id: &'a InstitutionId,
    pub form: &'a Registration,
    pub job_id: &'a JobId,
    pub release_id: &'a str,
    pub data_items: &'a serde_json::Value,
    pub registered_by: &'a str,
    pub registered_at: &'a str,
}

/// A reviewer's assessment of a product as it is stored.
pub(crate) struct NewReview<'a> {
    pub product_id: &'a ProductId,
    pub reviewer_id: &'a UserId,
    pub market_demand: i64,
    pub innovation: i64,
    pub management: i64,
    pub recommend: bool,
    pub opinion: &'a str,
    pub submitted_at: &'a str,
}

/// Where products are kept: what a backend implements.
pub(crate) trait Products {
    /// The newest sample released from a job of an institution: its id and request.
    async fn sample_release(
        &self,
        job_id: &JobId,
        institution_id: &InstitutionId,
    ) -> Result<Option<(String, serde_json::Value)>, StoreError>;
    /// Stores a new product, registered.
    async fn insert_product(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError>;
    /// One product by id, with its institution's name and code.
    async fn product(&self, id: &str) -> Result<Option<Product>, StoreError>;
    /// An institution's products, newest first.
    async fn products_of(&self, institution_id: &InstitutionId)
    -> Result<Vec<Product>, StoreError>;
    /// The reviewers assigned to a product, by id.
    async fn product_reviewers(&self, id: &str) -> Result<Vec<String>, StoreError>;
    /// Every product, newest first.
    async fn all_products(&self) -> Result<Vec<Product>, StoreError>;
    /// The reviewers assigned to a product, by id, read in `tx`.
    async fn product_reviewers_in(&self, tx: &mut Tx, id: &str) -> Result<Vec<String>, StoreError>;
    /// The status of a product, read in `tx`, if it exists.
    async fn product_status(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<ProductStatus>, StoreError>;
    /// Assigns a reviewer to a product, unless assigned already.
    async fn assign_product_reviewer(
        &self,
        tx: &mut Tx,
        product_id: &ProductId,
        reviewer_id: &UserId,
        assigned_by: &str,
        assigned_at: &str,
    ) -> Result<(), StoreError>;
    /// Puts a product under review.
    async fn start_product_review(&self, tx: &mut Tx, id: &str) -> Result<(), StoreError>;
    /// When a reviewer reviewed a product, read in `tx`, if they did.
    async fn product_reviewed_at(
        &self,
        tx: &mut Tx,
        id: &str,
        reviewer_id: &UserId,
    ) -> Result<Option<String>, StoreError>;
    /// Stores a reviewer's assessment of a product.
    async fn insert_product_review(
        &self,
        tx: &mut Tx,
        row: &NewReview<'_>,
    ) -> Result<(), StoreError>;
    /// The reviews of a product (of one reviewer only, if given), oldest first.
    async fn product_reviews(
        &self,
        id: &str,
        only: Option<&str>,
    ) -> Result<Vec<ProductReview>, StoreError>;
    /// How many assigned reviewers of a product have not reviewed it, read in `tx`.
    async fn missing_product_reviews(&self, tx: &mut Tx, id: &str) -> Result<i64, StoreError>;
    /// Stores the recommendation on a product.
    async fn insert_product_decision(
        &self,
        tx: &mut Tx,
        id: &str,
        recommended: bool,
        reason: &str,
        decided_by: &str,
        decided_at: &str,
    ) -> Result<(), StoreError>;
    /// Sets a product's status.
    async fn set_product_status(
        &self,
        tx: &mut Tx,
        id: &str,
        status: ProductStatus,
    ) -> Result<(), StoreError>;
    /// The recommended products of active institutions with when they were
    /// recommended, newest recommendation first.
    async fn recommended_products(&self) -> Result<Vec<(Product, String)>, StoreError>;
}

fn product(r: &SqliteRow) -> Result<Product, StoreError> {
    let decode = |e: serde_json::Error| StoreError::Query(sqlx::Error::Decode(Box::new(e)));
    Ok(Product {
        id: r.get("id"),
        institution_id: r.get("institution_id"),
        institution_name: r.get("name"),
        uscc: r.get("uscc"),
        status: r.get("status"),
        form: serde_json::from_str(&r.get::<String, _>("form")).map_err(decode)?,
        release_id: r.get("release_id"),
        data_items: serde_json::from_str(&r.get::<String, _>("data_items")).map_err(decode)?,
        registered_at: r.get("registered_at"),
    })
}

async fn product_reviewers_on(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT reviewer_id FROM product_reviewers WHERE product_id = ? ORDER BY reviewer_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?)
}

impl Products for Store {
    async fn sample_release(
        &self,
        job_id: &JobId,
        institution_id: &InstitutionId,
    ) -> Result<Option<(String, serde_json::Value)>, StoreError> {
        Ok(sqlx::query(
            "SELECT r.id, r.request FROM releases r JOIN jobs j ON j.id = r.job_id \
             WHERE r.job_id = ? AND r.institution_id = ? AND r.kind = 'sample' \
             ORDER BY r.released_at DESC LIMIT 1",
        )
        .bind(job_id)
        .bind(institution_id)
        .fetch_optional(self.pool())
        .await?
        .map(|r| {
            (
                r.get(0),
                serde_json::from_str(&r.get::<String, _>(1)).unwrap_or_default(),
            )
        }))
    }

    async fn insert_product(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO products (id, institution_id, status, form, job_id, release_id, data_items, \
             registered_by, registered_at) VALUES (?, ?, 'registered', ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.id)
        .bind(row.institution_id)
        .bind(serde_json::to_string(row.form).unwrap_or_default())
        .bind(row.job_id)
        .bind(row.release_id)
        .bind(row.data_items.to_string())
        .bind(row.registered_by)
        .bind(row.registered_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn product(&self, id: &str) -> Result<Option<Product>, StoreError> {
        sqlx::query(
            "SELECT p.*, i.name, i.uscc FROM products p JOIN institutions i ON i.id = p.institution_id \
             WHERE p.id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .map(|r| product(&r))
        .transpose()
    }

    async fn products_of(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<Product>, StoreError> {
        sqlx::query(
            "SELECT p.*, i.name, i.uscc FROM products p JOIN institutions i ON i.id = p.institution_id \
             WHERE p.institution_id = ? ORDER BY p.registered_at DESC",
        )
        .bind(institution_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(product)
        .collect()
    }

    async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        sqlx::query(
            "SELECT p.*, i.name, i.uscc FROM products p JOIN institutions i ON i.id = p.institution_id \
             ORDER BY p.registered_at DESC",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(product)
        .collect()
    }

    async fn product_reviewers(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        product_reviewers_on(&mut conn, id).await
    }

    async fn product_reviewers_in(&self, tx: &mut Tx, id: &str) -> Result<Vec<String>, StoreError> {
        product_reviewers_on(tx, id).await
    }

    async fn product_status(
        &self,
        tx: &mut Tx,
        id: &str,
    ) -> Result<Option<ProductStatus>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT status FROM products WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }

    async fn assign_product_reviewer(
        &self,
        tx: &mut Tx,
        product_id: &ProductId,
        reviewer_id: &UserId,
        assigned_by: &str,
        assigned_at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT OR IGNORE INTO product_reviewers (product_id, reviewer_id, assigned_by, assigned_at) VALUES (?, ?, ?, ?)")
            .bind(product_id)
            .bind(reviewer_id)
            .bind(assigned_by)
            .bind(assigned_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn start_product_review(&self, tx: &mut Tx, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE products SET status = 'under_review' WHERE id = ?")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn product_reviewed_at(
        &self,
        tx: &mut Tx,
        id: &str,
        reviewer_id: &UserId,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT submitted_at FROM product_reviews WHERE product_id = ? AND reviewer_id = ?",
        )
        .bind(id)
        .bind(reviewer_id)
        .fetch_optional(&mut **tx)
        .await?)
    }

    async fn insert_product_review(
        &self,
        tx: &mut Tx,
        row: &NewReview<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO product_reviews (product_id, reviewer_id, market_demand, innovation, management, recommend, opinion, submitted_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.product_id)
        .bind(row.reviewer_id)
        .bind(row.market_demand)
        .bind(row.innovation)
        .bind(row.management)
        .bind(i64::from(row.recommend))
        .bind(row.opinion)
        .bind(row.submitted_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn product_reviews(
        &self,
        id: &str,
        only: Option<&str>,
    ) -> Result<Vec<ProductReview>, StoreError> {
        Ok(sqlx::query(
            "SELECT reviewer_id, market_demand, innovation, management, recommend, opinion, submitted_at \
             FROM product_reviews WHERE product_id = ?1 AND (?2 IS NULL OR reviewer_id = ?2) ORDER BY submitted_at",
        )
        .bind(id)
        .bind(only)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            ProductReview {
                reviewer_id: r.get(0),
                market_demand: r.get(1),
                innovation: r.get(2),
                management: r.get(3),
                recommend: r.get::<i64, _>(4) == 1,
                opinion: r.get(5),
                submitted_at: r.get(6),
            }
        })
        .collect())
    }

    async fn missing_product_reviews(&self, tx: &mut Tx, id: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM product_reviewers a LEFT JOIN product_reviews r \
             ON r.product_id = a.product_id AND r.reviewer_id = a.reviewer_id WHERE a.product_id = ? AND r.reviewer_id IS NULL",
        )
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
    }

    async fn insert_product_decision(
        &self,
        tx: &mut Tx,
        id: &str,
        recommended: bool,
        reason: &str,
        decided_by: &str,
        decided_at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO product_decisions (product_id, recommended, reason, decided_by, decided_at) VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(i64::from(recommended))
            .bind(reason)
            .bind(decided_by)
            .bind(decided_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn set_product_status(
        &self,
        tx: &mut Tx,
        id: &str,
        status: ProductStatus,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE products SET status = ? WHERE id = ?")
            .bind(status)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn recommended_products(&self) -> Result<Vec<(Product, String)>, StoreError> {
        sqlx::query(
            "SELECT p.*, i.name, i.uscc, d.decided_at, d.reason FROM products p \
             JOIN institutions i ON i.id = p.institution_id \
             JOIN product_decisions d ON d.product_id = p.id \
             WHERE p.status = 'recommended' AND i.status = 'active' ORDER BY d.decided_at DESC",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok((product(r)?, r.get::<String, _>("decided_at"))))
        .collect()
    }
}
