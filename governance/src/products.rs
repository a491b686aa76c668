//! Credit products (BRIEF P8, P9): an institution registers a product (附件3 信用产品登记表)
//! linked to a job's result and the data items of its released sample; administrators
//! assign reviewers, who assess market demand, innovation and the institution's
//! management record and recommend or not; the recorded decision puts a product on the
//! public list.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::form::{FieldError, MAX_TEXT_CHARS};
use storage::audit::{self, Event};
use storage::store::{Store, StoreError, new_id, now};

/// What the product is and does (产品描述): which data, which model, what product, for
/// which scenarios.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// 使用哪些数据.
    pub data_used: String,
    /// 采用哪种模型.
    pub model: String,
    /// 生成什么产品.
    pub product: String,
    /// 可用于何种场景.
    pub scenarios: String,
}

/// The registration form (附件3) as the institution fills it in; its name, code and
/// the registration time come from the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// 产品名称.
    pub product_name: String,
    /// 联系人.
    pub contact_name: String,
    /// 联系电话.
    pub contact_phone: String,
    /// 对应表名: the job whose result the product comes from.
    pub job_id: String,
    /// 是否按计划研发.
    pub developed_as_planned: bool,
    /// 计划调整: required when not developed as planned.
    #[serde(default)]
    pub plan_adjustment: Option<String>,
    /// 产品描述.
    pub description: Description,
}

/// A product as stored and shown.
#[derive(Clone, Debug, Serialize)]
pub struct Product {
    /// Id.
    pub id: String,
    /// The institution.
    pub institution_id: String,
    /// 服务对象名称.
    pub institution_name: String,
    /// 统一社会信用代码.
    pub uscc: String,
    /// `registered`, `under_review`, `recommended` or `not_recommended`.
    pub status: String,
    /// The form.
    pub form: Registration,
    /// The sample release the product is linked to.
    pub release_id: String,
    /// 实验结果样本数据项: the columns of the released sample.
    pub data_items: serde_json::Value,
    /// 登记时间.
    pub registered_at: String,
}

/// One reviewer's assessment (P9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// 市场需求, 0–100.
    pub market_demand: u8,
    /// 创新点, 0–100.
    pub innovation: u8,
    /// 服务对象日常管理情况, 0–100.
    pub management: u8,
    /// Whether the reviewer recommends it (择优推荐).
    pub recommend: bool,
    /// 评审意见.
    pub opinion: String,
}

/// Why a product operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// No such product.
    #[error("no such product")]
    NotFound,
    /// Fields at fault.
    #[error("the registration is not complete")]
    Invalid(Vec<FieldError>),
    /// Not at the right stage.
    #[error("{0}")]
    Stage(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ProductError {
    fn from(e: sqlx::Error) -> Self {
        ProductError::Store(StoreError::Query(e))
    }
}

fn field(name: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: name.into(),
        message: message.into(),
    }
}

/// Checks every field of a registration; names each one at fault.
pub fn check(form: &Registration) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut text = |name: &str, value: &str, what: &str, max: usize| {
        let n = value.trim().chars().count();
        if n == 0 {
            errors.push(field(name, format!("{what} is required")));
        } else if n > max {
            errors.push(field(
                name,
                format!("{what} is longer than {max} characters"),
            ));
        }
    };
    text(
        "product_name",
        &form.product_name,
        "the product name (产品名称)",
        100,
    );
    text(
        "contact_name",
        &form.contact_name,
        "the contact (联系人)",
        50,
    );
    text(
        "description.data_used",
        &form.description.data_used,
        "which data the product uses",
        MAX_TEXT_CHARS,
    );
    text(
        "description.model",
        &form.description.model,
        "which model it uses",
        MAX_TEXT_CHARS,
    );
    text(
        "description.product",
        &form.description.product,
        "what product it makes",
        MAX_TEXT_CHARS,
    );
    text(
        "description.scenarios",
        &form.description.scenarios,
        "the scenarios it serves",
        MAX_TEXT_CHARS,
    );
    if !form.developed_as_planned {
        text(
            "plan_adjustment",
            form.plan_adjustment.as_deref().unwrap_or(""),
            "how the plan changed (计划调整), since it was not developed as planned",
            MAX_TEXT_CHARS,
        );
    }
    if !policies::is_phone(&form.contact_phone) {
        errors.push(field(
            "contact_phone",
            "a mainland mobile (11 digits) or a landline with area code, e.g. 0571-87654321",
        ));
    }
    errors
}

/// Registers a product of `institution_id` linked to the newest sample released from
/// the job's result; audited.
pub async fn register(
    store: &Store,
    institution_id: &str,
    form: &Registration,
    actor: &str,
    request_id: &str,
) -> Result<Product, ProductError> {
    let mut errors = check(form);
    let release = sqlx::query(
        "SELECT r.id, r.request FROM releases r JOIN jobs j ON j.id = r.job_id \
         WHERE r.job_id = ? AND r.institution_id = ? AND r.kind = 'sample' \
         ORDER BY r.released_at DESC LIMIT 1",
    )
    .bind(&form.job_id)
    .bind(institution_id)
    .fetch_optional(store.pool())
    .await?;
    if release.is_none() {
        errors.push(field(
            "job_id",
            format!(
                "no sample has been released from job '{}' of your institution; release one (POST …/jobs/{{job}}/sample) and register the product with that job",
                form.job_id
            ),
        ));
    }
    let (Some(release), true) = (release, errors.is_empty()) else {
        return Err(ProductError::Invalid(errors));
    };
    let release_id: String = release.get(0);
    let request: serde_json::Value =
        serde_json::from_str(&release.get::<String, _>(1)).unwrap_or_default();
    let data_items = request["columns"].clone();
    let id = new_id();
    let at = now();
    let mut tx = store.write().await?;
    sqlx::query(
        "INSERT INTO products (id, institution_id, status, form, job_id, release_id, data_items, \
         registered_by, registered_at) VALUES (?, ?, 'registered', ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(institution_id)
    .bind(serde_json::to_string(form).unwrap_or_default())
    .bind(&form.job_id)
    .bind(&release_id)
    .bind(data_items.to_string())
    .bind(actor)
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "product.registered",
            subject: &id,
            detail: serde_json::json!({
                "institution_id": institution_id,
                "product_name": form.product_name,
                "job_id": form.job_id,
                "release_id": release_id,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    get(store, &id).await
}

fn from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Product, ProductError> {
    let decode = |e: serde_json::Error| {
        ProductError::Store(StoreError::Query(sqlx::Error::Decode(Box::new(e))))
    };
    Ok(Product {
        id: r.get("id"),
        institution_id: r.get("institution_id"),
        institution_name: r.get("name"),
        uscc: r.get("uscc"),
        status: r.get("status"),
        form: serde_json::from_str(&r.get::<String, _>("form")).map_err(decode)?,
        release_id: r.get("release_id"),
        data_items: serde_json::from_str(&r.get::<String, _>("data_items")).map_err(decode)?,
        registered_at: r.get("registered_at"),
    })
}

/// One product.
pub async fn get(store: &Store, id: &str) -> Result<Product, ProductError> {
    let row = sqlx::query(
        "SELECT p.*, i.name, i.uscc FROM products p JOIN institutions i ON i.id = p.institution_id \
         WHERE p.id = ?",
    )
    .bind(id)
    .fetch_optional(store.pool())
    .await?
    .ok_or(ProductError::NotFound)?;
    from_row(&row)
}

/// An institution's products, newest first.
pub async fn of_institution(
    store: &Store,
    institution_id: &str,
) -> Result<Vec<Product>, ProductError> {
    sqlx::query(
        "SELECT p.*, i.name, i.uscc FROM products p JOIN institutions i ON i.id = p.institution_id \
         WHERE p.institution_id = ? ORDER BY p.registered_at DESC",
    )
    .bind(institution_id)
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// The reviewers assigned to a product.
pub async fn reviewers(store: &Store, id: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT reviewer_id FROM product_reviewers WHERE product_id = ? ORDER BY reviewer_id",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await?)
}

async fn status(tx: &mut storage::store::Tx, id: &str) -> Result<String, ProductError> {
    sqlx::query_scalar("SELECT status FROM products WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(ProductError::NotFound)
}

/// Assigns reviewers (the caller checked conflicts of interest); at least `min`.
pub async fn assign(
    store: &Store,
    id: &str,
    reviewer_ids: &[String],
    min: usize,
    actor: &str,
    request_id: &str,
) -> Result<Vec<String>, ProductError> {
    let mut tx = store.write().await?;
    let current = status(&mut tx, id).await?;
    if current != "registered" && current != "under_review" {
        return Err(ProductError::Stage(format!(
            "reviewers are assigned to registered products; this one is {current}"
        )));
    }
    for (i, reviewer) in reviewer_ids.iter().enumerate() {
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = ?")
            .bind(reviewer)
            .fetch_optional(&mut *tx)
            .await?;
        if role.as_deref() != Some("reviewer") {
            return Err(ProductError::Invalid(vec![field(
                format!("reviewer_ids[{i}]"),
                format!("'{reviewer}' is not a reviewer"),
            )]));
        }
        sqlx::query("INSERT OR IGNORE INTO product_reviewers (product_id, reviewer_id, assigned_by, assigned_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(reviewer)
            .bind(actor)
            .bind(now())
            .execute(&mut *tx)
            .await?;
    }
    let assigned: Vec<String> = sqlx::query_scalar(
        "SELECT reviewer_id FROM product_reviewers WHERE product_id = ? ORDER BY reviewer_id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    if assigned.len() < min {
        return Err(ProductError::Invalid(vec![field(
            "reviewer_ids",
            format!(
                "a product needs at least {min} reviewers; {} would be assigned",
                assigned.len()
            ),
        )]));
    }
    sqlx::query("UPDATE products SET status = 'under_review' WHERE id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "product.reviewers_assigned",
            subject: id,
            detail: serde_json::json!({ "reviewers": assigned }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(assigned)
}

/// Records one assigned reviewer's assessment, once.
pub async fn review(
    store: &Store,
    id: &str,
    reviewer: &str,
    a: &Assessment,
    request_id: &str,
) -> Result<(), ProductError> {
    let mut errors = Vec::new();
    for (name, v) in [
        ("market_demand", a.market_demand),
        ("innovation", a.innovation),
        ("management", a.management),
    ] {
        if v > 100 {
            errors.push(field(name, "a score from 0 to 100"));
        }
    }
    let n = a.opinion.trim().chars().count();
    if !(10..=MAX_TEXT_CHARS).contains(&n) {
        errors.push(field(
            "opinion",
            format!("write an opinion of 10 to {MAX_TEXT_CHARS} characters (评审意见)"),
        ));
    }
    if !errors.is_empty() {
        return Err(ProductError::Invalid(errors));
    }
    let mut tx = store.write().await?;
    let current = status(&mut tx, id).await?;
    if current != "under_review" {
        return Err(ProductError::Stage(format!(
            "only a product under review is reviewed; this one is {current}"
        )));
    }
    let done: Option<String> = sqlx::query_scalar(
        "SELECT submitted_at FROM product_reviews WHERE product_id = ? AND reviewer_id = ?",
    )
    .bind(id)
    .bind(reviewer)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(at) = done {
        return Err(ProductError::Stage(format!(
            "you reviewed this product on {at}; a review is final"
        )));
    }
    sqlx::query(
        "INSERT INTO product_reviews (product_id, reviewer_id, market_demand, innovation, management, recommend, opinion, submitted_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(reviewer)
    .bind(i64::from(a.market_demand))
    .bind(i64::from(a.innovation))
    .bind(i64::from(a.management))
    .bind(i64::from(a.recommend))
    .bind(a.opinion.trim())
    .bind(now())
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        Event {
            actor: reviewer,
            action: "product.reviewed",
            subject: id,
            detail: serde_json::json!({
                "market_demand": a.market_demand,
                "innovation": a.innovation,
                "management": a.management,
                "recommend": a.recommend,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The reviews of a product (`only` restricts them to one reviewer's).
pub async fn reviews(
    store: &Store,
    id: &str,
    only: Option<&str>,
) -> Result<Vec<serde_json::Value>, StoreError> {
    let rows = sqlx::query(
        "SELECT reviewer_id, market_demand, innovation, management, recommend, opinion, submitted_at \
         FROM product_reviews WHERE product_id = ?1 AND (?2 IS NULL OR reviewer_id = ?2) ORDER BY submitted_at",
    )
    .bind(id)
    .bind(only)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "reviewer_id": r.get::<String, _>(0),
                "market_demand": r.get::<i64, _>(1),
                "innovation": r.get::<i64, _>(2),
                "management": r.get::<i64, _>(3),
                "recommend": r.get::<i64, _>(4) == 1,
                "opinion": r.get::<String, _>(5),
                "submitted_at": r.get::<String, _>(6),
            })
        })
        .collect())
}

/// Records the recommendation once every assigned reviewer has reviewed.
pub async fn decide(
    store: &Store,
    id: &str,
    recommended: bool,
    reason: &str,
    actor: &str,
    request_id: &str,
) -> Result<Product, ProductError> {
    if reason.trim().chars().count() < 5 {
        return Err(ProductError::Invalid(vec![field(
            "reason",
            "give the reason (at least 5 characters)",
        )]));
    }
    let mut tx = store.write().await?;
    let current = status(&mut tx, id).await?;
    if current != "under_review" {
        return Err(ProductError::Stage(format!(
            "only a product under review can be decided; this one is {current}"
        )));
    }
    let missing: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM product_reviewers a LEFT JOIN product_reviews r \
         ON r.product_id = a.product_id AND r.reviewer_id = a.reviewer_id WHERE a.product_id = ? AND r.reviewer_id IS NULL",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if missing > 0 {
        return Err(ProductError::Stage(format!(
            "{missing} assigned reviewer(s) have not reviewed yet"
        )));
    }
    let at = now();
    sqlx::query("INSERT INTO product_decisions (product_id, recommended, reason, decided_by, decided_at) VALUES (?, ?, ?, ?, ?)")
        .bind(id)
        .bind(i64::from(recommended))
        .bind(reason.trim())
        .bind(actor)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE products SET status = ? WHERE id = ?")
        .bind(if recommended {
            "recommended"
        } else {
            "not_recommended"
        })
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: if recommended {
                "product.recommended"
            } else {
                "product.not_recommended"
            },
            subject: id,
            detail: serde_json::json!({ "reason": reason.trim() }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    get(store, id).await
}

/// The public list: recommended products of institutions in good standing, newest
/// recommendation first.
pub async fn public_list(store: &Store) -> Result<Vec<serde_json::Value>, ProductError> {
    let rows = sqlx::query(
        "SELECT p.*, i.name, i.uscc, d.decided_at, d.reason FROM products p \
         JOIN institutions i ON i.id = p.institution_id \
         JOIN product_decisions d ON d.product_id = p.id \
         WHERE p.status = 'recommended' AND i.status = 'active' ORDER BY d.decided_at DESC",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let p = from_row(r)?;
            Ok(serde_json::json!({
                "id": p.id,
                "product_name": p.form.product_name,
                "institution_name": p.institution_name,
                "uscc": p.uscc,
                "description": p.form.description,
                "data_items": p.data_items,
                "recommended_at": r.get::<String, _>("decided_at"),
            }))
        })
        .collect()
}
