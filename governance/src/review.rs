//! Expert review (BRIEF P3): an administrator assigns reviewers (at least
//! [`MIN_REVIEWERS`] by default), each scores compliance, innovation and prospects and
//! writes an opinion, and the administrator records the decision with a reason. The
//! decision is final only through that record.

use sqlx::Row;

use storage::audit::{self, Event};
use storage::store::{Store, StoreError, now};

/// Reviewers an application needs before a decision, unless configured otherwise.
pub const MIN_REVIEWERS: usize = 3;

/// One reviewer's assessment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
#[derive(Clone, Debug, serde::Serialize)]
pub struct Review {
    /// The reviewer.
    pub reviewer_id: String,
    /// The reviewer's name.
    pub reviewer_name: String,
    /// The assessment.
    #[serde(flatten)]
    pub scores: Scores,
    /// When.
    pub submitted_at: String,
}

/// The recorded decision.
#[derive(Clone, Debug, serde::Serialize)]
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

impl From<sqlx::Error> for ReviewError {
    fn from(e: sqlx::Error) -> Self {
        ReviewError::Store(StoreError::Query(e))
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ReviewError {
    ReviewError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The reviewers assigned to an application (user ids).
pub async fn reviewers(store: &Store, application_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT reviewer_id FROM application_reviewers WHERE application_id = ? ORDER BY reviewer_id",
    )
    .bind(application_id)
    .fetch_all(store.pool())
    .await?)
}

/// The unified social credit codes a reviewer has declared as affiliations.
pub async fn affiliations(store: &Store, user_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar(
            "SELECT uscc FROM reviewer_affiliations WHERE user_id = ? ORDER BY uscc",
        )
        .bind(user_id)
        .fetch_all(store.pool())
        .await?,
    )
}

async fn status(tx: &mut storage::store::Tx, application_id: &str) -> Result<String, ReviewError> {
    sqlx::query_scalar("SELECT status FROM applications WHERE id = ?")
        .bind(application_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| ReviewError::Stage("no such application".into()))
}

/// Assigns `reviewer_ids` (replacing none: assignments only grow) and moves a submitted
/// application to `under_review`. Each id must be a reviewer; the caller has already
/// checked conflicts of interest with the access rules.
pub async fn assign(
    store: &Store,
    application_id: &str,
    reviewer_ids: &[String],
    min_reviewers: usize,
    actor: &str,
    request_id: &str,
) -> Result<Vec<String>, ReviewError> {
    let mut tx = store.write().await?;
    let current = status(&mut tx, application_id).await?;
    if current != "submitted" && current != "under_review" {
        return Err(ReviewError::Stage(format!(
            "reviewers are assigned to submitted applications; this one is {current}"
        )));
    }
    for (i, id) in reviewer_ids.iter().enumerate() {
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if role.as_deref() != Some("reviewer") {
            return Err(invalid(
                format!("reviewer_ids[{i}]"),
                format!("'{id}' is not a reviewer"),
            ));
        }
        sqlx::query(
            "INSERT OR IGNORE INTO application_reviewers (application_id, reviewer_id, assigned_by, assigned_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(application_id)
        .bind(id)
        .bind(actor)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    }
    let assigned: Vec<String> = sqlx::query_scalar(
        "SELECT reviewer_id FROM application_reviewers WHERE application_id = ? ORDER BY reviewer_id",
    )
    .bind(application_id)
    .fetch_all(&mut *tx)
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
    sqlx::query("UPDATE applications SET status = 'under_review', updated_at = ? WHERE id = ?")
        .bind(now())
        .bind(application_id)
        .execute(&mut *tx)
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
    application_id: &str,
    reviewer_id: &str,
    scores: &Scores,
    request_id: &str,
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
    let current = status(&mut tx, application_id).await?;
    if current != "under_review" {
        return Err(ReviewError::Stage(format!(
            "the application is {current}, not under review"
        )));
    }
    let done = sqlx::query(
        "INSERT OR IGNORE INTO reviews (application_id, reviewer_id, compliance, innovation, prospects, opinion, submitted_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(application_id)
    .bind(reviewer_id)
    .bind(i64::from(scores.compliance))
    .bind(i64::from(scores.innovation))
    .bind(i64::from(scores.prospects))
    .bind(opinion)
    .bind(now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
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
pub async fn reviews(store: &Store, application_id: &str) -> Result<Vec<Review>, StoreError> {
    let rows = sqlx::query(
        "SELECT r.reviewer_id, u.display_name, r.compliance, r.innovation, r.prospects, r.opinion, r.submitted_at \
         FROM reviews r JOIN users u ON u.id = r.reviewer_id WHERE r.application_id = ? ORDER BY r.submitted_at",
    )
    .bind(application_id)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Review {
            reviewer_id: r.get(0),
            reviewer_name: r.get(1),
            scores: Scores {
                compliance: r.get::<i64, _>(2) as u8,
                innovation: r.get::<i64, _>(3) as u8,
                prospects: r.get::<i64, _>(4) as u8,
                opinion: r.get(5),
            },
            submitted_at: r.get(6),
        })
        .collect())
}

/// Records the decision once every assigned reviewer has reviewed.
pub async fn decide(
    store: &Store,
    application_id: &str,
    approved: bool,
    reason: &str,
    actor: &str,
    request_id: &str,
) -> Result<Decision, ReviewError> {
    let reason = reason.trim();
    if reason.chars().count() < 5 {
        return Err(invalid(
            "reason",
            "give the reason for the decision (at least 5 characters)",
        ));
    }
    let mut tx = store.write().await?;
    let current = status(&mut tx, application_id).await?;
    if current != "under_review" {
        return Err(ReviewError::Stage(format!(
            "only an application under review can be decided; this one is {current}"
        )));
    }
    let missing: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM application_reviewers a LEFT JOIN reviews r \
         ON r.application_id = a.application_id AND r.reviewer_id = a.reviewer_id \
         WHERE a.application_id = ? AND r.reviewer_id IS NULL",
    )
    .bind(application_id)
    .fetch_one(&mut *tx)
    .await?;
    if missing > 0 {
        return Err(ReviewError::Stage(format!(
            "{missing} assigned reviewer(s) have not reviewed yet"
        )));
    }
    let decision = if approved { "approved" } else { "rejected" };
    let at = now();
    sqlx::query("INSERT INTO decisions (application_id, decision, reason, decided_by, decided_at) VALUES (?, ?, ?, ?, ?)")
        .bind(application_id)
        .bind(decision)
        .bind(reason)
        .bind(actor)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE applications SET status = ?, updated_at = ? WHERE id = ?")
        .bind(decision)
        .bind(&at)
        .bind(application_id)
        .execute(&mut *tx)
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
        decision: decision.into(),
        reason: reason.into(),
        decided_by: actor.into(),
        decided_at: at,
    })
}

/// The recorded decision, if any.
pub async fn decision(store: &Store, application_id: &str) -> Result<Option<Decision>, StoreError> {
    let row = sqlx::query(
        "SELECT decision, reason, decided_by, decided_at FROM decisions WHERE application_id = ?",
    )
    .bind(application_id)
    .fetch_optional(store.pool())
    .await?;
    Ok(row.map(|r| Decision {
        decision: r.get(0),
        reason: r.get(1),
        decided_by: r.get(2),
        decided_at: r.get(3),
    }))
}

/// Replaces a reviewer's declared affiliations (unified social credit codes, each
/// checked), audited.
pub async fn declare_affiliations(
    store: &Store,
    reviewer_id: &str,
    usccs: &[String],
    request_id: &str,
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
    let before: Vec<String> = sqlx::query_scalar(
        "SELECT uscc FROM reviewer_affiliations WHERE user_id = ? ORDER BY uscc",
    )
    .bind(reviewer_id)
    .fetch_all(&mut *tx)
    .await?;
    let removed: Vec<&String> = before.iter().filter(|c| !codes.contains(c)).collect();
    let added: Vec<&String> = codes.iter().filter(|c| !before.contains(c)).collect();
    // An affiliation is a record (issue 15): it cannot be withdrawn while its holder is
    // assigned to an undecided application or product of that code, or the conflict it
    // declares would stop stopping the review.
    if !removed.is_empty() {
        let applications: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.id, COALESCE(json_extract(a.form, '$.uscc'), '') FROM application_reviewers r \
             JOIN applications a ON a.id = r.application_id \
             LEFT JOIN decisions d ON d.application_id = a.id \
             WHERE r.reviewer_id = ? AND d.application_id IS NULL",
        )
        .bind(reviewer_id)
        .fetch_all(&mut *tx)
        .await?;
        let products: Vec<(String, String)> = sqlx::query_as(
            "SELECT p.id, i.uscc FROM product_reviewers r JOIN products p ON p.id = r.product_id \
             JOIN institutions i ON i.id = p.institution_id \
             LEFT JOIN product_decisions d ON d.product_id = p.id \
             WHERE r.reviewer_id = ? AND d.product_id IS NULL",
        )
        .bind(reviewer_id)
        .fetch_all(&mut *tx)
        .await?;
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
    sqlx::query("DELETE FROM reviewer_affiliations WHERE user_id = ?")
        .bind(reviewer_id)
        .execute(&mut *tx)
        .await?;
    for code in &codes {
        sqlx::query("INSERT INTO reviewer_affiliations (user_id, uscc) VALUES (?, ?)")
            .bind(reviewer_id)
            .bind(code)
            .execute(&mut *tx)
            .await?;
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
