//! The SQL of second factors and recovery codes (`crate::second_factor`).

use sqlx::Row;
use storage::ids::UserId;

use storage::store::{Store, StoreError, Tx};

/// A user's second factor as stored.
pub(crate) struct StoredFactor {
    /// The secret, sealed.
    pub sealed_secret: Vec<u8>,
    /// When a login first gave a code of it, if one did.
    pub confirmed_at: Option<String>,
    /// The last time step a code was accepted for.
    pub last_step: i64,
}

/// Where second factors and recovery codes are kept: what a backend implements.
///
/// Every function works inside the caller's transaction and takes no store: the
/// crate's second-factor functions are given a transaction alone. They are called as
/// `Store::function(tx, …)`.
pub(crate) trait SecondFactors {
    /// Stores a new pending second factor of a user, replacing any (and its progress).
    async fn start_second_factor(
        tx: &mut Tx,
        user_id: &UserId,
        sealed_secret: &[u8],
        at: &str,
    ) -> Result<(), StoreError>;
    /// Stores a second factor of a user, confirmed at once.
    async fn insert_confirmed_second_factor(
        tx: &mut Tx,
        user_id: &UserId,
        sealed_secret: &[u8],
        at: &str,
    ) -> Result<(), StoreError>;
    /// A user's second factor, if there is one.
    async fn second_factor(
        tx: &mut Tx,
        user_id: &UserId,
    ) -> Result<Option<StoredFactor>, StoreError>;
    /// Records the time step a code was accepted for, confirming the factor at `at` if
    /// it was pending.
    async fn accept_step(
        tx: &mut Tx,
        user_id: &UserId,
        step: i64,
        at: &str,
    ) -> Result<(), StoreError>;
    /// Marks a user's unused recovery code of this hash used; whether there was one.
    async fn use_recovery_code(
        tx: &mut Tx,
        user_id: &UserId,
        code_hash: &str,
        at: &str,
    ) -> Result<bool, StoreError>;
    /// How many unused recovery codes a user has.
    async fn recovery_codes_left(tx: &mut Tx, user_id: &UserId) -> Result<i64, StoreError>;
    /// Removes every recovery code of a user.
    async fn delete_recovery_codes(tx: &mut Tx, user_id: &UserId) -> Result<(), StoreError>;
    /// Stores one recovery code of a user, by its hash.
    async fn insert_recovery_code(
        tx: &mut Tx,
        user_id: &UserId,
        code_hash: &str,
        at: &str,
    ) -> Result<(), StoreError>;
    /// Removes a user's second factor; whether there was one.
    async fn delete_second_factor(tx: &mut Tx, user_id: &UserId) -> Result<bool, StoreError>;
    /// Whether a user has a confirmed second factor.
    async fn second_factor_confirmed(tx: &mut Tx, user_id: &UserId) -> Result<bool, StoreError>;
    /// When a user's second factor was confirmed, if it was.
    async fn second_factor_since(&self, user_id: &UserId) -> Result<Option<String>, StoreError>;
}

impl SecondFactors for Store {
    async fn start_second_factor(
        tx: &mut Tx,
        user_id: &UserId,
        sealed_secret: &[u8],
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO second_factors (user_id, sealed_secret, created_at, confirmed_at, last_step) \
             VALUES (?1, ?2, ?3, NULL, 0) \
             ON CONFLICT (user_id) DO UPDATE SET sealed_secret = ?2, created_at = ?3, \
             confirmed_at = NULL, last_step = 0",
        )
        .bind(user_id)
        .bind(sealed_secret)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn insert_confirmed_second_factor(
        tx: &mut Tx,
        user_id: &UserId,
        sealed_secret: &[u8],
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO second_factors (user_id, sealed_secret, created_at, confirmed_at, last_step) \
             VALUES (?1, ?2, ?3, ?3, 0)",
        )
        .bind(user_id)
        .bind(sealed_secret)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn second_factor(
        tx: &mut Tx,
        user_id: &UserId,
    ) -> Result<Option<StoredFactor>, StoreError> {
        Ok(sqlx::query(
            "SELECT sealed_secret, confirmed_at, last_step FROM second_factors WHERE user_id = ?",
        )
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| StoredFactor {
            sealed_secret: row.get(0),
            confirmed_at: row.get(1),
            last_step: row.get(2),
        }))
    }

    async fn accept_step(
        tx: &mut Tx,
        user_id: &UserId,
        step: i64,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE second_factors SET last_step = ?, confirmed_at = COALESCE(confirmed_at, ?) \
             WHERE user_id = ?",
        )
        .bind(step)
        .bind(at)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn use_recovery_code(
        tx: &mut Tx,
        user_id: &UserId,
        code_hash: &str,
        at: &str,
    ) -> Result<bool, StoreError> {
        let used = sqlx::query(
            "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
        )
        .bind(at)
        .bind(user_id)
        .bind(code_hash)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        Ok(used != 0)
    }

    async fn recovery_codes_left(tx: &mut Tx, user_id: &UserId) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?)
    }

    async fn delete_recovery_codes(tx: &mut Tx, user_id: &UserId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn insert_recovery_code(
        tx: &mut Tx,
        user_id: &UserId,
        code_hash: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)")
            .bind(user_id)
            .bind(code_hash)
            .bind(at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn delete_second_factor(tx: &mut Tx, user_id: &UserId) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM second_factors WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut **tx)
            .await?
            .rows_affected()
            > 0)
    }

    async fn second_factor_confirmed(tx: &mut Tx, user_id: &UserId) -> Result<bool, StoreError> {
        let confirmed: Option<Option<String>> =
            sqlx::query_scalar("SELECT confirmed_at FROM second_factors WHERE user_id = ?")
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await?;
        Ok(confirmed.flatten().is_some())
    }

    async fn second_factor_since(&self, user_id: &UserId) -> Result<Option<String>, StoreError> {
        let confirmed: Option<Option<String>> =
            sqlx::query_scalar("SELECT confirmed_at FROM second_factors WHERE user_id = ?")
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(confirmed.flatten())
    }
}
