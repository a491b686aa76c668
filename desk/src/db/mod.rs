//! The desk's storage interface: every SQL statement of this crate, one trait per area
//! of the domain, each implemented here for the platform's SQLite [`Store`]. The rest of
//! the crate reads and writes only through these traits; a second backend implements
//! the same traits for its own store (`.ci/check-deps` keeps `sqlx` out of every other
//! module).
//!
//! [`Store`]: storage::store::Store

pub(crate) mod authorisations;
pub(crate) mod calendar;
pub(crate) mod issuance;
pub(crate) mod objections;
pub(crate) mod tickets;
pub(crate) mod verifications;

/// What the crate's unit tests look at or set up in the database directly.
#[cfg(test)]
pub(crate) mod testing {
    use storage::store::Store;

    /// The rows of `table`.
    pub(crate) async fn count(store: &Store, table: &'static str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(store.pool())
            .await
            .expect("count")
    }

    /// A user, as governance's identity would register one.
    pub(crate) async fn insert_user(
        store: &Store,
        id: &str,
        username: &str,
        role: &str,
        subject_id: Option<&str>,
    ) {
        sqlx::query(
            "INSERT INTO users (id, username, display_name, role, subject_id, password_hash, \
             created_at) VALUES (?, ?, ?, ?, ?, 'x', '2026-12-01T00:00:00Z')",
        )
        .bind(id)
        .bind(username)
        .bind(username)
        .bind(role)
        .bind(subject_id)
        .execute(store.pool())
        .await
        .expect("user");
    }

    /// The audit log's actions, in order.
    pub(crate) async fn audit_actions(store: &Store) -> Vec<String> {
        sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
            .fetch_all(store.pool())
            .await
            .expect("audit")
    }
}
