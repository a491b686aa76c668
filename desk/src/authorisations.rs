//! Persons' authorisations (BRIEF Q4, standard 6.2.2): only a person, or someone they
//! authorised, sees that person's record. An authorisation names another user by login
//! name, a scope, a purpose and a life of at most [`MAX_AUTHORISATION_DAYS`]; the person
//! revokes it at any time and it stops at once. Every look at another person's record
//! under an authorisation is audited with it ([`audit_read`]).

use serde::Serialize;
use storage::audit::{self, Event};
use storage::ids::{RequestId, UserId};
use storage::said::Said;
use storage::store::{Store, StoreError, new_id, now};

use crate::db::authorisations::{Authorisations as _, Listed, NewRow};

/// Longest an authorisation lasts.
pub const MAX_AUTHORISATION_DAYS: i64 = 90;

/// What an authorisation lets its holder see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = AuthorisationScope)]
pub enum Scope {
    /// The disclosed records.
    Records,
    /// The records and the credit report.
    Report,
}

impl Scope {
    /// `records` or `report`.
    pub fn parse(scope: &str) -> Option<Scope> {
        match scope {
            "records" => Some(Scope::Records),
            "report" => Some(Scope::Report),
            _ => None,
        }
    }

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Records => "records",
            Scope::Report => "report",
        }
    }

    /// Whether it lets its holder have the credit report issued.
    pub fn covers_report(self) -> bool {
        self == Scope::Report
    }
}

/// Why an authorisation was not granted or revoked.
#[derive(Debug, thiserror::Error)]
pub enum AuthorisationError {
    /// A field is not acceptable.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: Said,
    },
    /// The grantor has no live authorisation with this id.
    #[error("no live authorisation of yours has this id")]
    NotFound,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(
    field: &'static str,
    en: impl Into<String>,
    zh: impl Into<String>,
) -> AuthorisationError {
    AuthorisationError::Invalid {
        field,
        message: Said::new(en, zh),
    }
}

impl AuthorisationError {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            AuthorisationError::Invalid { message, .. } => message.zh.clone(),
            AuthorisationError::NotFound => "您没有这项有效的授权。".into(),
            AuthorisationError::Store(_) => "服务暂时不可用，请稍后再试。".into(),
        }
    }
}

/// An authorisation as a person asks for it.
#[derive(Clone, Copy, Debug)]
pub struct NewAuthorisation<'a> {
    /// The person granting it (their user id).
    pub grantor_id: &'a UserId,
    /// The login name of the user it is granted to.
    pub grantee: &'a str,
    /// `records` or `report`.
    pub scope: &'a str,
    /// What it is for.
    pub purpose: &'a str,
    /// How many days it lasts.
    pub days: i64,
}

/// An authorisation just granted.
#[derive(Clone, Debug, Serialize)]
pub struct Granted {
    /// Its id.
    pub id: String,
    /// The grantee's user id.
    pub grantee_id: UserId,
    /// Its scope.
    pub scope: Scope,
    /// Its purpose, trimmed.
    pub purpose: String,
    /// When it ends (RFC 3339).
    pub expires_at: String,
}

/// Grants an authorisation, checked and audited.
pub async fn grant(
    store: &Store,
    new: NewAuthorisation<'_>,
    request_id: &RequestId,
) -> Result<Granted, AuthorisationError> {
    let scope = Scope::parse(new.scope).ok_or_else(|| {
        invalid(
            "scope",
            "scope is records (the disclosed records) or report (records and the credit report)",
            "请选择授权范围：查看信用记录，或查看信用记录并出具信用报告。",
        )
    })?;
    if !(1..=MAX_AUTHORISATION_DAYS).contains(&new.days) {
        return Err(invalid(
            "days",
            format!("an authorisation lasts 1 to {MAX_AUTHORISATION_DAYS} days"),
            format!("授权有效期为 1 到 {MAX_AUTHORISATION_DAYS} 天。"),
        ));
    }
    let purpose = new.purpose.trim();
    if purpose.chars().count() < 2 || purpose.chars().count() > 200 {
        return Err(invalid(
            "purpose",
            "say what it is for, in 2 to 200 characters",
            "请写明授权用途，2 到 200 个字。",
        ));
    }
    let mut tx = store.write().await?;
    let grantee = governance::identity::user_named_in(&mut tx, new.grantee.trim()).await?;
    let grantee = grantee.filter(|g| g != new.grantor_id).ok_or_else(|| {
        invalid(
            "grantee",
            "no other user has this login name",
            "没有使用这个登录名的其他用户：请核对被授权人的登录名。",
        )
    })?;
    let id = new_id();
    let expires = (chrono::Utc::now() + chrono::Duration::days(new.days))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    store
        .insert_authorisation(
            &mut tx,
            &NewRow {
                id: &id,
                grantor_id: new.grantor_id,
                grantee_id: &grantee,
                scope: scope.as_str(),
                purpose,
                created_at: &now(),
                expires_at: &expires,
            },
        )
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor: new.grantor_id,
            action: "authorisation.granted",
            subject: &id,
            detail: serde_json::json!({
                "grantee": grantee,
                "scope": scope.as_str(),
                "purpose": purpose,
                "expires_at": expires,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Granted {
        id,
        grantee_id: grantee,
        scope,
        purpose: purpose.to_owned(),
        expires_at: expires,
    })
}

/// An authorisation as its grantor and grantee see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Authorisation {
    /// Its id.
    pub id: String,
    /// The grantor's login name.
    pub grantor: String,
    /// The grantor's subject id in the persons register.
    pub grantor_subject_id: Option<String>,
    /// The grantee's login name.
    pub grantee: String,
    /// `records` or `report`.
    pub scope: String,
    /// What it is for.
    pub purpose: String,
    /// When it was granted.
    pub created_at: String,
    /// When it ends.
    pub expires_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// Neither revoked nor expired.
    pub live: bool,
}

/// The authorisations `user_id` granted, and those granted to them, newest first.
pub async fn of_user(
    store: &Store,
    user_id: &UserId,
) -> Result<(Vec<Authorisation>, Vec<Authorisation>), StoreError> {
    let now = now();
    let (granted, received): (Vec<_>, Vec<_>) = store
        .authorisations_of(user_id)
        .await?
        .into_iter()
        .partition(|a| a.grantor_id == *user_id);
    let listed = |rows: Vec<Listed>| -> Vec<Authorisation> {
        rows.into_iter()
            .map(|a| Authorisation {
                id: a.id,
                grantor: a.grantor,
                grantor_subject_id: a.grantor_subject_id,
                grantee: a.grantee,
                scope: a.scope,
                purpose: a.purpose,
                created_at: a.created_at,
                live: a.revoked_at.is_none() && a.expires_at > now,
                expires_at: a.expires_at,
                revoked_at: a.revoked_at,
            })
            .collect()
    };
    Ok((listed(granted), listed(received)))
}

/// The grantor revokes a live authorisation of theirs; it stops at once.
pub async fn revoke(
    store: &Store,
    grantor_id: &UserId,
    id: &str,
    request_id: &RequestId,
) -> Result<(), AuthorisationError> {
    let mut tx = store.write().await?;
    if !store
        .revoke_authorisation(&mut tx, id, grantor_id, &now())
        .await?
    {
        return Err(AuthorisationError::NotFound);
    }
    audit::append(
        &mut tx,
        Event {
            actor: grantor_id,
            action: "authorisation.revoked",
            subject: id,
            detail: serde_json::json!({}),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A live authorisation on a person's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Live {
    /// Its id.
    pub id: String,
    /// The grantee's user id.
    pub grantee_id: String,
    /// Its scope.
    pub scope: Scope,
}

/// The live (unrevoked, unexpired) authorisations on the record of person `subject`.
pub async fn live_on(store: &Store, subject: &str) -> Result<Vec<Live>, StoreError> {
    Ok(store
        .live_authorisations(subject, &now())
        .await?
        .into_iter()
        .filter_map(|(id, grantee_id, scope)| {
            Some(Live {
                id,
                grantee_id,
                scope: Scope::parse(&scope)?,
            })
        })
        .collect())
}

/// Audits a look at person `subject`'s record under `authorisation` (`what`: the
/// records or the report).
pub async fn audit_read(
    store: &Store,
    actor: &UserId,
    subject: &str,
    authorisation: &str,
    what: &str,
    request_id: &RequestId,
) -> Result<(), StoreError> {
    let mut tx = store.write().await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "person_record.read",
            subject,
            detail: serde_json::json!({ "authorisation": authorisation, "what": what }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::testing::{audit_actions, count, insert_user};

    /// BRIEF Q4: an authorisation is checked before anything is written, lives only
    /// until it is revoked, and each step is audited.
    #[tokio::test]
    async fn authorisations_are_checked_scoped_and_revocable() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("creditpool.db"))
            .await
            .expect("database");
        for (id, username, subject) in [
            ("u-person", "wang.fang", Some("P0001")),
            ("u-bank", "bank.officer", None),
        ] {
            let role = if subject.is_some() {
                "person"
            } else {
                "reviewer"
            };
            insert_user(&store, id, username, role, subject).await;
        }
        let asked = NewAuthorisation {
            grantor_id: &"u-person".into(),
            grantee: " bank.officer ",
            scope: "records",
            purpose: "贷款审批",
            days: 30,
        };
        let refused = [
            (
                NewAuthorisation {
                    scope: "everything",
                    ..asked
                },
                "scope",
            ),
            (NewAuthorisation { days: 0, ..asked }, "days"),
            (
                NewAuthorisation {
                    days: MAX_AUTHORISATION_DAYS + 1,
                    ..asked
                },
                "days",
            ),
            (
                NewAuthorisation {
                    purpose: " x ",
                    ..asked
                },
                "purpose",
            ),
            (
                NewAuthorisation {
                    grantee: "nobody",
                    ..asked
                },
                "grantee",
            ),
            (
                NewAuthorisation {
                    grantee: "wang.fang",
                    ..asked
                },
                "grantee",
            ),
        ];
        for (new, field) in refused {
            match grant(&store, new, &"r".into()).await {
                Err(AuthorisationError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{new:?}: {other:?}"),
            }
        }
        assert_eq!(count(&store, "authorisations").await, 0, "nothing written");
        assert_eq!(count(&store, "audit_log").await, 0, "nothing audited");

        let granted = grant(&store, asked, &"r".into()).await.expect("granted");
        assert_eq!(granted.grantee_id, "u-bank");
        assert_eq!(granted.scope, Scope::Records);
        let live = live_on(&store, "P0001").await.expect("live");
        assert_eq!(
            live,
            [Live {
                id: granted.id.clone(),
                grantee_id: "u-bank".into(),
                scope: Scope::Records,
            }]
        );
        assert!(!live[0].scope.covers_report(), "records only");
        let (mine, received) = of_user(&store, &"u-person".into()).await.expect("listed");
        assert_eq!((mine.len(), received.len()), (1, 0));
        assert!(mine[0].live);
        let (_, theirs) = of_user(&store, &"u-bank".into()).await.expect("listed");
        assert_eq!(theirs[0].grantor_subject_id.as_deref(), Some("P0001"));

        // Only the grantor revokes, once.
        assert!(matches!(
            revoke(&store, &"u-bank".into(), &granted.id, &"r".into()).await,
            Err(AuthorisationError::NotFound)
        ));
        revoke(&store, &"u-person".into(), &granted.id, &"r".into())
            .await
            .expect("revoked");
        assert!(matches!(
            revoke(&store, &"u-person".into(), &granted.id, &"r".into()).await,
            Err(AuthorisationError::NotFound)
        ));
        assert!(live_on(&store, "P0001").await.expect("live").is_empty());
        let (mine, _) = of_user(&store, &"u-person".into()).await.expect("listed");
        assert!(!mine[0].live && mine[0].revoked_at.is_some());
        audit_read(
            &store,
            &"u-bank".into(),
            "P0001",
            &granted.id,
            "records",
            &"r".into(),
        )
        .await
        .expect("audited");
        let actions = audit_actions(&store).await;
        assert_eq!(
            actions,
            [
                "authorisation.granted",
                "authorisation.revoked",
                "person_record.read"
            ]
        );
        assert!(matches!(
            storage::audit::verify(&store).await.expect("verify"),
            storage::audit::Verdict::Intact { entries: 3, .. }
        ));
    }
}
