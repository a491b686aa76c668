//! Expert review (BRIEF P3): an administrator assigns reviewers (at least
//! [`MIN_REVIEWERS`] by default), each scores compliance, innovation and prospects and
//! writes an opinion, and the administrator records the decision with a reason. The
//! decision is final only through that record.

use storage::audit::{self, Event};
use storage::ids::{ApplicationId, RequestId, UserId};
use storage::states::ApplicationStatus;
use storage::store::{Store, StoreError, Tx, now};

use crate::db::applications::Applications as _;
use crate::db::identity::Users as _;
use crate::db::review::{NewReview, Reviews as _};

/// Reviewers an application needs before a decision, unless configured otherwise.
pub const MIN_REVIEWERS: usize = 3;

/// One reviewer's assessment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scores {
    /// 合规性, 0–100.
    pub compliance: u8,
    /// 创新点, 0–100.
    pub innovation: u8,
    /// 应用前景, 0–100.
    pub prospects: u8,
    /// The written opinion (评审意见).
    pub opinion: String,
}

/// A submitted review.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Review {
    /// The reviewer.
    pub reviewer_id: String,
    /// The reviewer's name.
    pub reviewer_name: String,
    /// Its assessment, as [`Scores`] (not flattened from them: a request's fields
    /// are closed, a review's answer has more).
    pub compliance: u8,
    /// See [`Scores`].
    pub innovation: u8,
    /// See [`Scores`].
    pub prospects: u8,
    /// See [`Scores`].
    pub opinion: String,
    /// When.
    pub submitted_at: String,
}

/// The recorded decision.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Decision {
    /// `approved` or `rejected`.
    pub decision: String,
    /// Why.
    pub reason: String,
    /// Who decided.
    pub decided_by: String,
    /// When.
    pub decided_at: String,
}

/// Why a review step was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// A field is not acceptable.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The application is not at the stage this step needs.
    #[error("{0}")]
    Stage(String),
    /// An affiliation cannot be withdrawn while its holder reviews what it concerns.
    #[error("{0}")]
    AffiliationInUse(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ReviewError {
    ReviewError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The reviewers assigned to an application (user ids).
pub async fn reviewers(
    store: &Store,
    application_id: &ApplicationId,
) -> Result<Vec<String>, StoreError> {
    store.application_reviewers(application_id).await
}

/// An application or a product assigned to a reviewer.
#[derive(Clone, Debug)]
pub struct Assigned {
    /// `application` or `product`.
    pub kind: String,
    /// Its id.
    pub id: String,
    /// The applicant institution's name, or the product's.
    pub name: String,
    /// Its status.
    pub status: String,
    /// When the reviewer was assigned.
    pub assigned_at: String,
    /// Whether the reviewer's review is in.
    pub reviewed: bool,
}

/// The applications and products assigned to reviewer `reviewer_id`, newest first.
pub async fn assignments(store: &Store, reviewer_id: &UserId) -> Result<Vec<Assigned>, StoreError> {
    store.assignments(reviewer_id).await
}

/// The unified social credit codes a reviewer has declared as affiliations.
pub async fn affiliations(store: &Store, user_id: &UserId) -> Result<Vec<String>, StoreError> {
    store.affiliations(user_id).await
}

async fn status(
    store: &Store,
    tx: &mut Tx,
    application_id: &ApplicationId,
) -> Result<ApplicationStatus, ReviewError> {
    store
        .application_status(tx, application_id)
        .await?
        .ok_or_else(|| ReviewError::Stage("no such application".into()))
}

/// Assigns `reviewer_ids` (replacing none: assignments only grow) and moves a submitted
/// application to `under_review`. Each id must be a reviewer; the caller has already
/// checked conflicts of interest with the access rules.
pub async fn assign(
    store: &Store,
    application_id: &ApplicationId,
    reviewer_ids: &[UserId],
    min_reviewers: usize,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Vec<String>, ReviewError> {
    let mut tx = store.write().await?;
    let current = status(store, &mut tx, application_id).await?;
    if current != ApplicationStatus::Submitted && current != ApplicationStatus::UnderReview {
        return Err(ReviewError::Stage(format!(
            "reviewers are assigned to submitted applications; this one is {current}"
        )));
    }
    for (i, id) in reviewer_ids.iter().enumerate() {
        let role = store.user_role(&mut tx, id).await?;
        if role.as_deref() != Some("reviewer") {
            return Err(invalid(
                format!("reviewer_ids[{i}]"),
                format!("'{id}' is not a reviewer"),
            ));
        }
        store
            .assign_application_reviewer(&mut tx, application_id, id, actor, &now())
            .await?;
    }
    let assigned = store
        .application_reviewers_in(&mut tx, application_id)
        .await?;
    if assigned.len() < min_reviewers {
        return Err(invalid(
            "reviewer_ids",
            format!(
                "an application needs at least {min_reviewers} reviewers; {} would be assigned",
                assigned.len()
            ),
        ));
    }
    store
        .start_application_review(&mut tx, application_id, &now())
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "application.reviewers_assigned",
            subject: application_id,
            detail: serde_json::json!({ "reviewers": assigned }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(assigned)
}

/// Records one reviewer's review; each reviewer reviews once.
pub async fn submit_review(
    store: &Store,
    application_id: &ApplicationId,
    reviewer_id: &UserId,
    scores: &Scores,
    request_id: &RequestId,
) -> Result<(), ReviewError> {
    for (field, value) in [
        ("compliance", scores.compliance),
        ("innovation", scores.innovation),
        ("prospects", scores.prospects),
    ] {
        if value > 100 {
            return Err(invalid(
                field,
                format!("{field} is scored from 0 to 100, not {value}"),
            ));
        }
    }
    let opinion = scores.opinion.trim();
    if opinion.chars().count() < 10 || opinion.chars().count() > 5_000 {
        return Err(invalid(
            "opinion",
            "write an opinion of 10 to 5,000 characters (评审意见)",
        ));
    }
    let mut tx = store.write().await?;
    let current = status(store, &mut tx, application_id).await?;
    if current != ApplicationStatus::UnderReview {
        return Err(ReviewError::Stage(format!(
            "the application is {current}, not under review"
        )));
    }
    let done = store
        .insert_review(
            &mut tx,
            &NewReview {
                application_id,
                reviewer_id,
                compliance: i64::from(scores.compliance),
                innovation: i64::from(scores.innovation),
                prospects: i64::from(scores.prospects),
                opinion,
                submitted_at: &now(),
            },
        )
        .await?;
    if !done {
        return Err(ReviewError::Stage(
            "you have already reviewed this application".into(),
        ));
    }
    audit::append(
        &mut tx,
        Event {
            actor: reviewer_id,
            action: "application.reviewed",
            subject: application_id,
            detail: serde_json::json!({
                "compliance": scores.compliance,
                "innovation": scores.innovation,
                "prospects": scores.prospects,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The reviews of an application.
pub async fn reviews(
    store: &Store,
    application_id: &ApplicationId,
) -> Result<Vec<Review>, StoreError> {
    store.reviews(application_id).await
}

/// Records the decision once every assigned reviewer has reviewed.
pub async fn decide(
    store: &Store,
    application_id: &ApplicationId,
    approved: bool,
    reason: &str,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Decision, ReviewError> {
    let reason = reason.trim();
    if reason.chars().count() < 5 {
        return Err(invalid(
            "reason",
            "give the reason for the decision (at least 5 characters)",
        ));
    }
    let mut tx = store.write().await?;
    let current = status(store, &mut tx, application_id).await?;
    if current != ApplicationStatus::UnderReview {
        return Err(ReviewError::Stage(format!(
            "only an application under review can be decided; this one is {current}"
        )));
    }
    let missing = store.missing_reviews(&mut tx, application_id).await?;
    if missing > 0 {
        return Err(ReviewError::Stage(format!(
            "{missing} assigned reviewer(s) have not reviewed yet"
        )));
    }
    let decision = if approved {
        ApplicationStatus::Approved
    } else {
        ApplicationStatus::Rejected
    };
    let at = now();
    store
        .insert_decision(
            &mut tx,
            application_id,
            decision.as_str(),
            reason,
            actor,
            &at,
        )
        .await?;
    store
        .set_application_status(&mut tx, application_id, decision, &at)
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: if approved {
                "application.approved"
            } else {
                "application.rejected"
            },
            subject: application_id,
            detail: serde_json::json!({ "reason": reason }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Decision {
        decision: decision.as_str().into(),
        reason: reason.into(),
        decided_by: actor.into(),
        decided_at: at,
    })
}

/// The recorded decision, if any.
pub async fn decision(
    store: &Store,
    application_id: &ApplicationId,
) -> Result<Option<Decision>, StoreError> {
    store.decision(application_id).await
}

/// Replaces a reviewer's declared affiliations (unified social credit codes, each
/// checked), audited.
pub async fn declare_affiliations(
    store: &Store,
    reviewer_id: &UserId,
    usccs: &[String],
    request_id: &RequestId,
) -> Result<Vec<String>, ReviewError> {
    let mut codes = Vec::new();
    for (i, code) in usccs.iter().enumerate() {
        let uscc = policies::Uscc::parse_strict(code).map_err(|e| {
            invalid(
                format!("usccs[{i}]"),
                format!("not a valid unified social credit code: {e}"),
            )
        })?;
        codes.push(uscc.as_str().to_owned());
    }
    codes.sort();
    codes.dedup();
    let mut tx = store.write().await?;
    let before = store.affiliations_in(&mut tx, reviewer_id).await?;
    let removed: Vec<&String> = before.iter().filter(|c| !codes.contains(c)).collect();
    let added: Vec<&String> = codes.iter().filter(|c| !before.contains(c)).collect();
    // An affiliation is a record (issue 15): it cannot be withdrawn while its holder is
    // assigned to an undecided application or product of that code, or the conflict it
    // declares would stop stopping the review.
    if !removed.is_empty() {
        let applications = store
            .undecided_applications_of(&mut tx, reviewer_id)
            .await?;
        let products = store.undecided_products_of(&mut tx, reviewer_id).await?;
        let concerned = applications
            .iter()
            .map(|(id, code)| (format!("application {id}"), code))
            .chain(
                products
                    .iter()
                    .map(|(id, code)| (format!("product {id}"), code)),
            );
        for (what, code) in concerned {
            let code = policies::Uscc::canonical(code);
            if removed.iter().any(|r| **r == code) {
                return Err(ReviewError::AffiliationInUse(format!(
                    "the affiliation {code} cannot be withdrawn while you are assigned to {what}, which concerns it; ask an administrator to reassign the review first"
                )));
            }
        }
    }
    store.delete_affiliations(&mut tx, reviewer_id).await?;
    for code in &codes {
        store.insert_affiliation(&mut tx, reviewer_id, code).await?;
    }
    audit::append(
        &mut tx,
        Event {
            actor: reviewer_id,
            action: "reviewer.affiliations_declared",
            subject: reviewer_id,
            detail: serde_json::json!({ "usccs": codes, "added": added, "removed": removed }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}
