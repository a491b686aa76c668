//! The application layer's storage interface: the few statements of its own (the
//! availability heartbeat, the demo's look at what it seeded), one trait per area,
//! implemented here for the platform's SQLite [`Store`]. A second backend implements
//! the same traits (`.ci/check-deps` keeps `sqlx` out of every other module).
//!
//! [`Store`]: storage::store::Store

use storage::store::{Store, StoreError, Tx};

/// The heartbeat the server writes every minute: what a backend implements.
pub(crate) trait Heartbeats {
    /// Records that the service was up in `minute` (`YYYY-MM-DDTHH:MM`, UTC), once.
    async fn beat(&self, tx: &mut Tx, minute: &str) -> Result<(), StoreError>;
    /// The first minute recorded from `from` on, and how many minutes are.
    async fn beats_since(&self, from: &str) -> Result<(Option<String>, i64), StoreError>;
}

impl Heartbeats for Store {
    async fn beat(&self, tx: &mut Tx, minute: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT OR IGNORE INTO heartbeats (minute) VALUES (?)")
            .bind(minute)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn beats_since(&self, from: &str) -> Result<(Option<String>, i64), StoreError> {
        Ok(
            sqlx::query_as("SELECT min(minute), count(*) FROM heartbeats WHERE minute >= ?")
                .bind(from)
                .fetch_one(self.pool())
                .await?,
        )
    }
}

/// What the demo reads back of the logins it seeded: what a backend implements.
pub(crate) trait DemoLogins {
    /// Whether the user with this login name has a confirmed second factor.
    async fn has_confirmed_second_factor(&self, username: &str) -> Result<bool, StoreError>;
    /// The id of the user with this login name, if there is one.
    async fn user_id(&self, username: &str) -> Result<Option<String>, StoreError>;
    /// The id of the user with this login name if they have no second factor, read in
    /// `tx`.
    async fn user_without_second_factor(
        &self,
        tx: &mut Tx,
        username: &str,
    ) -> Result<Option<String>, StoreError>;
}

impl DemoLogins for Store {
    async fn has_confirmed_second_factor(&self, username: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM second_factors f JOIN users u ON u.id = f.user_id \
             WHERE u.username = ? AND f.confirmed_at IS NOT NULL",
        )
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }

    async fn user_id(&self, username: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM users WHERE username = ?")
                .bind(username)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    async fn user_without_second_factor(
        &self,
        tx: &mut Tx,
        username: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM users WHERE username = ? \
             AND id NOT IN (SELECT user_id FROM second_factors)",
        )
        .bind(username)
        .fetch_optional(&mut **tx)
        .await?)
    }
}
