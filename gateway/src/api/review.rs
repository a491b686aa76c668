//! Expert review over HTTP (BRIEF P3): assignment, reviews, the recorded decision.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use storage::ids::{ApplicationId, UserId};

use super::page::Listed;
use super::{ApiError, ApiJson, AppState, request_id};
use governance::identity::Caller;
use governance::review::{self, ReviewError, Scores};
use platform::review::{ReviewFailure, Reviews};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/applications/{id}/reviewers", post(assign))
        .route(
            "/applications/{id}/reviews",
            post(submit_review).get(list_reviews),
        )
        .route("/applications/{id}/decision", post(decide))
        .route("/me/affiliations", put(declare_affiliations))
        .route("/me/assignments", get(assignments))
}

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Invalid { field, message } => ApiError::invalid(field, message),
            ReviewError::Stage(message) => {
                ApiError::new(StatusCode::CONFLICT, "wrong_stage", message)
            }
            ReviewError::AffiliationInUse(message) => {
                ApiError::new(StatusCode::CONFLICT, "affiliation_in_use", message)
            }
            ReviewError::Store(e) => ApiError::internal(e),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApplicationReviewers)]
pub(super) struct Assignment {
    reviewer_ids: Vec<UserId>,
}

async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApplicationId>,
    ApiJson(body): ApiJson<Assignment>,
) -> Result<Json<Assigned>, ApiError> {
    let assigned = state
        .assign_application_reviewers(&caller, &id, &body.reviewer_ids, &request_id())
        .await?;
    Ok(Json(Assigned {
        status: "under_review",
        reviewers: assigned,
    }))
}

async fn submit_review(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApplicationId>,
    ApiJson(scores): ApiJson<Scores>,
) -> Result<Response, ApiError> {
    state
        .review_application(&caller, &id, &scores, &request_id())
        .await?;
    Ok((StatusCode::CREATED, Json(Reviewed { status: "reviewed" })).into_response())
}

async fn list_reviews(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApplicationId>,
) -> Result<Json<Reviews>, ApiError> {
    Ok(Json(state.application_reviews(&caller, &id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBody {
    decision: String,
    reason: String,
}

async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApplicationId>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<review::Decision>, ApiError> {
    let approved = match body.decision.as_str() {
        "approved" => true,
        "rejected" => false,
        other => {
            return Err(ApiError::invalid(
                "decision",
                format!("the decision is 'approved' or 'rejected', not '{other}'"),
            ));
        }
    };
    Ok(Json(
        state
            .decide_application(&caller, &id, approved, &body.reason, &request_id())
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Affiliations {
    usccs: Vec<String>,
}

/// A reviewer declares the institutions they belong to (replacing any earlier list).
async fn declare_affiliations(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Affiliations>,
) -> Result<Json<Affiliated>, ApiError> {
    let usccs = state
        .declare_affiliations(&caller, &body.usccs, &request_id())
        .await?;
    Ok(Json(Affiliated { usccs }))
}

/// The applications and products assigned to the reviewer, newest first, each with
/// whether their review is in.
async fn assignments(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Listed<platform::review::Assignment>>, ApiError> {
    Ok(Json(Listed::all(state.assignments(&caller).await?)))
}

/// Reviewers assigned to an application or a product.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Assigned {
    /// `under_review`.
    pub(super) status: &'static str,
    /// The reviewers' user ids.
    pub(super) reviewers: Vec<String>,
}

/// A review recorded.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Reviewed {
    /// `reviewed`.
    status: &'static str,
}

/// The institutions (USCCs) a reviewer declared.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Affiliated {
    /// Their codes, as stored.
    usccs: Vec<String>,
}

impl From<ReviewFailure> for ApiError {
    fn from(e: ReviewFailure) -> Self {
        match e {
            ReviewFailure::Refused(e) => e.into(),
            ReviewFailure::Application(e) => e.into(),
            ReviewFailure::Review(e) => e.into(),
            ReviewFailure::Product(e) => e.into(),
            ReviewFailure::Account(e) => e.into(),
            ReviewFailure::Report(e) => e.into(),
            ReviewFailure::Store(e) => e.into(),
        }
    }
}
