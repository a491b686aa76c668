//! Consultations and complaints (BRIEF Q9, Q11) over HTTP: the public files and follows
//! them with a token and rates the answer; administrators record telephone calls and
//! letters, extend with a reason, and answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{ApiError, ApiJson, ApiQuery, AppState, request_id};
use desk::tickets::{self, NewTicket, TicketError};
use governance::identity::Caller;
use platform::tickets::TicketFailure;
use storage::states::TicketStatus;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/public/tickets", post(file_public))
        .route("/public/tickets/{number}", get(follow))
        .route("/public/tickets/{number}/rating", post(rate))
        .route("/tickets", post(file_staff).get(list))
        .route("/tickets/{id}/extension", post(extend))
        .route("/tickets/{id}/answer", post(answer))
}

impl From<TicketFailure> for ApiError {
    fn from(e: TicketFailure) -> Self {
        let zh = e.zh();
        let error: ApiError = match e {
            TicketFailure::Ticket(e) => e.into(),
            TicketFailure::Refused(e) => e.into(),
        };
        error.with_zh(zh)
    }
}

impl From<TicketError> for ApiError {
    fn from(e: TicketError) -> Self {
        let zh = e.zh();
        let error: ApiError = match e {
            TicketError::Invalid(field, message) => ApiError::invalid(field, message.en),
            TicketError::NotFound => ApiError::not_found("ticket"),
            TicketError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "ticket_state", m.en),
            TicketError::Store(e) => ApiError::internal(e),
        };
        error.with_zh(zh)
    }
}

fn filed(f: tickets::Filed) -> Response {
    (
        StatusCode::CREATED,
        Json(TicketReceipt {
            message: format!(
                "received as {}: it will be answered by {}{}. Keep the token: it is shown only now and is needed to follow and rate it.",
                f.number, f.due_on, super::provisional_note(f.due_provisional, f.due_on)
            ),
            id: f.id,
            number: f.number,
            token: f.token,
            status: TicketStatus::Open,
            due_on: f.due_on,
            due_provisional: f.due_provisional,
        }),
    )
        .into_response()
}

/// The receipt of a consultation or complaint filed: shown once, with its token.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct TicketReceipt {
    /// The ticket's id.
    id: String,
    /// Its number, to quote.
    number: String,
    /// The token that follows and rates it: shown only now.
    token: String,
    /// `open`.
    status: TicketStatus,
    /// When it is to be answered.
    due_on: chrono::NaiveDate,
    /// Whether the due date was counted without the year's working-day calendar.
    due_provisional: bool,
    /// What happens next, for people.
    message: String,
}

/// Tickets, for the staff who handle them.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct TicketList {
    /// How many.
    total: usize,
    /// The tickets.
    items: Vec<tickets::Ticket>,
    /// Always null: the list is whole.
    next_cursor: Option<String>,
}

/// The public files a consultation or complaint through the platform.
async fn file_public(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewTicket>,
) -> Result<Response, ApiError> {
    Ok(filed(state.file_ticket(&body, None, &request_id()).await?))
}

/// Staff record one that came by telephone or letter.
async fn file_staff(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewTicket>,
) -> Result<Response, ApiError> {
    Ok(filed(
        state
            .file_ticket(&body, Some(&caller), &request_id())
            .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct TokenQuery {
    token: String,
}

/// A number and token that do not belong together.
fn no_such_ticket() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no ticket with that number and token: check both as given at filing",
    )
}

async fn follow(
    State(state): State<AppState>,
    Path(number): Path<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<tickets::Ticket>, ApiError> {
    state
        .follow_ticket(&number, &query.token)
        .await?
        .map(Json)
        .ok_or_else(no_such_ticket)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Rating {
    rating: i64,
    #[serde(default)]
    comment: String,
}

/// The requester rates the answer (Q11), once.
async fn rate(
    State(state): State<AppState>,
    Path(number): Path<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    ApiJson(body): ApiJson<Rating>,
) -> Result<Json<tickets::Ticket>, ApiError> {
    state
        .rate_ticket(
            &number,
            &query.token,
            body.rating,
            &body.comment,
            &request_id(),
        )
        .await?
        .map(Json)
        .ok_or_else(no_such_ticket)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    status: Option<String>,
    #[serde(default)]
    overdue: bool,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<TicketList>, ApiError> {
    let items = state
        .tickets_ledger(&caller, query.status.as_deref(), query.overdue)
        .await?;
    Ok(Json(TicketList {
        total: items.len(),
        items,
        next_cursor: None,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Extension {
    days: i64,
    reason: String,
}

async fn extend(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Extension>,
) -> Result<Json<tickets::Ticket>, ApiError> {
    Ok(Json(
        state
            .extend_ticket(&caller, &id, body.days, &body.reason, &request_id())
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Answer {
    answer: String,
}

async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Answer>,
) -> Result<Json<tickets::Ticket>, ApiError> {
    Ok(Json(
        state
            .answer_ticket(&caller, &id, &body.answer, &request_id())
            .await?,
    ))
}
