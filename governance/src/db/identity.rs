//! The SQL of users, credentials and failed logins (`crate::identity`).

use sqlx::{Row, SqliteConnection};
use storage::ids::UserId;
use storage::states::InstitutionStatus;

use storage::store::{Store, StoreError, Tx};

use crate::identity::{CredentialInfo, UserInfo};

/// A user as first stored.
pub(crate) struct NewRow<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: &'a str,
    pub institution_id: Option<&'a str>,
    pub organisation: Option<&'a str>,
    pub subject_id: Option<&'a str>,
    pub password_hash: &'a str,
    pub created_at: &'a str,
}

/// A credential as first stored.
pub(crate) struct NewCredential<'a> {
    pub id: &'a str,
    pub user_id: &'a UserId,
    pub kind: &'a str,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub created_at: &'a str,
    pub expires_at: Option<&'a str>,
}

/// Failed logins of a username from a client (or `*`), as written.
pub(crate) struct FailuresRow<'a> {
    pub username: &'a str,
    pub client: &'a str,
    pub failures: i64,
    pub first_at: &'a str,
    pub last_at: &'a str,
    pub locked_until: Option<&'a str>,
    pub alerted: bool,
}

/// Failed logins of a username from a client (or `*`), as stored: how many, the first
/// (RFC 3339), the lock (RFC 3339) and whether administrators were alerted.
pub(crate) type StoredFailures = (i64, String, Option<String>, bool);

/// A user who logs in, as stored: id, password hash, role and when disabled.
pub(crate) type LoginUser = (String, String, String, Option<String>);

/// A credential with its user, as a bearer token finds them.
pub(crate) struct TokenRow {
    pub credential_id: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub institution_id: Option<String>,
    pub institution_status: Option<InstitutionStatus>,
    pub organisation: Option<String>,
    pub subject_id: Option<String>,
    pub disabled_at: Option<String>,
}

/// Where users, credentials and failed logins are kept: what a backend implements.
///
/// [`Users::username_taken`] and [`Users::insert_user`] take no store, only the
/// caller's transaction (called as `Store::function(tx, …)`): `create_user`, which
/// uses them, is given a transaction alone.
pub(crate) trait Users {
    /// The id of the user with login name `username`, if there is one.
    async fn user_named(&self, username: &str) -> Result<Option<UserId>, StoreError>;
    /// The same, read in `tx`.
    async fn user_named_in(tx: &mut Tx, username: &str) -> Result<Option<UserId>, StoreError>;
    /// The stored role of user `id`, read in `tx`, if the user exists.
    async fn user_role(&self, tx: &mut Tx, id: &UserId) -> Result<Option<String>, StoreError>;
    /// Whether a user has this username, read in `tx`.
    async fn username_taken(tx: &mut Tx, username: &str) -> Result<bool, StoreError>;
    /// Stores a new user.
    async fn insert_user(tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError>;
    /// The user who is this person of the register, read in `tx`, if there is one.
    async fn user_with_subject(
        &self,
        tx: &mut Tx,
        subject_id: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Every user, oldest first.
    async fn users(&self) -> Result<Vec<UserInfo>, StoreError>;
    /// Stores a new credential.
    async fn insert_credential(
        &self,
        tx: &mut Tx,
        row: &NewCredential<'_>,
    ) -> Result<(), StoreError>;
    /// Forgets the failed logins of a username from one client.
    async fn forget_failures(
        &self,
        tx: &mut Tx,
        username: &str,
        client: &str,
    ) -> Result<(), StoreError>;
    /// The user with this username, read in `tx`, if there is one.
    async fn login_user(
        &self,
        tx: &mut Tx,
        username: &str,
    ) -> Result<Option<LoginUser>, StoreError>;
    /// Records that administrators were alerted of a username's failed logins.
    async fn mark_alerted(&self, tx: &mut Tx, username: &str) -> Result<(), StoreError>;
    /// Forgets failed logins last made before `before` that hold no lock at `now`.
    async fn forget_old_failures(
        &self,
        tx: &mut Tx,
        before: &str,
        now: &str,
    ) -> Result<(), StoreError>;
    /// How many login alerts the audit log holds since `since`.
    async fn login_alerts_since(&self, since: &str) -> Result<i64, StoreError>;
    /// The failed logins of a username from one client (or `*`), read in `tx`.
    async fn login_failures(
        &self,
        tx: &mut Tx,
        username: &str,
        client: &str,
    ) -> Result<Option<StoredFailures>, StoreError>;
    /// Writes the failed logins of a username from one client (or `*`).
    async fn write_login_failures(
        &self,
        tx: &mut Tx,
        row: &FailuresRow<'_>,
    ) -> Result<(), StoreError>;
    /// The name of a user's API key that is live at `now`, read in `tx`, if there is one.
    async fn live_api_key_name(
        &self,
        tx: &mut Tx,
        id: &str,
        user_id: &UserId,
        now: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Revokes a credential, whoever's it is.
    async fn revoke_credential_by_id(
        &self,
        tx: &mut Tx,
        id: &str,
        at: &str,
    ) -> Result<(), StoreError>;
    /// Replaces a user's password hash.
    async fn set_password_hash(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        password_hash: &str,
    ) -> Result<(), StoreError>;
    /// Revokes a user's live sessions but `keep`; how many.
    async fn revoke_other_sessions(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        keep: &str,
        at: &str,
    ) -> Result<u64, StoreError>;
    /// A user's API keys that are not revoked, oldest first.
    async fn api_keys(&self, user_id: &UserId) -> Result<Vec<CredentialInfo>, StoreError>;
    /// Revokes a user's live credential; whether there was one.
    async fn revoke_credential(
        &self,
        tx: &mut Tx,
        id: &str,
        user_id: &UserId,
        at: &str,
    ) -> Result<bool, StoreError>;
    /// The credential with this token hash and its user, if there is one.
    async fn credential_by_token(&self, token_hash: &str) -> Result<Option<TokenRow>, StoreError>;
    /// Records when a credential was last used (outside any transaction).
    async fn touch_credential(&self, id: &str, at: &str) -> Result<(), StoreError>;
    /// Whether user `id` exists, read in `tx`.
    async fn user_exists(&self, tx: &mut Tx, id: &str) -> Result<bool, StoreError>;
    /// Disables a user at `at`.
    async fn disable_user(&self, tx: &mut Tx, id: &str, at: &str) -> Result<(), StoreError>;
    /// Enables a disabled user.
    async fn enable_user(&self, tx: &mut Tx, id: &str) -> Result<(), StoreError>;
    /// Revokes every live credential of a user; how many.
    async fn revoke_user_credentials(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        at: &str,
    ) -> Result<u64, StoreError>;
}

async fn user_named_on(
    conn: &mut SqliteConnection,
    username: &str,
) -> Result<Option<UserId>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

impl Users for Store {
    async fn user_named(&self, username: &str) -> Result<Option<UserId>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        user_named_on(&mut conn, username).await
    }

    async fn user_named_in(tx: &mut Tx, username: &str) -> Result<Option<UserId>, StoreError> {
        user_named_on(tx, username).await
    }

    async fn user_role(&self, tx: &mut Tx, id: &UserId) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT role FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?)
    }

    async fn username_taken(tx: &mut Tx, username: &str) -> Result<bool, StoreError> {
        let taken = sqlx::query("SELECT 1 FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(taken.is_some())
    }

    async fn insert_user(tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, username, display_name, role, institution_id, organisation, \
                                subject_id, password_hash, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.id)
        .bind(row.username)
        .bind(row.display_name)
        .bind(row.role)
        .bind(row.institution_id)
        .bind(row.organisation)
        .bind(row.subject_id)
        .bind(row.password_hash)
        .bind(row.created_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn user_with_subject(
        &self,
        tx: &mut Tx,
        subject_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM users WHERE subject_id = ?")
                .bind(subject_id)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }

    async fn users(&self) -> Result<Vec<UserInfo>, StoreError> {
        Ok(sqlx::query(
            "SELECT id, username, display_name, role, organisation, institution_id, created_at, \
             disabled_at FROM users ORDER BY created_at",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| UserInfo {
            id: r.get(0),
            username: r.get(1),
            display_name: r.get(2),
            role: r.get(3),
            organisation: r.get(4),
            institution_id: r.get(5),
            created_at: r.get(6),
            disabled_at: r.get(7),
        })
        .collect())
    }

    async fn insert_credential(
        &self,
        tx: &mut Tx,
        row: &NewCredential<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO credentials (id, user_id, kind, name, token_hash, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.id)
        .bind(row.user_id)
        .bind(row.kind)
        .bind(row.name)
        .bind(row.token_hash)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn forget_failures(
        &self,
        tx: &mut Tx,
        username: &str,
        client: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE username = ? AND client = ?")
            .bind(username)
            .bind(client)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn login_user(
        &self,
        tx: &mut Tx,
        username: &str,
    ) -> Result<Option<LoginUser>, StoreError> {
        let row = sqlx::query(
            "SELECT id, password_hash, role, disabled_at FROM users WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))))
    }

    async fn mark_alerted(&self, tx: &mut Tx, username: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE login_failures SET alerted = 1 WHERE username = ? AND client = '*'")
            .bind(username)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn forget_old_failures(
        &self,
        tx: &mut Tx,
        before: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM login_failures WHERE last_at < ? AND (locked_until IS NULL OR locked_until < ?)",
        )
        .bind(before)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn login_alerts_since(&self, since: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'security.login_alert' AND at >= ?",
        )
        .bind(since)
        .fetch_one(self.pool())
        .await?)
    }

    async fn login_failures(
        &self,
        tx: &mut Tx,
        username: &str,
        client: &str,
    ) -> Result<Option<StoredFailures>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT failures, first_at, locked_until, alerted FROM login_failures \
             WHERE username = ? AND client = ?",
        )
        .bind(username)
        .bind(client)
        .fetch_optional(&mut **tx)
        .await?)
    }

    async fn write_login_failures(
        &self,
        tx: &mut Tx,
        row: &FailuresRow<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_failures (username, client, failures, first_at, last_at, locked_until, alerted) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (username, client) DO UPDATE SET failures = ?3, first_at = ?4, last_at = ?5, \
             locked_until = ?6, alerted = ?7",
        )
        .bind(row.username)
        .bind(row.client)
        .bind(row.failures)
        .bind(row.first_at)
        .bind(row.last_at)
        .bind(row.locked_until)
        .bind(row.alerted)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn live_api_key_name(
        &self,
        tx: &mut Tx,
        id: &str,
        user_id: &UserId,
        now: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM credentials WHERE id = ? AND user_id = ? AND kind = 'api_key' \
             AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
        )
        .bind(id)
        .bind(user_id)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?)
    }

    async fn revoke_credential_by_id(
        &self,
        tx: &mut Tx,
        id: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE credentials SET revoked_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn set_password_hash(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn revoke_other_sessions(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        keep: &str,
        at: &str,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE credentials SET revoked_at = ? WHERE user_id = ? AND kind = 'session' \
             AND id <> ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(user_id)
        .bind(keep)
        .execute(&mut **tx)
        .await?
        .rows_affected())
    }

    async fn api_keys(&self, user_id: &UserId) -> Result<Vec<CredentialInfo>, StoreError> {
        Ok(sqlx::query(
            "SELECT id, kind, name, created_at, expires_at, last_used_at FROM credentials \
             WHERE user_id = ? AND kind = 'api_key' AND revoked_at IS NULL ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| CredentialInfo {
            id: r.get(0),
            kind: r.get(1),
            name: r.get(2),
            created_at: r.get(3),
            expires_at: r.get(4),
            last_used_at: r.get(5),
        })
        .collect())
    }

    async fn revoke_credential(
        &self,
        tx: &mut Tx,
        id: &str,
        user_id: &UserId,
        at: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE credentials SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            == 1)
    }

    async fn credential_by_token(&self, token_hash: &str) -> Result<Option<TokenRow>, StoreError> {
        Ok(sqlx::query(
            "SELECT c.id, c.expires_at, c.revoked_at, u.id, u.username, u.display_name, u.role, \
                    u.institution_id, i.status, u.organisation, u.subject_id, u.disabled_at \
             FROM credentials c JOIN users u ON u.id = c.user_id \
             LEFT JOIN institutions i ON i.id = u.institution_id \
             WHERE c.token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?
        .map(|row| TokenRow {
            credential_id: row.get(0),
            expires_at: row.get(1),
            revoked_at: row.get(2),
            user_id: row.get(3),
            username: row.get(4),
            display_name: row.get(5),
            role: row.get(6),
            institution_id: row.get(7),
            institution_status: row.get(8),
            organisation: row.get(9),
            subject_id: row.get(10),
            disabled_at: row.get(11),
        }))
    }

    async fn touch_credential(&self, id: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE credentials SET last_used_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn user_exists(&self, tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(exists.is_some())
    }

    async fn disable_user(&self, tx: &mut Tx, id: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET disabled_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn enable_user(&self, tx: &mut Tx, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = ?")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn revoke_user_credentials(
        &self,
        tx: &mut Tx,
        user_id: &UserId,
        at: &str,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE credentials SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(user_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
    }
}
