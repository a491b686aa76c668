//! Credit products (BRIEF P8, P9): an institution registers a product (附件3 信用产品登记表)
//! linked to a job's result and the data items of its released sample; administrators
//! assign reviewers, who assess market demand, innovation and the institution's
//! management record and recommend or not; the recorded decision puts a product on the
//! public list.

use serde::{Deserialize, Serialize};
use storage::ids::{InstitutionId, JobId, ProductId, RequestId, UserId};
use storage::states::ProductStatus;

use crate::db::identity::Users as _;
use crate::db::products::{NewReview, NewRow, Products as _};
use crate::form::{FieldError, MAX_TEXT_CHARS};
use storage::audit::{self, Event};
use storage::store::{Store, StoreError, Tx, now};

/// What the product is and does (产品描述): which data, which model, what product, for
/// which scenarios. A missing part reads as empty, so that every part at fault is
/// named at once ([`check`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
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
/// the registration time come from the platform. A missing field reads as empty, so
/// that [`check`] names every field at fault at once (issue 17: the first missing one
/// stopped the reading of the form).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
#[schema(as = ProductRegistration)]
pub struct Registration {
    /// 产品名称.
    pub product_name: String,
    /// 联系人.
    pub contact_name: String,
    /// 联系电话.
    pub contact_phone: String,
    /// 对应表名: the job whose result the product comes from.
    pub job_id: JobId,
    /// 是否按计划研发 (required).
    pub developed_as_planned: Option<bool>,
    /// 计划调整: required when not developed as planned.
    pub plan_adjustment: Option<String>,
    /// 产品描述.
    pub description: Description,
}

/// A product as stored and shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Product {
    /// Id.
    pub id: ProductId,
    /// The institution.
    pub institution_id: InstitutionId,
    /// 服务对象名称.
    pub institution_name: String,
    /// 统一社会信用代码.
    pub uscc: String,
    /// `registered`, `under_review`, `recommended` or `not_recommended`.
    pub status: ProductStatus,
    /// The form.
    pub form: Registration,
    /// The sample release the product is linked to.
    pub release_id: String,
    /// 实验结果样本数据项: the columns of the released sample.
    pub data_items: serde_json::Value,
    /// 登记时间.
    pub registered_at: String,
}

/// A reviewer's assessment as recorded.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProductReview {
    /// The reviewer.
    pub reviewer_id: String,
    /// 市场需求, 0–100.
    pub market_demand: i64,
    /// 创新点, 0–100.
    pub innovation: i64,
    /// 服务对象日常管理情况, 0–100.
    pub management: i64,
    /// Whether the reviewer recommends it.
    pub recommend: bool,
    /// 评审意见.
    pub opinion: String,
    /// When it was submitted (RFC 3339).
    pub submitted_at: String,
}

/// A recommended product as the public list shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublicProduct {
    /// Id.
    pub id: ProductId,
    /// 产品名称.
    pub product_name: String,
    /// 服务对象名称: the institution.
    pub institution_name: String,
    /// 统一社会信用代码 of the institution.
    pub uscc: String,
    /// 产品描述.
    pub description: Description,
    /// 实验结果样本数据项: the columns of the released sample.
    pub data_items: serde_json::Value,
    /// When it was recommended (RFC 3339).
    pub recommended_at: String,
}

/// One reviewer's assessment (P9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

fn field(name: impl Into<String>, message: impl Into<String>, zh: impl Into<String>) -> FieldError {
    FieldError::new(name, message, zh)
}

/// Checks every field of a registration; names each one at fault.
pub fn check(form: &Registration) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut text = |name: &str, value: &str, (what, what_zh): (&str, &str), max: usize| {
        let n = value.trim().chars().count();
        if n == 0 {
            errors.push(field(
                name,
                format!("{what} is required"),
                format!("请填写{what_zh}。"),
            ));
        } else if n > max {
            errors.push(field(
                name,
                format!("{what} is longer than {max} characters"),
                format!("{what_zh}不能超过 {max} 字。"),
            ));
        }
    };
    text(
        "product_name",
        &form.product_name,
        ("the product name (产品名称)", "产品名称"),
        100,
    );
    text(
        "contact_name",
        &form.contact_name,
        ("the contact (联系人)", "联系人"),
        50,
    );
    text(
        "description.data_used",
        &form.description.data_used,
        ("which data the product uses", "产品使用的数据"),
        MAX_TEXT_CHARS,
    );
    text(
        "description.model",
        &form.description.model,
        ("which model it uses", "产品使用的模型"),
        MAX_TEXT_CHARS,
    );
    text(
        "description.product",
        &form.description.product,
        ("what product it makes", "产品说明"),
        MAX_TEXT_CHARS,
    );
    text(
        "description.scenarios",
        &form.description.scenarios,
        ("the scenarios it serves", "应用场景"),
        MAX_TEXT_CHARS,
    );
    if form.developed_as_planned == Some(false) {
        text(
            "plan_adjustment",
            form.plan_adjustment.as_deref().unwrap_or(""),
            (
                "how the plan changed (计划调整), since it was not developed as planned",
                "计划调整说明（未按计划研发时必填）",
            ),
            MAX_TEXT_CHARS,
        );
    }
    if !policies::is_phone(&form.contact_phone) {
        errors.push(field(
            "contact_phone",
            "a mainland mobile (11 digits) or a landline with area code, e.g. 0571-87654321",
            "请填写 11 位手机号或带区号的固定电话，如 0571-87654321。",
        ));
    }
    if form.job_id.is_empty() {
        errors.push(field(
            "job_id",
            "the job whose released sample the product comes from (对应表名) is required",
            "请选择产品所依据的作业（须已发布样本）。",
        ));
    }
    if form.developed_as_planned.is_none() {
        errors.push(field(
            "developed_as_planned",
            "say whether the product was developed as planned (是否按计划研发): true or false",
            "请选择是否按计划研发。",
        ));
    }
    errors
}

/// Registers a product of `institution_id` linked to the newest sample released from
/// the job's result; audited.
pub async fn register(
    store: &Store,
    institution_id: &InstitutionId,
    form: &Registration,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Product, ProductError> {
    let mut errors = check(form);
    let release = if form.job_id.is_empty() {
        None
    } else {
        store.sample_release(&form.job_id, institution_id).await?
    };
    if release.is_none() && !form.job_id.is_empty() {
        errors.push(field(
            "job_id",
            format!(
                "no sample has been released from job '{}' of your institution; release one (POST …/jobs/{{job}}/sample) and register the product with that job",
                form.job_id
            ),
            "该作业还没有发布过样本：请先在作业页抽取样本，再用该作业登记产品。",
        ));
    }
    let (Some((release_id, request)), true) = (release, errors.is_empty()) else {
        return Err(ProductError::Invalid(errors));
    };
    let data_items = request["columns"].clone();
    let id = ProductId::random();
    let at = now();
    let mut tx = store.write().await?;
    store
        .insert_product(
            &mut tx,
            &NewRow {
                id: &id,
                institution_id,
                form,
                job_id: &form.job_id,
                release_id: &release_id,
                data_items: &data_items,
                registered_by: actor,
                registered_at: &at,
            },
        )
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

/// One product.
pub async fn get(store: &Store, id: &ProductId) -> Result<Product, ProductError> {
    store.product(id).await?.ok_or(ProductError::NotFound)
}

/// An institution's products, newest first.
pub async fn of_institution(
    store: &Store,
    institution_id: &InstitutionId,
) -> Result<Vec<Product>, ProductError> {
    Ok(store.products_of(institution_id).await?)
}

/// Every product, newest first (for administrators).
pub async fn all(store: &Store) -> Result<Vec<Product>, ProductError> {
    Ok(store.all_products().await?)
}

/// The reviewers assigned to a product.
pub async fn reviewers(store: &Store, id: &ProductId) -> Result<Vec<String>, StoreError> {
    store.product_reviewers(id).await
}

async fn status(store: &Store, tx: &mut Tx, id: &ProductId) -> Result<ProductStatus, ProductError> {
    store
        .product_status(tx, id)
        .await?
        .ok_or(ProductError::NotFound)
}

/// Assigns reviewers (the caller checked conflicts of interest); at least `min`.
pub async fn assign(
    store: &Store,
    id: &ProductId,
    reviewer_ids: &[UserId],
    min: usize,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Vec<String>, ProductError> {
    let mut tx = store.write().await?;
    let current = status(store, &mut tx, id).await?;
    if current != ProductStatus::Registered && current != ProductStatus::UnderReview {
        return Err(ProductError::Stage(format!(
            "reviewers are assigned to registered products; this one is {current}"
        )));
    }
    for (i, reviewer) in reviewer_ids.iter().enumerate() {
        let role = store.user_role(&mut tx, reviewer).await?;
        if role.as_deref() != Some("reviewer") {
            return Err(ProductError::Invalid(vec![field(
                format!("reviewer_ids[{i}]"),
                format!("'{reviewer}' is not a reviewer"),
                format!("“{reviewer}”不是评审专家。"),
            )]));
        }
        store
            .assign_product_reviewer(&mut tx, id, reviewer, actor, &now())
            .await?;
    }
    let assigned = store.product_reviewers_in(&mut tx, id).await?;
    if assigned.len() < min {
        return Err(ProductError::Invalid(vec![field(
            "reviewer_ids",
            format!(
                "a product needs at least {min} reviewers; {} would be assigned",
                assigned.len()
            ),
            format!(
                "产品评审至少需要 {min} 位专家，现在只有 {} 位：请再勾选几位。",
                assigned.len()
            ),
        )]));
    }
    store.start_product_review(&mut tx, id).await?;
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
    id: &ProductId,
    reviewer: &UserId,
    a: &Assessment,
    request_id: &RequestId,
) -> Result<(), ProductError> {
    let mut errors = Vec::new();
    for (name, v) in [
        ("market_demand", a.market_demand),
        ("innovation", a.innovation),
        ("management", a.management),
    ] {
        if v > 100 {
            errors.push(field(
                name,
                "a score from 0 to 100",
                "评分为 0 至 100 的整数。",
            ));
        }
    }
    let n = a.opinion.trim().chars().count();
    if !(10..=MAX_TEXT_CHARS).contains(&n) {
        errors.push(field(
            "opinion",
            format!("write an opinion of 10 to {MAX_TEXT_CHARS} characters (评审意见)"),
            format!("评审意见须为 10 至 {MAX_TEXT_CHARS} 字。"),
        ));
    }
    if !errors.is_empty() {
        return Err(ProductError::Invalid(errors));
    }
    let mut tx = store.write().await?;
    let current = status(store, &mut tx, id).await?;
    if current != ProductStatus::UnderReview {
        return Err(ProductError::Stage(format!(
            "only a product under review is reviewed; this one is {current}"
        )));
    }
    let done = store.product_reviewed_at(&mut tx, id, reviewer).await?;
    if let Some(at) = done {
        return Err(ProductError::Stage(format!(
            "you reviewed this product on {at}; a review is final"
        )));
    }
    store
        .insert_product_review(
            &mut tx,
            &NewReview {
                product_id: id,
                reviewer_id: reviewer,
                market_demand: i64::from(a.market_demand),
                innovation: i64::from(a.innovation),
                management: i64::from(a.management),
                recommend: a.recommend,
                opinion: a.opinion.trim(),
                submitted_at: &now(),
            },
        )
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
    id: &ProductId,
    only: Option<&str>,
) -> Result<Vec<ProductReview>, StoreError> {
    store.product_reviews(id, only).await
}

/// Records the recommendation once every assigned reviewer has reviewed.
pub async fn decide(
    store: &Store,
    id: &ProductId,
    recommended: bool,
    reason: &str,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Product, ProductError> {
    if reason.trim().chars().count() < 5 {
        return Err(ProductError::Invalid(vec![field(
            "reason",
            "give the reason (at least 5 characters)",
            "请写明理由（至少 5 个字）。",
        )]));
    }
    let mut tx = store.write().await?;
    let current = status(store, &mut tx, id).await?;
    if current != ProductStatus::UnderReview {
        return Err(ProductError::Stage(format!(
            "only a product under review can be decided; this one is {current}"
        )));
    }
    let missing = store.missing_product_reviews(&mut tx, id).await?;
    if missing > 0 {
        return Err(ProductError::Stage(format!(
            "{missing} assigned reviewer(s) have not reviewed yet"
        )));
    }
    let at = now();
    store
        .insert_product_decision(&mut tx, id, recommended, reason.trim(), actor, &at)
        .await?;
    store
        .set_product_status(
            &mut tx,
            id,
            if recommended {
                ProductStatus::Recommended
            } else {
                ProductStatus::NotRecommended
            },
        )
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
pub async fn public_list(store: &Store) -> Result<Vec<PublicProduct>, ProductError> {
    Ok(store
        .recommended_products()
        .await?
        .into_iter()
        .map(|(p, recommended_at)| PublicProduct {
            id: p.id,
            product_name: p.form.product_name,
            institution_name: p.institution_name,
            uscc: p.uscc,
            description: p.form.description,
            data_items: p.data_items,
            recommended_at,
        })
        .collect())
}
