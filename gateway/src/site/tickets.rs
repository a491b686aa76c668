//! Consultations and complaints on the public site (BRIEF Q9, Q11, issue 18): file one,
//! follow it with its number and token, and rate the answer once it is answered. The
//! platform's `file_ticket`, `follow_ticket` and `rate_ticket`, as through the API.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use desk::tickets::{NewTicket, Ticket, TicketError};
use platform::tickets::TicketFailure;
use serde::Deserialize;
use storage::states::TicketStatus;

use super::csrf::{Checked, Posted};
use super::{Chrome, FollowForm, PageError, date_zh, render_with_token};
use crate::api::{ApiError, AppState, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tickets/new", get(new).post(file))
        .route("/tickets/follow", get(follow_form).post(follow))
        .route("/tickets/rating", axum::routing::post(rate))
}

/// The kinds of ticket, as the form offers them.
pub(super) const KINDS: [(&str, &str); 2] = [("consultation", "咨询"), ("complaint", "投诉")];

/// The categories of ticket, as the form offers them.
pub(super) const CATEGORIES: [(&str, &str); 4] = [
    ("information_query", "信用信息查询"),
    ("credit_evaluation", "信用评价"),
    ("wrong_association", "信用信息关联错误"),
    ("other", "其他"),
];

/// The form's fields as typed, and the field at fault with its message.
#[derive(Default, Deserialize)]
struct TicketForm {
    csrf: Option<String>,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    content: String,
}

impl Posted for TicketForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

#[derive(Template)]
#[template(path = "public/ticket_form.html")]
struct FormPage {
    chrome: Chrome,
    csrf: String,
    form: TicketForm,
    kinds: &'static [(&'static str, &'static str)],
    categories: &'static [(&'static str, &'static str)],
    /// The field at fault, and why.
    fault: Option<(&'static str, String)>,
}

impl FormPage {
    /// The message beside `field`, if it is at fault.
    fn error(&self, field: &str) -> Option<&str> {
        self.fault
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    /// `aria-invalid` of `field`.
    fn invalid(&self, field: &str) -> &'static str {
        if self.error(field).is_some() {
            "true"
        } else {
            "false"
        }
    }
}

fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    form: TicketForm,
    fault: Option<(&'static str, String)>,
) -> Response {
    let status = if fault.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_with_token(state, headers, status, |csrf| FormPage {
        chrome: Chrome::new("home"),
        csrf,
        form,
        kinds: &KINDS,
        categories: &CATEGORIES,
        fault,
    })
}

/// `GET /tickets/new`: the form.
async fn new(State(state): State<AppState>, headers: HeaderMap) -> Response {
    form_page(
        &state,
        &headers,
        TicketForm {
            kind: "consultation".into(),
            ..TicketForm::default()
        },
        None,
    )
}

#[derive(Template)]
#[template(path = "public/ticket_receipt.html")]
struct ReceiptPage {
    chrome: Chrome,
    csrf: String,
    number: String,
    token: String,
    due_on: String,
    due_provisional: bool,
}

/// `POST /tickets/new`: files it; a field at fault is named beside it, with what was
/// typed kept.
async fn file(
    State(state): State<AppState>,
    headers: HeaderMap,
    Checked(form): Checked<TicketForm>,
) -> Result<Response, PageError> {
    let ticket = NewTicket {
        kind: form.kind.clone(),
        category: form.category.clone(),
        channel: None,
        name: form.name.clone(),
        contact: form.contact.clone(),
        content: form.content.clone(),
    };
    match state.file_ticket(&ticket, None, &request_id()).await {
        Ok(filed) => Ok(render_with_token(
            &state,
            &headers,
            StatusCode::CREATED,
            |csrf| ReceiptPage {
                chrome: Chrome::new("home"),
                csrf,
                number: filed.number,
                token: filed.token,
                due_on: date_zh(filed.due_on),
                due_provisional: filed.due_provisional,
            },
        )),
        Err(TicketFailure::Ticket(TicketError::Invalid(field, message))) => {
            Ok(form_page(&state, &headers, form, Some((field, message.zh))))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "public/ticket_follow.html")]
struct FollowPage {
    chrome: Chrome,
    csrf: String,
    number: String,
    /// The token, kept for the rating form (posted, never in an address).
    token: String,
    ticket: Option<TicketView>,
    not_found: bool,
    /// Why a rating was refused.
    rating_error: Option<String>,
}

/// A ticket as its requester follows it.
struct TicketView {
    kind: &'static str,
    category: &'static str,
    status: &'static str,
    filed_at: String,
    due_on: String,
    overdue: bool,
    extension_reason: Option<String>,
    answer: Option<String>,
    answered_at: Option<String>,
    content: String,
    /// Answered and not yet rated: the rating form is shown.
    can_rate: bool,
    rating: Option<i64>,
    comment: Option<String>,
}

/// The label of `code` in `labels`, or the code itself.
fn label(labels: &'static [(&'static str, &'static str)], code: &str) -> &'static str {
    labels
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("其他", |(_, l)| *l)
}

fn view(t: Ticket) -> TicketView {
    let time = super::moment;
    TicketView {
        kind: label(&KINDS, &t.kind),
        category: label(&CATEGORIES, &t.category),
        status: match t.status {
            TicketStatus::Open => "办理中",
            TicketStatus::Answered => "已答复",
        },
        filed_at: time(&t.filed_at),
        due_on: super::day(&t.due_on),
        overdue: t.overdue,
        extension_reason: t.extension_reason,
        can_rate: t.status == TicketStatus::Answered && t.rating.is_none(),
        answered_at: t.answered_at.as_deref().map(time),
        answer: t.answer,
        content: t.content,
        rating: t.rating,
        comment: t.rating_comment,
    }
}

fn follow_page(
    state: &AppState,
    headers: &HeaderMap,
    number: String,
    token_typed: String,
    found: Option<Ticket>,
    rating_error: Option<String>,
) -> Response {
    let not_found = found.is_none() && !number.is_empty();
    let status = if not_found {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    render_with_token(state, headers, status, |csrf| FollowPage {
        chrome: Chrome::new("home"),
        csrf,
        number,
        token: if found.is_some() {
            token_typed
        } else {
            String::new()
        },
        ticket: found.map(view),
        not_found,
        rating_error,
    })
}

/// `GET /tickets/follow`: the form to follow a ticket.
async fn follow_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    follow_page(&state, &headers, String::new(), String::new(), None, None)
}

/// `POST /tickets/follow`: the ticket with this number and token.
async fn follow(
    State(state): State<AppState>,
    headers: HeaderMap,
    Checked(form): Checked<FollowForm>,
) -> Result<Response, PageError> {
    let number = form.number.trim().to_owned();
    let found = state.follow_ticket(&number, &form.token).await?;
    Ok(follow_page(
        &state, &headers, number, form.token, found, None,
    ))
}

#[derive(Deserialize)]
struct RatingForm {
    csrf: Option<String>,
    #[serde(default)]
    number: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    rating: String,
    #[serde(default)]
    comment: String,
}

impl Posted for RatingForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /tickets/rating`: rates the answer, once; the ticket is shown again, with the
/// rating or the reason it was refused.
async fn rate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Checked(form): Checked<RatingForm>,
) -> Result<Response, PageError> {
    let number = form.number.trim().to_owned();
    // Nothing chosen reads as 0, which the rule refuses with its own message.
    let rating = form.rating.trim().parse::<i64>().unwrap_or(0);
    match state
        .rate_ticket(&number, &form.token, rating, &form.comment, &request_id())
        .await
    {
        Ok(rated) => Ok(follow_page(
            &state, &headers, number, form.token, rated, None,
        )),
        Err(TicketFailure::Ticket(e @ (TicketError::Invalid(..) | TicketError::Conflict(_)))) => {
            let message = ApiError::from(e).message_zh().to_owned();
            let found = state.follow_ticket(&number, &form.token).await?;
            let mut response =
                follow_page(&state, &headers, number, form.token, found, Some(message));
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}
