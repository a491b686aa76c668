//! Who is calling: users, passwords (Argon2id), session tokens and API keys (stored only
//! as SHA-256 hashes), lockout after repeated failed logins.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;

use crate::audit::{self, Event};
use crate::store::{Store, StoreError, Tx, new_id, now, random_bytes, sha256_hex};

/// Consecutive failed logins that lock an account.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT: Duration = Duration::minutes(15);
/// How long a session token lives.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A platform role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the platform: reviews decisions, accounts, suspensions.
    Administrator,
    /// An expert reviewer of applications and products.
    Reviewer,
    /// A user of an institution with an account.
    Institution,
    /// A user of an institution that is applying; becomes an institution user when
    /// its account is opened.
    Applicant,
    /// Staff of an agency (a state organ, public institution or people's organisation)
    /// who request verification of listed subjects (Q7): a dedicated role.
    AgencyStaff,
    /// A user of a source unit (数源单位), who resolves objections to its records (Q8).
    SourceUnit,
    /// A natural person, who sees their own record and authorises others to (Q4).
    Person,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Reviewer => "reviewer",
            Role::Institution => "institution",
            Role::Applicant => "applicant",
            Role::AgencyStaff => "agency_staff",
            Role::SourceUnit => "source_unit",
            Role::Person => "person",
        }
    }

    /// The role with this stored name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "administrator" => Some(Role::Administrator),
            "reviewer" => Some(Role::Reviewer),
            "institution" => Some(Role::Institution),
            "applicant" => Some(Role::Applicant),
            "agency_staff" => Some(Role::AgencyStaff),
            "source_unit" => Some(Role::SourceUnit),
            "person" => Some(Role::Person),
            _ => None,
        }
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Caller {
    /// User id.
    pub user_id: String,
    /// Login name.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// The institution, for institution users.
    pub institution_id: Option<String>,
    /// The institution's status (`active`, `suspended`, `terminated`), for institution users.
    pub institution_status: Option<String>,
    /// Reviewers: unified social credit codes of the institutions they belong to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub affiliations: Vec<String>,
    /// Agency staff: their agency; source-unit users: their unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// Natural persons: their subject_id in the persons register.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<String>,
    /// The credential used.
    #[serde(skip)]
    pub credential_id: String,
}

/// Why a login or a credential was refused, or what else went wrong.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Unknown user or wrong password (deliberately not told apart).
    #[error("the username or password is wrong")]
    BadLogin,
    /// Too many failed logins.
    #[error("too many failed logins: the account is locked until {until}")]
    Locked {
        /// When it unlocks (RFC 3339).
        until: String,
    },
    /// The token is unknown, expired or revoked.
    #[error("the token is not valid (unknown, expired or revoked); log in again")]
    BadToken,
    /// A field of a request is not acceptable.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The username is taken.
    #[error("the username '{0}' is already taken")]
    Taken(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for IdentityError {
    fn from(e: sqlx::Error) -> Self {
        IdentityError::Store(StoreError::Query(e))
    }
}

fn hasher() -> Argon2<'static> {
    // OWASP's recommended Argon2id settings: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with Argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes make a salt");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 hashes any password")
        .to_string()
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| hasher().verify_password(password.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// Checks a new password: long enough, not the username.
pub fn check_password(username: &str, password: &str) -> Result<(), IdentityError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(IdentityError::Invalid {
            field: "password",
            message: format!("the password must have at least {MIN_PASSWORD_CHARS} characters"),
        });
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(IdentityError::Invalid {
            field: "password",
            message: "the password must not be the username".into(),
        });
    }
    Ok(())
}

/// Checks a username: 3–64 characters of `a-z 0-9 . _ -`.
pub fn check_username(username: &str) -> Result<(), IdentityError> {
    let ok = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IdentityError::Invalid {
            field: "username",
            message:
                "a username has 3 to 64 characters: lower-case letters, digits, '.', '_' or '-'"
                    .into(),
        })
    }
}

/// A new user to create.
pub struct NewUser<'a> {
    /// Login name.
    pub username: &'a str,
    /// Name shown to people.
    pub display_name: &'a str,
    /// Role.
    pub role: Role,
    /// The institution of an institution user.
    pub institution_id: Option<&'a str>,
    /// The agency of agency staff, the unit of a source-unit user.
    pub organisation: Option<&'a str>,
    /// A natural person's subject_id in the persons register.
    pub subject_id: Option<&'a str>,
    /// The password (checked, then hashed).
    pub password: &'a str,
}

/// Creates a user inside `tx` and audits it; returns the user id.
pub async fn create_user(
    tx: &mut Tx,
    user: NewUser<'_>,
    actor: &str,
    request_id: &str,
) -> Result<String, IdentityError> {
    check_username(user.username)?;
    check_password(user.username, user.password)?;
    let taken = sqlx::query("SELECT 1 FROM users WHERE username = ?")
        .bind(user.username)
        .fetch_optional(&mut **tx)
        .await?;
    if taken.is_some() {
        return Err(IdentityError::Taken(user.username.to_owned()));
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO users (id, username, display_name, role, institution_id, organisation, \
                            subject_id, password_hash, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(user.username)
    .bind(user.display_name)
    .bind(user.role.as_str())
    .bind(user.institution_id)
    .bind(user.organisation)
    .bind(user.subject_id)
    .bind(hash_password(user.password))
    .bind(now())
    .execute(&mut **tx)
    .await?;
    audit::append(
        tx,
        Event {
            actor,
            action: "user.created",
            subject: &id,
            detail: serde_json::json!({
                "username": user.username,
                "role": user.role.as_str(),
                "institution_id": user.institution_id,
                "organisation": user.organisation,
            }),
            request_id,
        },
    )
    .await?;
    Ok(id)
}

/// A credential just issued: the secret is shown once and never stored.
#[derive(Debug, serde::Serialize)]
pub struct Issued {
    /// The credential's id (for revocation).
    pub id: String,
    /// The bearer token.
    pub token: String,
    /// When it expires, if it does.
    pub expires_at: Option<String>,
}

async fn issue(
    tx: &mut Tx,
    user_id: &str,
    kind: &str,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<Issued, IdentityError> {
    let prefix = if kind == "session" { "cps_" } else { "cpk_" };
    let token = format!("{prefix}{}", crate::store::hex(&random_bytes::<32>()));
    let id = new_id();
    let expires_at = expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    sqlx::query(
        "INSERT INTO credentials (id, user_id, kind, name, token_hash, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(kind)
    .bind(name)
    .bind(sha256_hex(token.as_bytes()))
    .bind(now())
    .bind(&expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(Issued {
        id,
        token,
        expires_at,
    })
}

/// Checks a username and password and opens a session. Failed attempts count towards
/// a lockout; an unknown username costs the same time as a wrong password.
pub async fn login(
    store: &Store,
    username: &str,
    password: &str,
    request_id: &str,
) -> Result<Issued, IdentityError> {
    let mut tx = store.write().await?;
    let row = sqlx::query(
        "SELECT id, password_hash, failed_logins, locked_until FROM users WHERE username = ?",
    )
    .bind(username)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        // Spend the time a real check would, so response times do not reveal names.
        let _ = password_matches(password, dummy_hash());
        return Err(IdentityError::BadLogin);
    };
    let (user_id, stored, failed, locked_until): (String, String, i64, Option<String>) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let now_utc = Utc::now();
    if let Some(until) = locked_until
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .filter(|t| *t > now_utc)
    {
        return Err(IdentityError::Locked {
            until: until
                .with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
    }
    if !password_matches(password, &stored) {
        let failed = failed + 1;
        let lock = (failed >= MAX_FAILED_LOGINS)
            .then(|| (now_utc + LOCKOUT).to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        sqlx::query("UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?")
            .bind(if lock.is_some() { 0 } else { failed })
            .bind(&lock)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            Event {
                actor: &user_id,
                action: if lock.is_some() {
                    "user.locked"
                } else {
                    "session.login_failed"
                },
                subject: &user_id,
                detail: serde_json::json!({ "failed_logins": failed }),
                request_id,
            },
        )
        .await?;
        tx.commit().await?;
        return Err(match lock {
            Some(until) => IdentityError::Locked { until },
            None => IdentityError::BadLogin,
        });
    }
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?")
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    let issued = issue(
        &mut tx,
        &user_id,
        "session",
        "login",
        Some(now_utc + SESSION_LIFETIME),
    )
    .await?;
    audit::append(
        &mut tx,
        Event {
            actor: &user_id,
            action: "session.created",
            subject: &issued.id,
            detail: serde_json::json!({}),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(issued)
}

/// An Argon2id hash of a random password, for timing-equal refusals.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&crate::store::hex(&random_bytes::<16>())))
}

/// Creates a long-lived API key for the caller.
pub async fn create_api_key(
    store: &Store,
    caller: &Caller,
    name: &str,
    request_id: &str,
) -> Result<Issued, IdentityError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(IdentityError::Invalid {
            field: "name",
            message: "an API key needs a name of 1 to 100 characters, to recognise it later".into(),
        });
    }
    let mut tx = store.write().await?;
    let issued = issue(&mut tx, &caller.user_id, "api_key", name, None).await?;
    audit::append(
        &mut tx,
        Event {
            actor: &caller.user_id,
            action: "api_key.created",
            subject: &issued.id,
            detail: serde_json::json!({ "name": name }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(issued)
}

/// A credential as listed to its owner (never the secret).
#[derive(Debug, serde::Serialize)]
pub struct CredentialInfo {
    /// Id.
    pub id: String,
    /// `session` or `api_key`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Created.
    pub created_at: String,
    /// Expires.
    pub expires_at: Option<String>,
    /// Last used.
    pub last_used_at: Option<String>,
}

/// The caller's API keys that are not revoked.
pub async fn list_api_keys(
    store: &Store,
    caller: &Caller,
) -> Result<Vec<CredentialInfo>, IdentityError> {
    let rows = sqlx::query(
        "SELECT id, kind, name, created_at, expires_at, last_used_at FROM credentials \
         WHERE user_id = ? AND kind = 'api_key' AND revoked_at IS NULL ORDER BY created_at, id",
    )
    .bind(&caller.user_id)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
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

/// Revokes one of the caller's credentials; `false` if the caller has no such live
/// credential (another user's id included).
pub async fn revoke(
    store: &Store,
    caller: &Caller,
    credential_id: &str,
    request_id: &str,
) -> Result<bool, IdentityError> {
    let mut tx = store.write().await?;
    let done = sqlx::query(
        "UPDATE credentials SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(credential_id)
    .bind(&caller.user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if done {
        audit::append(
            &mut tx,
            Event {
                actor: &caller.user_id,
                action: "credential.revoked",
                subject: credential_id,
                detail: serde_json::json!({}),
                request_id,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// The caller a bearer token stands for, if the token is live.
pub async fn authenticate(store: &Store, token: &str) -> Result<Caller, IdentityError> {
    let row = sqlx::query(
        "SELECT c.id, c.expires_at, c.revoked_at, u.id, u.username, u.display_name, u.role, \
                u.institution_id, i.status, u.organisation, u.subject_id \
         FROM credentials c JOIN users u ON u.id = c.user_id \
         LEFT JOIN institutions i ON i.id = u.institution_id \
         WHERE c.token_hash = ?",
    )
    .bind(sha256_hex(token.as_bytes()))
    .fetch_optional(store.pool())
    .await?
    .ok_or(IdentityError::BadToken)?;
    let expires_at: Option<String> = row.get(1);
    let revoked_at: Option<String> = row.get(2);
    let expired = expires_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| t <= Utc::now());
    if revoked_at.is_some() || expired {
        return Err(IdentityError::BadToken);
    }
    let role: String = row.get(6);
    let role = Role::parse(&role).ok_or(IdentityError::BadToken)?;
    let user_id: String = row.get(3);
    let affiliations = if role == Role::Reviewer {
        crate::review::affiliations(store, &user_id).await?
    } else {
        Vec::new()
    };
    let caller = Caller {
        credential_id: row.get(0),
        user_id,
        username: row.get(4),
        display_name: row.get(5),
        role,
        institution_id: row.get(7),
        institution_status: row.get(8),
        affiliations,
        organisation: row.get(9),
        subject_id: row.get(10),
    };
    sqlx::query("UPDATE credentials SET last_used_at = ? WHERE id = ?")
        .bind(now())
        .bind(&caller.credential_id)
        .execute(store.pool())
        .await?;
    Ok(caller)
}
