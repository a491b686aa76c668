//! Second factors (issue 15; GB/T 22239 level 3 asks two kinds of authentication of
//! administrators): time-based one-time passwords (RFC 6238: HMAC-SHA1, six digits,
//! 30-second steps, the form every authenticator app reads) and single-use recovery
//! codes.
//!
//! Secrets are kept sealed (ChaCha20-Poly1305 under the platform's second-factor key,
//! bound to the user's id); recovery codes only as SHA-256 hashes. A code is accepted
//! for the step before and after the current one (clock drift) and never twice: the
//! last step used is kept (RFC 6238 §5.2).

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use storage::ids::{RequestId, UserId};

use crate::db::second_factor::SecondFactors as _;
use crate::identity::{IdentityError, Role};
use storage::audit::{self, Event};
use storage::store::{Store, StoreError, Tx, now, random_bytes, sha256_hex};

/// Seconds per time step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Recovery codes issued at enrolment (and each time they are renewed).
pub const RECOVERY_CODES: usize = 10;
/// The name authenticator apps show beside the username.
pub const ISSUER: &str = "creditpool";

/// Who must give a second factor.
#[derive(Clone)]
pub struct SecondFactorSettings {
    /// Staff (administrators, reviewers, source units, agency staff) must enrol and
    /// give a code at every login. Whatever this says, anyone with a confirmed factor
    /// gives a code; when `false` (the demo and most tests), staff need not enrol.
    pub required: bool,
    /// The key sealing the stored secrets.
    pub key: std::sync::Arc<[u8; 32]>,
}

impl std::fmt::Debug for SecondFactorSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorSettings")
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl SecondFactorSettings {
    /// Required, with `key`.
    pub fn new(key: [u8; 32]) -> SecondFactorSettings {
        SecondFactorSettings {
            required: true,
            key: std::sync::Arc::new(key),
        }
    }

    fn sealing_key(&self) -> LessSafeKey {
        LessSafeKey::new(
            UnboundKey::new(&aead::CHACHA20_POLY1305, self.key.as_ref())
                .expect("a 32-byte ChaCha20-Poly1305 key"),
        )
    }

    fn seal(&self, user_id: &UserId, secret: &[u8]) -> Vec<u8> {
        let nonce = random_bytes::<12>();
        let mut sealed = secret.to_vec();
        self.sealing_key()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(user_id.as_bytes()),
                &mut sealed,
            )
            .expect("sealing a short secret");
        [nonce.as_slice(), &sealed].concat()
    }

    /// `None` if the sealed secret was not sealed under this key for this user.
    fn open(&self, user_id: &UserId, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, rest) = sealed.split_at_checked(12)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut rest = rest.to_vec();
        let plain = self
            .sealing_key()
            .open_in_place(nonce, Aad::from(user_id.as_bytes()), &mut rest)
            .ok()?;
        Some(plain.to_vec())
    }
}

impl Role {
    /// Staff of the platform and its partners, who must give a second factor when the
    /// platform requires one.
    pub fn is_staff(self) -> bool {
        matches!(
            self,
            Role::Administrator | Role::Reviewer | Role::SourceUnit | Role::AgencyStaff
        )
    }
}

/// The RFC 6238 code of `secret` at time step `step`.
pub fn code_at(secret: &[u8], step: u64) -> u32 {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = ring::hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let word = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    word % 10u32.pow(DIGITS)
}

/// The time step of a Unix time.
pub fn step_of(unix_seconds: i64) -> u64 {
    u64::try_from(unix_seconds.div_euclid(STEP_SECONDS)).unwrap_or(0)
}

/// RFC 4648 base32 without padding, as authenticator apps take secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut block = [0u8; 5];
        block[..chunk.len()].copy_from_slice(chunk);
        let bits = block.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            let index = (bits >> (35 - 5 * i)) & 0x1f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

/// Reads RFC 4648 base32 (any case, spaces ignored); `None` if it is not base32.
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u64;
    let mut count = 0u32;
    let mut out = Vec::new();
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u64 - 'A' as u64,
            c @ '2'..='7' => c as u64 - '2' as u64 + 26,
            _ => return None,
        };
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// A second factor being enrolled: shown once, to be added to an authenticator app.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// The secret, base32.
    pub secret: String,
    /// The same as an `otpauth://` URI (what a QR code for an app holds).
    pub otpauth_uri: String,
    /// Digits of a code.
    pub digits: u32,
    /// Seconds per code.
    pub period_seconds: i64,
    /// What to do next.
    pub next: &'static str,
}

/// Starts (or restarts) the enrolment of `user_id`: a new secret, pending until a login
/// gives a code of it. Refused if the user has a confirmed second factor: an
/// administrator resets it first.
pub async fn start_enrolment(
    tx: &mut Tx,
    settings: &SecondFactorSettings,
    user_id: &UserId,
    username: &str,
    request_id: &RequestId,
) -> Result<Enrolment, IdentityError> {
    if confirmed(tx, user_id).await? {
        return Err(IdentityError::SecondFactorEnrolled);
    }
    let secret = random_bytes::<20>();
    Store::start_second_factor(tx, user_id, &settings.seal(user_id, &secret), &now()).await?;
    audit::append(
        tx,
        Event {
            actor: user_id,
            action: "second_factor.enrolment_started",
            subject: user_id,
            detail: serde_json::json!({}),
            request_id,
        },
    )
    .await?;
    let secret = base32(&secret);
    let label: String = format!("{ISSUER}:{username}")
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b':' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    Ok(Enrolment {
        otpauth_uri: format!(
            "otpauth://totp/{label}?secret={secret}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
        ),
        secret,
        digits: DIGITS,
        period_seconds: STEP_SECONDS,
        next: "add the secret to an authenticator app, then log in with POST /api/v1/sessions and one_time_code set to the code it shows; the answer holds your recovery codes, shown once",
    })
}

/// Gives `user_id` a confirmed second factor of a known `secret` (the demo's staff,
/// whose secrets are printed like their passwords), audited.
pub async fn enrol_known(
    tx: &mut Tx,
    settings: &SecondFactorSettings,
    user_id: &UserId,
    secret: &[u8],
    actor: &UserId,
    request_id: &RequestId,
) -> Result<(), StoreError> {
    Store::insert_confirmed_second_factor(tx, user_id, &settings.seal(user_id, secret), &now())
        .await?;
    audit::append(
        tx,
        Event {
            actor,
            action: "second_factor.enrolled",
            subject: user_id,
            detail: serde_json::json!({ "known_secret": true }),
            request_id,
        },
    )
    .await?;
    Ok(())
}

/// What a login's second factor came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No second factor is asked of this user, or the one given is right. Holds the
    /// recovery codes when this login finished an enrolment (shown once).
    Passed(Option<Vec<String>>),
    /// The user must give a code and gave none.
    Missing,
    /// The user must enrol first.
    EnrolmentNeeded,
    /// The code given is wrong or was used already: a failed login.
    Wrong,
}

/// Checks the second factor of a login of `user_id` (whose password matched) with
/// `code` (a six-digit code or a recovery code), at Unix time `unix_seconds`.
pub async fn check(
    tx: &mut Tx,
    settings: &SecondFactorSettings,
    user_id: &UserId,
    role: Role,
    code: Option<&str>,
    unix_seconds: i64,
    request_id: &RequestId,
) -> Result<Verdict, IdentityError> {
    let row = Store::second_factor(tx, user_id).await?;
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    let Some(row) = row else {
        return Ok(if settings.required && role.is_staff() {
            Verdict::EnrolmentNeeded
        } else {
            // A code given to an account without a second factor is not checked.
            Verdict::Passed(None)
        });
    };
    let sealed = row.sealed_secret;
    let confirmed = row.confirmed_at.is_some();
    let last_step = row.last_step;
    // Anyone with a confirmed factor gives a code; staff must have one when required.
    let asked = confirmed || (settings.required && role.is_staff());
    let Some(code) = code else {
        return Ok(match (asked, confirmed) {
            (false, _) => Verdict::Passed(None),
            (true, true) => Verdict::Missing,
            (true, false) => Verdict::EnrolmentNeeded,
        });
    };
    let Some(secret) = settings.open(user_id, &sealed) else {
        // Sealed under another key (the key file was replaced): only an administrator's
        // reset helps; logged, answered as a wrong code.
        tracing::error!(
            %user_id,
            "a second factor's secret does not open with this server's key"
        );
        return Ok(Verdict::Wrong);
    };
    let digits = code
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>();
    if is_six_digits(&digits) {
        let given: u32 = digits.parse().unwrap_or(u32::MAX);
        let now_step = step_of(unix_seconds);
        let matched = [now_step.saturating_sub(1), now_step, now_step + 1]
            .into_iter()
            .filter(|step| i64::try_from(*step).is_ok_and(|s| s > last_step))
            // One integer comparison each: no timing that depends on the digits.
            .find(|step| code_at(&secret, *step) == given);
        let Some(step) = matched else {
            return Ok(Verdict::Wrong);
        };
        Store::accept_step(tx, user_id, i64::try_from(step).unwrap_or(i64::MAX), &now()).await?;
        if confirmed {
            return Ok(Verdict::Passed(None));
        }
        let codes = new_recovery_codes(tx, user_id).await?;
        audit::append(
            tx,
            Event {
                actor: user_id,
                action: "second_factor.enrolled",
                subject: user_id,
                detail: serde_json::json!({ "recovery_codes": codes.len() }),
                request_id,
            },
        )
        .await?;
        return Ok(Verdict::Passed(Some(codes)));
    }
    if !confirmed {
        // Recovery codes exist only once an enrolment is confirmed.
        return Ok(Verdict::Wrong);
    }
    let used = Store::use_recovery_code(tx, user_id, &recovery_hash(code), &now()).await?;
    if !used {
        return Ok(Verdict::Wrong);
    }
    let left = Store::recovery_codes_left(tx, user_id).await?;
    audit::append(
        tx,
        Event {
            actor: user_id,
            action: "second_factor.recovery_code_used",
            subject: user_id,
            detail: serde_json::json!({ "recovery_codes_left": left }),
            request_id,
        },
    )
    .await?;
    Ok(Verdict::Passed(None))
}

/// Whether `code` has the form of a TOTP code (six ASCII digits), not of a recovery code.
pub fn is_six_digits(code: &str) -> bool {
    code.len() == DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit())
}

/// A recovery code's stored hash: case, spaces and hyphens do not matter.
fn recovery_hash(code: &str) -> String {
    let normalised: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    sha256_hex(normalised.as_bytes())
}

/// Replaces `user_id`'s recovery codes by [`RECOVERY_CODES`] new ones (60 random bits
/// each, written `xxxx-xxxx-xxxx`), returned once.
pub async fn new_recovery_codes(tx: &mut Tx, user_id: &UserId) -> Result<Vec<String>, StoreError> {
    Store::delete_recovery_codes(tx, user_id).await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let text = base32(&random_bytes::<8>())[..12].to_ascii_lowercase();
        let code = format!("{}-{}-{}", &text[..4], &text[4..8], &text[8..]);
        Store::insert_recovery_code(tx, user_id, &recovery_hash(&code), &now()).await?;
        codes.push(code);
    }
    Ok(codes)
}

/// Removes `user_id`'s second factor and recovery codes (an administrator's reset);
/// whether there was one.
pub async fn remove(tx: &mut Tx, user_id: &UserId) -> Result<bool, StoreError> {
    Store::delete_recovery_codes(tx, user_id).await?;
    Store::delete_second_factor(tx, user_id).await
}

/// Whether `user_id` has a second factor, confirmed or waiting for its first code.
pub async fn exists(tx: &mut Tx, user_id: &UserId) -> Result<bool, StoreError> {
    Ok(Store::second_factor(tx, user_id).await?.is_some())
}

/// When `user_id`'s second factor was confirmed, if they have one.
pub async fn since(store: &Store, user_id: &UserId) -> Result<Option<String>, StoreError> {
    store.second_factor_since(user_id).await
}

/// Whether `user_id` has a confirmed second factor.
pub async fn confirmed(tx: &mut Tx, user_id: &UserId) -> Result<bool, StoreError> {
    Store::second_factor_confirmed(tx, user_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (eight digits there; the six low digits here).
    #[test]
    fn codes_follow_rfc_6238() {
        let secret = b"12345678901234567890";
        for (time, eight) in [
            (59, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(code_at(secret, step_of(time)), eight % 1_000_000, "{time}");
        }
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        for len in 0..24 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(from_base32(&base32(&bytes)).as_deref(), Some(&bytes[..]));
        }
        assert_eq!(from_base32("mzxw 6ytb oi"), Some(b"foobar".to_vec()));
        assert_eq!(from_base32("MZ1"), None);
    }

    #[test]
    fn a_secret_opens_only_for_its_user_and_key() {
        let settings = SecondFactorSettings::new([7; 32]);
        let sealed = settings.seal(&"u1".into(), b"secret bytes");
        assert_eq!(
            settings.open(&"u1".into(), &sealed).as_deref(),
            Some(&b"secret bytes"[..])
        );
        assert_eq!(settings.open(&"u2".into(), &sealed), None);
        assert_eq!(
            SecondFactorSettings::new([8; 32]).open(&"u1".into(), &sealed),
            None
        );
        assert_eq!(settings.open(&"u1".into(), &sealed[..10]), None);
    }
}
