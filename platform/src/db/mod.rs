//! The application layer's storage interface: the statements of its own (the
//! availability heartbeat) behind a trait implemented here for the platform's SQLite
//! [`Store`]; every other table is read and written through the domain crate that owns
//! it. A second backend implements the same trait (`.ci/check-deps` keeps `sqlx` out
//! of every other module).
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
