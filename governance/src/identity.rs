//! Who is calling: users, passwords (Argon2id), session tokens and API keys (stored only
//! as SHA-256 hashes), lockout after repeated failed logins.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Duration, Utc};
use storage::said::Said;
use storage::states::InstitutionStatus;

use crate::db::identity::{FailuresRow, NewCredential, NewRow, Users as _};
use crate::second_factor::{self, SecondFactorSettings, Verdict};
use storage::audit::{self, Event};
use storage::ids::{InstitutionId, RequestId, UserId};
use storage::store::{Store, StoreError, Tx, new_id, now, random_bytes, sha256_hex};

/// Failed logins from one address to one username before each further one delays the
/// next (issue 15: a lock per account and address, so that others cannot lock the
/// owner out).
pub const FREE_FAILURES: i64 = 5;
/// The first delay after [`FREE_FAILURES`]; each further failure doubles it, up to
/// [`LONGEST_DELAY`].
pub const FIRST_DELAY: Duration = Duration::minutes(1);
/// The longest delay of one address.
pub const LONGEST_DELAY: Duration = Duration::hours(1);
/// Failed logins to one username from every address within [`CEILING_WINDOW`] that lock
/// it from everywhere for [`CEILING_LOCK`]: far above what its owner mistypes.
pub const ACCOUNT_CEILING: i64 = 100;
/// See [`ACCOUNT_CEILING`].
pub const CEILING_WINDOW: Duration = Duration::hours(24);
/// See [`ACCOUNT_CEILING`].
pub const CEILING_LOCK: Duration = Duration::minutes(15);
/// Failed logins to one username within [`CEILING_WINDOW`] that alert administrators
/// (audited as `security.login_alert`, counted in the quality view).
pub const ALERT_AT: i64 = 30;
/// How long a session token lives.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A platform role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
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
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Caller {
    /// User id.
    pub user_id: UserId,
    /// Login name.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// The institution, for institution users.
    pub institution_id: Option<InstitutionId>,
    /// The institution's status (`active`, `suspended`, `terminated`), for institution users.
    pub institution_status: Option<InstitutionStatus>,
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
    #[error(
        "too many failed logins: logging in to this account is locked until {until} (from your address, or from everywhere after very many failures)"
    )]
    Locked {
        /// When it unlocks (RFC 3339).
        until: String,
    },
    /// The user has a second factor and gave no code.
    #[error(
        "this account needs a one-time code: send one_time_code with the six digits your authenticator app shows, or one of your recovery codes"
    )]
    SecondFactorRequired,
    /// Staff must enrol a second factor before they log in.
    #[error(
        "staff accounts need a second factor: start enrolling with POST /api/v1/sessions/second-factor and your username and password, add the secret to an authenticator app, then log in with its code as one_time_code"
    )]
    SecondFactorEnrolmentNeeded,
    /// The one-time code is wrong or was used already.
    #[error(
        "the one-time code is wrong or was used already: give the code your authenticator app shows now (or an unused recovery code)"
    )]
    BadSecondFactor,
    /// Only staff who must enrol to log in enrol by password; others from a session.
    #[error(
        "enrol a second factor from your session: log in, then POST /api/v1/me/second-factor (enrolling by username and password is for staff who cannot log in without one)"
    )]
    EnrolFromSession,
    /// The user has a confirmed second factor already.
    #[error(
        "this account has a second factor already; to replace it (a lost device), an administrator resets it"
    )]
    SecondFactorEnrolled,
    /// An administrator disabled the account.
    #[error("this account is disabled by an administrator; ask them to enable it again")]
    Disabled,
    /// No such user.
    #[error("no such user")]
    NoUser,
    /// The token is unknown, expired or revoked.
    #[error("the token is not valid (unknown, expired or revoked); log in again")]
    BadToken,
    /// A field of a request is not acceptable.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: Said,
    },
    /// The username is taken.
    #[error("the username '{0}' is already taken")]
    Taken(String),
    /// The person registering has an account already.
    #[error(
        "this person already has an account: log in, or reset the password at a service counter"
    )]
    PersonRegistered,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IdentityError {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            IdentityError::BadLogin => "登录名或密码不正确。".into(),
            IdentityError::Locked { until } => format!(
                "登录失败次数过多，这个账号暂时锁定，{} 后再试。",
                ::chrono::DateTime::parse_from_rfc3339(until)
                    .map(|t| {
                        t.with_timezone(&storage::store::beijing())
                            .format("%H:%M:%S")
                            .to_string()
                    })
                    .unwrap_or_else(|_| until.clone())
            ),
            IdentityError::SecondFactorRequired => {
                "这个账号须填写动态验证码：身份验证器应用显示的 6 位数字，或一个恢复码。".into()
            }
            IdentityError::SecondFactorEnrolmentNeeded => {
                "工作人员账号须先设置双重验证才能登录。".into()
            }
            IdentityError::BadSecondFactor => {
                "动态验证码不正确或已用过：请填写应用现在显示的验证码（或一个未用过的恢复码）。"
                    .into()
            }
            IdentityError::EnrolFromSession => "请登录后在账号页面设置双重验证。".into(),
            IdentityError::SecondFactorEnrolled => {
                "这个账号已设置双重验证；手机丢失需要更换的，请管理员重置。".into()
            }
            IdentityError::Disabled => "这个账号已被管理员停用，请联系管理员。".into(),
            IdentityError::NoUser => "没有这个用户。".into(),
            IdentityError::BadToken => "登录已失效，请重新登录。".into(),
            IdentityError::Invalid { message, .. } => message.zh.clone(),
            IdentityError::Taken(name) => format!("登录名“{name}”已被使用，请换一个。"),
            IdentityError::PersonRegistered => {
                "您已注册过账号：请直接登录；忘记密码的，请到服务窗口重置。".into()
            }
            IdentityError::Store(_) => "服务暂时不可用，请稍后再试。".into(),
        }
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
            message: Said::new(
                format!("the password must have at least {MIN_PASSWORD_CHARS} characters"),
                format!("密码至少 {MIN_PASSWORD_CHARS} 个字符。"),
            ),
        });
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(IdentityError::Invalid {
            field: "password",
            message: Said::new(
                "the password must not be the username",
                "密码不能与登录名相同。",
            ),
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
            message: Said::new(
                "a username has 3 to 64 characters: lower-case letters, digits, '.', '_' or '-'",
                "登录名为 3 到 64 个字符：小写字母、数字、“.”“_”或“-”。",
            ),
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
    actor: &UserId,
    request_id: &RequestId,
) -> Result<UserId, IdentityError> {
    check_username(user.username)?;
    check_password(user.username, user.password)?;
    if Store::username_taken(tx, user.username).await? {
        return Err(IdentityError::Taken(user.username.to_owned()));
    }
    let id = UserId::random();
    Store::insert_user(
        tx,
        &NewRow {
            id: &id,
            username: user.username,
            display_name: user.display_name,
            role: user.role.as_str(),
            institution_id: user.institution_id,
            organisation: user.organisation,
            subject_id: user.subject_id,
            password_hash: &hash_password(user.password),
            created_at: &now(),
        },
    )
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

/// The id of the user with login name `username`, if there is one.
pub async fn user_named(store: &Store, username: &str) -> Result<Option<UserId>, StoreError> {
    store.user_named(username).await
}

/// The same, read in the caller's transaction `tx`.
pub async fn user_named_in(tx: &mut Tx, username: &str) -> Result<Option<UserId>, StoreError> {
    Store::user_named_in(tx, username).await
}

/// Creates a user in a transaction of its own and audits it; returns the user id.
pub async fn add_user(
    store: &Store,
    user: NewUser<'_>,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<UserId, IdentityError> {
    let mut tx = store.write().await?;
    let id = create_user(&mut tx, user, actor, request_id).await?;
    tx.commit().await?;
    Ok(id)
}

/// A natural person registers (BRIEF Q4): one account per person of the register, who
/// is `subject_id` there and named `name`. Returns the user id.
pub async fn register_person(
    store: &Store,
    username: &str,
    password: &str,
    name: &str,
    subject_id: &str,
    request_id: &RequestId,
) -> Result<UserId, IdentityError> {
    let mut tx = store.write().await?;
    let taken = store.user_with_subject(&mut tx, subject_id).await?;
    if taken.is_some() {
        return Err(IdentityError::PersonRegistered);
    }
    let id = create_user(
        &mut tx,
        NewUser {
            username,
            display_name: name,
            role: Role::Person,
            institution_id: None,
            organisation: None,
            subject_id: Some(subject_id),
            password,
        },
        &UserId::from("self-registration"),
        request_id,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// A user as administrators list them.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    /// Its id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Role.
    pub role: String,
    /// Agency or source unit.
    pub organisation: Option<String>,
    /// Institution.
    pub institution_id: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// When an administrator disabled it, if one did.
    pub disabled_at: Option<String>,
}

/// Every user, oldest first.
pub async fn list_users(store: &Store) -> Result<Vec<UserInfo>, StoreError> {
    store.users().await
}

/// A credential just issued: the secret is shown once and never stored.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Issued {
    /// The credential's id (for revocation).
    pub id: String,
    /// The bearer token.
    pub token: String,
    /// When it expires, if it does.
    pub expires_at: Option<String>,
}

async fn issue(
    store: &Store,
    tx: &mut Tx,
    user_id: &UserId,
    kind: &str,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<Issued, IdentityError> {
    let prefix = if kind == "session" { "cps_" } else { "cpk_" };
    let token = format!("{prefix}{}", storage::store::hex(&random_bytes::<32>()));
    let id = new_id();
    let expires_at = expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    store
        .insert_credential(
            tx,
            &NewCredential {
                id: &id,
                user_id,
                kind,
                name,
                token_hash: &sha256_hex(token.as_bytes()),
                created_at: &now(),
                expires_at: expires_at.as_deref(),
            },
        )
        .await?;
    Ok(Issued {
        id,
        token,
        expires_at,
    })
}

/// A login: a username, a password and, where one is asked, a second factor.
#[derive(Clone, Copy, Debug)]
pub struct LoginAttempt<'a> {
    /// The username.
    pub username: &'a str,
    /// The password.
    pub password: &'a str,
    /// A six-digit code of the user's authenticator app, or one of their recovery codes.
    pub one_time_code: Option<&'a str>,
    /// The client's address, or `"unknown"`.
    pub client: &'a str,
}

/// A session opened by a login.
#[derive(Debug)]
pub struct LoggedIn {
    /// The session.
    pub issued: Issued,
    /// The recovery codes, when this login finished enrolling a second factor (shown once).
    pub recovery_codes: Option<Vec<String>>,
}

/// Checks a login and opens a session. Failures (a wrong password or a wrong second
/// factor) are counted per username and client address, with growing delays after
/// [`FREE_FAILURES`], and per username from every address up to [`ACCOUNT_CEILING`];
/// an unknown username is counted, delayed and answered exactly as a known one, and
/// costs the same time.
pub async fn login(
    store: &Store,
    second_factor: &SecondFactorSettings,
    attempt: LoginAttempt<'_>,
    request_id: &RequestId,
) -> Result<LoggedIn, IdentityError> {
    let mut tx = store.write().await?;
    let (user_id, role) = match password_step(store, &mut tx, attempt, request_id).await? {
        Ok(user) => user,
        Err(refused) => return refuse(tx, refused).await,
    };
    let verdict = second_factor::check(
        &mut tx,
        second_factor,
        &user_id,
        role,
        attempt.one_time_code,
        Utc::now().timestamp(),
        request_id,
    )
    .await?;
    let recovery_codes = match verdict {
        Verdict::Passed(codes) => codes,
        Verdict::Missing => return Err(IdentityError::SecondFactorRequired),
        Verdict::EnrolmentNeeded => return Err(IdentityError::SecondFactorEnrolmentNeeded),
        Verdict::Wrong => {
            let lock = record_failure(store, &mut tx, attempt, Some(&user_id), request_id).await?;
            return refuse(tx, lock.map_or(IdentityError::BadSecondFactor, locked)).await;
        }
    };
    // The owner's address starts afresh; the count from everywhere stands.
    store
        .forget_failures(&mut tx, attempt.username, attempt.client)
        .await?;
    let issued = issue(
        store,
        &mut tx,
        &user_id,
        "session",
        "login",
        Some(Utc::now() + SESSION_LIFETIME),
    )
    .await?;
    audit::append(
        &mut tx,
        Event {
            actor: &user_id,
            action: "session.created",
            subject: &issued.id,
            detail: serde_json::json!({
                "client": attempt.client,
                "one_time_code_given": attempt.one_time_code.is_some(),
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(LoggedIn {
        issued,
        recovery_codes,
    })
}

/// Starts enrolling a second factor for a staff member who cannot log in without one,
/// by username and password (counted like a login): refused to anyone else, who
/// enrols from a session ([`start_own_second_factor`]), and once the user has a
/// confirmed factor.
pub async fn start_second_factor(
    store: &Store,
    second_factor: &SecondFactorSettings,
    attempt: LoginAttempt<'_>,
    request_id: &RequestId,
) -> Result<second_factor::Enrolment, IdentityError> {
    let mut tx = store.write().await?;
    let (user_id, role) = match password_step(store, &mut tx, attempt, request_id).await? {
        Ok(user) => user,
        Err(refused) => return refuse(tx, refused).await,
    };
    if !(second_factor.required && role.is_staff()) {
        return Err(IdentityError::EnrolFromSession);
    }
    let enrolment = second_factor::start_enrolment(
        &mut tx,
        second_factor,
        &user_id,
        attempt.username,
        request_id,
    )
    .await?;
    tx.commit().await?;
    Ok(enrolment)
}

/// Starts enrolling a second factor for the caller, from their session; refused once
/// they have a confirmed one.
pub async fn start_own_second_factor(
    store: &Store,
    second_factor: &SecondFactorSettings,
    caller: &Caller,
    request_id: &RequestId,
) -> Result<second_factor::Enrolment, IdentityError> {
    let mut tx = store.write().await?;
    let enrolment = second_factor::start_enrolment(
        &mut tx,
        second_factor,
        &caller.user_id,
        &caller.username,
        request_id,
    )
    .await?;
    tx.commit().await?;
    Ok(enrolment)
}

/// Replaces the caller's recovery codes after a six-digit code of their authenticator
/// app (a wrong code counts as a failed login of theirs, and a lock on their logins
/// from this address holds here too).
pub async fn renew_recovery_codes(
    store: &Store,
    second_factor: &SecondFactorSettings,
    caller: &Caller,
    one_time_code: &str,
    client: &str,
    request_id: &RequestId,
) -> Result<Vec<String>, IdentityError> {
    let code = one_time_code.trim();
    if !second_factor::is_six_digits(code) {
        return Err(IdentityError::Invalid {
            field: "one_time_code",
            message: Said::new(
                "give the six digits your authenticator app shows now (not a recovery code)",
                "请填写身份验证器应用现在显示的 6 位数字（不能用恢复码）。",
            ),
        });
    }
    let mut tx = store.write().await?;
    if let Some(until) = lock_on(store, &mut tx, &caller.username, client).await? {
        return Err(locked(until));
    }
    if !second_factor::confirmed(&mut tx, &caller.user_id).await? {
        return Err(IdentityError::Invalid {
            field: "one_time_code",
            message: Said::new(
                "you have no second factor yet: enrol one with POST /api/v1/sessions/second-factor",
                "您还没有设置双重验证：请先设置。",
            ),
        });
    }
    let verdict = second_factor::check(
        &mut tx,
        second_factor,
        &caller.user_id,
        caller.role,
        Some(code),
        Utc::now().timestamp(),
        request_id,
    )
    .await?;
    if verdict != Verdict::Passed(None) {
        let attempt = LoginAttempt {
            username: &caller.username,
            password: "",
            one_time_code: Some(code),
            client,
        };
        let lock =
            record_failure(store, &mut tx, attempt, Some(&caller.user_id), request_id).await?;
        return refuse(tx, lock.map_or(IdentityError::BadSecondFactor, locked)).await;
    }
    let codes = second_factor::new_recovery_codes(&mut tx, &caller.user_id).await?;
    audit::append(
        &mut tx,
        Event {
            actor: &caller.user_id,
            action: "second_factor.recovery_codes_renewed",
            subject: &caller.user_id,
            detail: serde_json::json!({ "recovery_codes": codes.len() }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

fn locked(until: DateTime<Utc>) -> IdentityError {
    IdentityError::Locked {
        until: until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// The lock that holds now on logins of `username` from `client`, or from everywhere.
async fn lock_on(
    store: &Store,
    tx: &mut Tx,
    username: &str,
    client: &str,
) -> Result<Option<DateTime<Utc>>, IdentityError> {
    let now_utc = Utc::now();
    let pair = failures(store, tx, username, client).await?;
    let account = failures(store, tx, username, "*").await?;
    Ok([pair, account]
        .into_iter()
        .filter_map(|f| f.and_then(|f| f.locked_until))
        .filter(|until| *until > now_utc)
        .max())
}

/// Commits `tx`, where a failure was recorded, and answers `refused`.
async fn refuse<T>(tx: Tx, refused: IdentityError) -> Result<T, IdentityError> {
    tx.commit().await?;
    Err(refused)
}

/// The password half of a login, inside `tx`: the user's id and role, or the refusal to
/// answer once `tx` is committed ([`refuse`]: a failure is recorded in it).
async fn password_step(
    store: &Store,
    tx: &mut Tx,
    attempt: LoginAttempt<'_>,
    request_id: &RequestId,
) -> Result<Result<(UserId, Role), IdentityError>, IdentityError> {
    if let Some(until) = lock_on(store, tx, attempt.username, attempt.client).await? {
        return Ok(Err(locked(until)));
    }
    let user = store.login_user(tx, attempt.username).await?;
    // An unknown username spends the time a real check would.
    let matched = match &user {
        Some((_, stored, _, _)) => password_matches(attempt.password, stored),
        None => {
            let _ = password_matches(attempt.password, dummy_hash());
            false
        }
    };
    let known = user.as_ref().map(|(id, ..)| id.as_str());
    let Some((user_id, _, role, disabled)) = user.as_ref().filter(|_| matched) else {
        let lock = record_failure(store, tx, attempt, known, request_id).await?;
        return Ok(Err(lock.map_or(IdentityError::BadLogin, locked)));
    };
    if disabled.is_some() {
        // Answered as a wrong password: "disabled" after a matching password would
        // confirm the password to whoever guessed it.
        return Ok(Err(IdentityError::BadLogin));
    }
    let role = Role::parse(role).ok_or(IdentityError::BadLogin)?;
    Ok(Ok((UserId::from(user_id.as_str()), role)))
}

/// Records a failed login of `attempt` (of user `known`, if the username is one) from
/// its client and from everywhere, alerting administrators at [`ALERT_AT`]; the lock it
/// sets, if any.
async fn record_failure(
    store: &Store,
    tx: &mut Tx,
    attempt: LoginAttempt<'_>,
    known: Option<&str>,
    request_id: &RequestId,
) -> Result<Option<DateTime<Utc>>, IdentityError> {
    let (username, client) = (attempt.username, attempt.client);
    let now_utc = Utc::now();
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let pair = failures(store, tx, username, client).await?;
    let account = failures(store, tx, username, "*").await?;
    // The pair: growing delays after the free failures.
    let failed = pair.as_ref().map_or(0, |f| f.failures) + 1;
    let pair_lock = (failed >= FREE_FAILURES).then(|| {
        let doublings = (failed - FREE_FAILURES).min(16) as u32;
        now_utc + (FIRST_DELAY * 2i32.pow(doublings)).min(LONGEST_DELAY)
    });
    write_failures(
        store,
        tx,
        username,
        client,
        failed,
        pair.as_ref(),
        pair_lock,
        now_utc,
    )
    .await?;
    // The username from everywhere, over a window.
    let current = account
        .as_ref()
        .filter(|f| f.first_at > now_utc - CEILING_WINDOW);
    let total = current.map_or(0, |f| f.failures) + 1;
    let account_lock = (total >= ACCOUNT_CEILING).then(|| now_utc + CEILING_LOCK);
    write_failures(
        store,
        tx,
        username,
        "*",
        total,
        current,
        account_lock,
        now_utc,
    )
    .await?;
    let alert = total >= ALERT_AT && !current.is_some_and(|f| f.alerted);
    if alert {
        store.mark_alerted(tx, username).await?;
        tracing::warn!(
            username,
            failures = total,
            "sustained failed logins to one username"
        );
        audit::append(
            tx,
            Event {
                actor: "system",
                action: "security.login_alert",
                subject: username,
                detail: serde_json::json!({
                    "failures": total,
                    "window_hours": CEILING_WINDOW.num_hours(),
                    "known_user": known.is_some(),
                }),
                request_id,
            },
        )
        .await?;
    }
    let lock = pair_lock.into_iter().chain(account_lock).max();
    if let Some(id) = known {
        audit::append(
            tx,
            Event {
                actor: id,
                action: if lock.is_some() {
                    "user.locked"
                } else {
                    "session.login_failed"
                },
                subject: id,
                detail: serde_json::json!({
                    "client": client,
                    "failures_from_client": failed,
                    "failures_from_everywhere": total,
                    "locked_until": lock.map(stamp),
                    "everywhere": account_lock.is_some(),
                }),
                request_id,
            },
        )
        .await?;
    }
    // Failures of another day that hold no lock are forgotten.
    store
        .forget_old_failures(tx, &stamp(now_utc - CEILING_WINDOW), &stamp(now_utc))
        .await?;
    Ok(lock)
}

/// Alerts of sustained failed logins raised in the last 24 hours.
pub async fn login_alerts(store: &Store) -> Result<i64, StoreError> {
    let since =
        (Utc::now() - Duration::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    store.login_alerts_since(&since).await
}

/// Failed logins counted for a username from one client (or `"*"`: from every one).
struct Failures {
    failures: i64,
    first_at: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
    alerted: bool,
}

async fn failures(
    store: &Store,
    tx: &mut Tx,
    username: &str,
    client: &str,
) -> Result<Option<Failures>, StoreError> {
    let row = store.login_failures(tx, username, client).await?;
    let time = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    Ok(
        row.map(|(failures, first_at, locked_until, alerted)| Failures {
            failures,
            first_at: time(&first_at).unwrap_or_else(Utc::now),
            locked_until: locked_until.as_deref().and_then(time),
            alerted,
        }),
    )
}

#[allow(clippy::too_many_arguments)]
async fn write_failures(
    store: &Store,
    tx: &mut Tx,
    username: &str,
    client: &str,
    failures: i64,
    before: Option<&Failures>,
    lock: Option<DateTime<Utc>>,
    now_utc: DateTime<Utc>,
) -> Result<(), StoreError> {
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let first_at = before.map_or(now_utc, |f| f.first_at);
    store
        .write_login_failures(
            tx,
            &FailuresRow {
                username,
                client,
                failures,
                first_at: &stamp(first_at),
                last_at: &stamp(now_utc),
                locked_until: lock.map(stamp).as_deref(),
                alerted: before.is_some_and(|f| f.alerted),
            },
        )
        .await
}

/// An Argon2id hash of a random password, for timing-equal refusals.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&storage::store::hex(&random_bytes::<16>())))
}

/// How long an API key lives unless its owner asks otherwise (issue 15: keys expire).
pub const API_KEY_DAYS: i64 = 90;
/// The longest an API key may live.
pub const API_KEY_MAX_DAYS: i64 = 365;

/// Creates an API key for the caller, expiring after `days` (default [`API_KEY_DAYS`],
/// at most [`API_KEY_MAX_DAYS`]).
pub async fn create_api_key(
    store: &Store,
    caller: &Caller,
    name: &str,
    days: Option<i64>,
    request_id: &RequestId,
) -> Result<Issued, IdentityError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(IdentityError::Invalid {
            field: "name",
            message: Said::new(
                "an API key needs a name of 1 to 100 characters, to recognise it later",
                "API 密钥须有 1 到 100 个字的名称，便于日后辨认。",
            ),
        });
    }
    let days = days.unwrap_or(API_KEY_DAYS);
    if !(1..=API_KEY_MAX_DAYS).contains(&days) {
        return Err(IdentityError::Invalid {
            field: "expires_in_days",
            message: Said::new(
                format!(
                    "an API key lives 1 to {API_KEY_MAX_DAYS} days ({API_KEY_DAYS} by default); rotate it before it expires"
                ),
                format!(
                    "API 密钥有效期为 1 到 {API_KEY_MAX_DAYS} 天（默认 {API_KEY_DAYS} 天），到期前请轮换。"
                ),
            ),
        });
    }
    let mut tx = store.write().await?;
    let issued = issue(
        store,
        &mut tx,
        &caller.user_id,
        "api_key",
        name,
        Some(Utc::now() + Duration::days(days)),
    )
    .await?;
    audit::append(
        &mut tx,
        Event {
            actor: &caller.user_id,
            action: "api_key.created",
            subject: &issued.id,
            detail: serde_json::json!({ "name": name, "expires_at": issued.expires_at }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(issued)
}

/// Replaces one of the caller's live API keys by a new key of the same name and a new
/// lifetime of [`API_KEY_DAYS`]; the old key is revoked in the same transaction. `None`
/// if the caller has no such live key.
pub async fn rotate_api_key(
    store: &Store,
    caller: &Caller,
    id: &str,
    request_id: &RequestId,
) -> Result<Option<Issued>, IdentityError> {
    let mut tx = store.write().await?;
    let name = store
        .live_api_key_name(&mut tx, id, &caller.user_id, &now())
        .await?;
    let Some(name) = name else {
        return Ok(None);
    };
    store.revoke_credential_by_id(&mut tx, id, &now()).await?;
    let issued = issue(
        store,
        &mut tx,
        &caller.user_id,
        "api_key",
        &name,
        Some(Utc::now() + Duration::days(API_KEY_DAYS)),
    )
    .await?;
    audit::append(
        &mut tx,
        Event {
            actor: &caller.user_id,
            action: "api_key.rotated",
            subject: &issued.id,
            detail: serde_json::json!({ "name": name, "replaces": id, "expires_at": issued.expires_at }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(issued))
}

/// Changes the caller's password, after checking the current one, and revokes the
/// caller's other sessions (the one in use stays). Returns how many were revoked.
pub async fn change_password(
    store: &Store,
    caller: &Caller,
    current: &str,
    new: &str,
    client: &str,
    request_id: &RequestId,
) -> Result<u64, IdentityError> {
    check_password(&caller.username, new).map_err(|e| match e {
        IdentityError::Invalid { message, .. } => IdentityError::Invalid {
            field: "new_password",
            message,
        },
        other => other,
    })?;
    if new == current {
        return Err(IdentityError::Invalid {
            field: "new_password",
            message: Said::new(
                "the new password is the current one; choose another",
                "新密码与当前密码相同，请换一个。",
            ),
        });
    }
    let hash = hash_password(new);
    let mut tx = store.write().await?;
    // A wrong current password is a failed login of the caller's, from this address:
    // a stolen session cannot guess the password faster than a login could.
    let attempt = LoginAttempt {
        username: &caller.username,
        password: current,
        one_time_code: None,
        client,
    };
    if let Err(refused) = password_step(store, &mut tx, attempt, request_id).await? {
        let refused = match refused {
            IdentityError::BadLogin => IdentityError::Invalid {
                field: "current_password",
                message: Said::new("the current password is wrong", "当前密码不正确。"),
            },
            other => other,
        };
        return refuse(tx, refused).await;
    }
    store
        .set_password_hash(&mut tx, &caller.user_id, &hash)
        .await?;
    let revoked = store
        .revoke_other_sessions(&mut tx, &caller.user_id, &caller.credential_id, &now())
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor: &caller.user_id,
            action: "user.password_changed",
            subject: &caller.user_id,
            detail: serde_json::json!({ "sessions_revoked": revoked }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(revoked)
}

/// A credential as listed to its owner (never the secret).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
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
    Ok(store.api_keys(&caller.user_id).await?)
}

/// Revokes one of the caller's credentials; `false` if the caller has no such live
/// credential (another user's id included).
pub async fn revoke(
    store: &Store,
    caller: &Caller,
    credential_id: &str,
    request_id: &RequestId,
) -> Result<bool, IdentityError> {
    let mut tx = store.write().await?;
    let done = store
        .revoke_credential(&mut tx, credential_id, &caller.user_id, &now())
        .await?;
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
    let row = store
        .credential_by_token(&sha256_hex(token.as_bytes()))
        .await?
        .ok_or(IdentityError::BadToken)?;
    let expired = row
        .expires_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| t <= Utc::now());
    if row.revoked_at.is_some() || expired {
        return Err(IdentityError::BadToken);
    }
    if row.disabled_at.is_some() {
        return Err(IdentityError::Disabled);
    }
    let role = Role::parse(&row.role).ok_or(IdentityError::BadToken)?;
    let user_id = UserId::from(row.user_id);
    let affiliations = if role == Role::Reviewer {
        crate::review::affiliations(store, &user_id).await?
    } else {
        Vec::new()
    };
    let caller = Caller {
        credential_id: row.credential_id,
        user_id,
        username: row.username,
        display_name: row.display_name,
        role,
        institution_id: row.institution_id.map(InstitutionId::from),
        institution_status: row.institution_status,
        affiliations,
        organisation: row.organisation,
        subject_id: row.subject_id,
    };
    store
        .touch_credential(&caller.credential_id, &now())
        .await?;
    Ok(caller)
}

/// What an administrator does to another user's access (issue 15), audited with a reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserAction {
    /// Disable the account and revoke all its credentials.
    Disable,
    /// Enable a disabled account again (its old credentials stay revoked).
    Enable,
    /// Revoke all its sessions and API keys, leaving the account enabled.
    RevokeCredentials,
    /// Remove its second factor and recovery codes (a lost device): it enrols again at
    /// its next login.
    ResetSecondFactor,
}

/// Applies `action` to user `user_id` on behalf of administrator `actor`; returns how
/// many credentials were revoked. An administrator cannot disable themselves.
pub async fn administer_user(
    store: &Store,
    actor: &UserId,
    user_id: &UserId,
    action: UserAction,
    reason: &str,
    request_id: &RequestId,
) -> Result<u64, IdentityError> {
    let reason = reason.trim();
    if reason.chars().count() < 4 {
        return Err(IdentityError::Invalid {
            field: "reason",
            message: Said::new(
                "give the reason (at least 4 characters): it is kept in the audit log",
                "请说明理由（至少 4 个字），理由记入审计日志。",
            ),
        });
    }
    if action == UserAction::Disable && actor == user_id {
        return Err(IdentityError::Invalid {
            field: "id",
            message: Said::new(
                "you cannot disable your own account; ask another administrator",
                "不能停用自己的账号，请另一位管理员操作。",
            ),
        });
    }
    let mut tx = store.write().await?;
    if !store.user_exists(&mut tx, user_id).await? {
        return Err(IdentityError::NoUser);
    }
    let at = now();
    match action {
        UserAction::Disable => {
            store.disable_user(&mut tx, user_id, &at).await?;
        }
        UserAction::Enable => {
            store.enable_user(&mut tx, user_id).await?;
        }
        UserAction::RevokeCredentials => {}
        UserAction::ResetSecondFactor => {
            if !second_factor::remove(&mut tx, user_id).await? {
                return Err(IdentityError::Invalid {
                    field: "id",
                    message: Said::new(
                        "this user has no second factor to reset",
                        "这个用户没有可重置的双重验证。",
                    ),
                });
            }
        }
    }
    let revoked = if matches!(action, UserAction::Enable | UserAction::ResetSecondFactor) {
        0
    } else {
        store.revoke_user_credentials(&mut tx, user_id, &at).await?
    };
    audit::append(
        &mut tx,
        Event {
            actor,
            action: match action {
                UserAction::Disable => "user.disabled",
                UserAction::Enable => "user.enabled",
                UserAction::RevokeCredentials => "user.credentials_revoked",
                UserAction::ResetSecondFactor => "user.second_factor_reset",
            },
            subject: user_id,
            detail: serde_json::json!({ "reason": reason, "credentials_revoked": revoked }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(revoked)
}
