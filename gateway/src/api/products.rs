//! Products over HTTP (BRIEF P8, P9): registration, review with the institution's
//! management record, the recorded recommendation, and the public list.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use policies::access::{Action, InstitutionRef, Resource};
use serde::Deserialize;
use storage::ids::{InstitutionId, ProductId, UserId};

use super::page::Listed;
use super::{ApiError, ApiJson, AppState, request_id};
use governance::accounts;
use governance::identity::{Caller, Role};
use governance::products::{self, Assessment, Product, ProductError, Registration};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/institutions/{id}/products", post(register).get(list))
        .route("/products/{id}", get(read))
        .route("/products/{id}/reviewers", post(assign))
        .route("/products/{id}/reviews", post(submit_review))
        .route("/products/{id}/decision", post(decide))
        .route("/public/products", get(public_list))
}

impl From<ProductError> for ApiError {
    fn from(e: ProductError) -> Self {
        match e {
            ProductError::NotFound => ApiError::not_found("product"),
            ProductError::Invalid(errors) => {
                let first = errors.first().map(|e| e.field.clone()).unwrap_or_default();
                let message = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                ApiError::invalid(first, message)
                    .with_details(serde_json::to_value(&errors).unwrap_or_default())
            }
            ProductError::Stage(m) => ApiError::new(StatusCode::CONFLICT, "wrong_stage", m),
            ProductError::Store(e) => ApiError::internal(e),
        }
    }
}

async fn resource(state: &AppState, p: &Product) -> Result<Resource, ApiError> {
    let status = accounts::get(&state.store, &p.institution_id).await?.status;
    Ok(Resource::Product {
        id: p.id.to_string(),
        institution: InstitutionRef {
            id: p.institution_id.to_string(),
            status: status.to_string(),
        },
        uscc: p.uscc.clone(),
        reviewers: products::reviewers(&state.store, &p.id).await?,
    })
}

/// The product if the caller may do `action` on it; "not found" if they may not even
/// read it (a suspended institution reading its own is told it is suspended).
async fn visible(
    state: &AppState,
    caller: &Caller,
    id: &ProductId,
    action: Action,
) -> Result<Product, ApiError> {
    let product = products::get(&state.store, id).await?;
    let target = resource(state, &product).await?;
    let can_read = state
        .access
        .is_allowed(&super::principal(caller), Action::ReadProduct, &target)
        .map_err(ApiError::internal)?;
    if !can_read {
        if caller.institution_id.as_deref() == Some(product.institution_id.as_str()) {
            state.authorize(caller, Action::ReadProduct, &target)?;
        }
        return Err(ApiError::not_found("product"));
    }
    if action != Action::ReadProduct {
        state.authorize(caller, action, &target)?;
    }
    Ok(product)
}

async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiJson(body): ApiJson<Registration>,
) -> Result<Response, ApiError> {
    state.own_institution(&caller, &id, Action::UseWorkspace, "register its products")?;
    let product =
        products::register(&state.store, &id, &body, &caller.user_id, &request_id()).await?;
    Ok((StatusCode::CREATED, Json(product)).into_response())
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
) -> Result<Json<Listed<Product>>, ApiError> {
    super::institutions::institution(
        &state,
        &caller,
        &id,
        super::institutions::read_action(&caller),
    )
    .await?;
    Ok(Json(Listed::all(
        products::of_institution(&state.store, &id).await?,
    )))
}

/// A product with its reviews (a reviewer sees only their own until the decision) and,
/// for reviewers and administrators, the institution's management record (P9).
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ProductId>,
) -> Result<Json<ProductView>, ApiError> {
    let product = visible(&state, &caller, &id, Action::ReadProduct).await?;
    let decided = matches!(product.status.as_str(), "recommended" | "not_recommended");
    let only = (caller.role == Role::Reviewer && !decided).then_some(caller.user_id.as_str());
    let mut reviews = products::reviews(&state.store, &id, only).await?;
    let reviews_in = if only.is_some() {
        products::reviews(&state.store, &id, None).await?.len()
    } else {
        reviews.len()
    };
    // Blind review (issue 15): until the decision the institution sees how many reviews
    // are in, not who wrote what; each reviewer only their own; administrators all.
    if !decided && !matches!(caller.role, Role::Administrator | Role::Reviewer) {
        reviews.clear();
    }
    let management_record = if caller.role == Role::Institution {
        None
    } else {
        let institution = accounts::get(&state.store, &product.institution_id).await?;
        let today = platform::store::china_today();
        Some(ManagementRecord {
            status: institution.status,
            lifecycle: institution.lifecycle,
            evaluations: governance::progress::evaluations(&state.store, &product.institution_id)
                .await?,
            progress_reports: governance::progress::schedule(
                &state.store,
                &product.institution_id,
                today,
                state.settings.reports,
            )
            .await?,
        })
    };
    Ok(Json(ProductView {
        product,
        reviews_in,
        reviews,
        management_record,
    }))
}

/// A product as its reader may see it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct ProductView {
    product: Product,
    /// How many reviews are in.
    reviews_in: usize,
    /// The reviews: all once the product is decided; before, a reviewer's own only,
    /// all for administrators, none for the institution (blind review).
    reviews: Vec<products::ProductReview>,
    /// The institution's management record (P9), for reviewers and administrators.
    #[serde(skip_serializing_if = "Option::is_none")]
    management_record: Option<ManagementRecord>,
}

/// The institution's day-to-day management record, for reviewing its product (P9).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct ManagementRecord {
    status: storage::states::InstitutionStatus,
    lifecycle: Vec<governance::accounts::LifecycleEvent>,
    evaluations: Vec<governance::progress::Evaluation>,
    progress_reports: Vec<governance::progress::Period>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProductReviewers)]
pub(super) struct Assignment {
    reviewer_ids: Vec<UserId>,
}

async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ProductId>,
    ApiJson(body): ApiJson<Assignment>,
) -> Result<Json<super::review::Assigned>, ApiError> {
    let product = visible(&state, &caller, &id, Action::AssignProductReviewers).await?;
    let institution = accounts::get(&state.store, &product.institution_id).await?;
    // Conflicts of interest are refused by the rule that would stop the review.
    let owner = InstitutionRef {
        id: institution.id.to_string(),
        status: institution.status.to_string(),
    };
    state
        .refuse_conflicts(
            &body.reviewer_ids,
            Action::ReviewProduct,
            |reviewer| Resource::Product {
                id: id.to_string(),
                institution: owner.clone(),
                uscc: product.uscc.clone(),
                reviewers: vec![reviewer.to_owned()],
            },
            &format!("the institution ({})", product.uscc),
        )
        .await?;
    let assigned = products::assign(
        &state.store,
        &id,
        &body.reviewer_ids,
        state.settings.min_reviewers,
        &caller.user_id,
        &request_id(),
    )
    .await?;
    Ok(Json(super::review::Assigned {
        status: "under_review",
        reviewers: assigned,
    }))
}

async fn submit_review(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ProductId>,
    ApiJson(body): ApiJson<Assessment>,
) -> Result<Response, ApiError> {
    visible(&state, &caller, &id, Action::ReviewProduct).await?;
    products::review(&state.store, &id, &caller.user_id, &body, &request_id()).await?;
    Ok((
        StatusCode::CREATED,
        Json(ProductReviewed {
            product_id: id,
            submitted: true,
        }),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionRequest {
    recommended: bool,
    reason: String,
}

async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ProductId>,
    ApiJson(body): ApiJson<DecisionRequest>,
) -> Result<Json<Product>, ApiError> {
    visible(&state, &caller, &id, Action::DecideProduct).await?;
    Ok(Json(
        products::decide(
            &state.store,
            &id,
            body.recommended,
            &body.reason,
            &caller.user_id,
            &request_id(),
        )
        .await?,
    ))
}

/// Recommended products, for everyone (no login).
async fn public_list(
    State(state): State<AppState>,
) -> Result<Json<Listed<products::PublicProduct>>, ApiError> {
    Ok(Json(Listed::all(
        products::public_list(&state.store).await?,
    )))
}

/// A product review recorded.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct ProductReviewed {
    /// The product.
    product_id: ProductId,
    /// `true`.
    submitted: bool,
}
