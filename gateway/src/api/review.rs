//! Expert review over HTTP (BRIEF P3): assignment, reviews, the recorded decision.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use policies::access::{Action, Resource};
use serde::Deserialize;
use storage::ids::{ApplicationId, UserId};

use super::applications::visible;
use super::{ApiError, ApiJson, AppState, request_id};
use governance::identity::Caller;
use governance::review::{self, ReviewError, Scores};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/applications/{id}/reviewers", post(assign))
        .route(
            "/applications/{id}/reviews",
            post(submit_review).get(list_reviews),
        )
        .route("/applications/{id}/decision", post(decide))
        .route("/me/affiliations", put(declare_affiliations))
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
    let application = visible(&state, &caller, &id, Action::AssignReviewers).await?;
    // A reviewer with a conflict of interest is refused here, by the same rule that
    // would stop them reviewing.
    let uscc = policies::Uscc::canonical(application.form.uscc.as_deref().unwrap_or_default());
    state
        .refuse_conflicts(
            &body.reviewer_ids,
            Action::ReviewApplication,
            |reviewer| Resource::Application {
                id: id.to_string(),
                applicant: application.applicant_id.to_string(),
                uscc: uscc.clone(),
                reviewers: vec![reviewer.to_owned()],
            },
            &format!("the applicant ({uscc})"),
        )
        .await?;
    let assigned = review::assign(
        &state.store,
        &id,
        &body.reviewer_ids,
        state.settings.min_reviewers,
        &caller.user_id,
        &request_id(),
    )
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
    visible(&state, &caller, &id, Action::ReviewApplication).await?;
    review::submit_review(&state.store, &id, &caller.user_id, &scores, &request_id()).await?;
    Ok((StatusCode::CREATED, Json(Reviewed { status: "reviewed" })).into_response())
}

async fn list_reviews(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApplicationId>,
) -> Result<Json<Reviews>, ApiError> {
    let application = visible(&state, &caller, &id, Action::ReadApplication).await?;
    let decision = review::decision(&state.store, &id).await?;
    let mut reviews = review::reviews(&state.store, &id).await?;
    let reviews_in = reviews.len();
    // Blind review (issue 15), until the decision: each reviewer sees only their own
    // review, the applicant how many are in and not who wrote what; administrators see
    // all. After it, the reviews are shown as the workflow intends.
    if decision.is_none() {
        match caller.role {
            governance::identity::Role::Administrator => {}
            governance::identity::Role::Reviewer => {
                reviews.retain(|r| r.reviewer_id == caller.user_id)
            }
            _ => reviews.clear(),
        }
    }
    Ok(Json(Reviews {
        status: application.status,
        reviews_in,
        reviews,
        decision,
    }))
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
    visible(&state, &caller, &id, Action::DecideApplication).await?;
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
        review::decide(
            &state.store,
            &id,
            approved,
            &body.reason,
            &caller.user_id,
            &request_id(),
        )
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
    state.authorize(&caller, Action::DeclareAffiliations, &Resource::Platform)?;
    let usccs =
        review::declare_affiliations(&state.store, &caller.user_id, &body.usccs, &request_id())
            .await?;
    Ok(Json(Affiliated { usccs }))
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

/// An application's reviews, as the caller may see them (blind until the decision).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Reviews {
    /// The application's status.
    status: storage::states::ApplicationStatus,
    /// How many reviews are in.
    reviews_in: usize,
    /// The reviews the caller may read.
    reviews: Vec<review::Review>,
    /// The decision, once made.
    decision: Option<review::Decision>,
}

/// The institutions (USCCs) a reviewer declared.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Affiliated {
    /// Their codes, as stored.
    usccs: Vec<String>,
}
