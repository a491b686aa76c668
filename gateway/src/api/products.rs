//! Products over HTTP (BRIEF P8, P9): registration, review with the institution's
//! management record, the recorded recommendation, and the public list.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use storage::ids::{InstitutionId, ProductId, UserId};

use super::page::Listed;
use super::{ApiError, ApiJson, AppState, request_id};
use governance::identity::Caller;
use governance::products::{self, Assessment, Product, ProductError, Registration};
use platform::review::ProductView;

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
                let zh = errors.iter().map(|e| e.zh.as_str()).collect::<String>();
                ApiError::invalid(first, message)
                    .with_zh(zh)
                    .with_details(serde_json::to_value(&errors).unwrap_or_default())
            }
            ProductError::Stage(m) => ApiError::new(StatusCode::CONFLICT, "wrong_stage", m),
            ProductError::Store(e) => ApiError::internal(e),
        }
    }
}

async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
    ApiJson(body): ApiJson<Registration>,
) -> Result<Response, ApiError> {
    let product = state
        .register_product(&caller, &id, &body, &request_id())
        .await?;
    Ok((StatusCode::CREATED, Json(product)).into_response())
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InstitutionId>,
) -> Result<Json<Listed<Product>>, ApiError> {
    Ok(Json(Listed::all(
        state.institution_products(&caller, &id).await?,
    )))
}

/// A product with its reviews (a reviewer sees only their own until the decision) and,
/// for reviewers and administrators, the institution's management record (P9).
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ProductId>,
) -> Result<Json<ProductView>, ApiError> {
    Ok(Json(state.product_view(&caller, &id).await?))
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
    let assigned = state
        .assign_product_reviewers(&caller, &id, &body.reviewer_ids, &request_id())
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
    state
        .review_product(&caller, &id, &body, &request_id())
        .await?;
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
    Ok(Json(
        state
            .decide_product(&caller, &id, body.recommended, &body.reason, &request_id())
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
