//! The audit log for administrators (issue 19): its entries filtered by actor, action,
//! what they are about and time, newest first and paged; and whether the chain
//! verifies, the same check as `creditpool audit verify`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use storage::audit::{Entry, Filter, Verdict};

use super::page::{Listed, Page, cursor};
use super::{ApiError, ApiQuery, AppState};
use governance::identity::Caller;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit", get(entries))
        .route("/audit/verification", get(verification))
}

/// The longest actor, action or id a filter takes.
const MAX_FILTER_CHARS: usize = 200;

/// Which entries to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditQuery {
    /// Entries by this actor (a user id, or `system`, `cli:<user>`, `demo`).
    actor: Option<String>,
    /// Entries of this action, or of every action starting with it when it ends in `.`
    /// (`institution.`).
    action: Option<String>,
    /// Entries about this id: their subject, or the institution their detail names.
    about: Option<String>,
    /// Entries from this moment (RFC 3339) or day (`2026-12-04`, from its start in
    /// China).
    since: Option<String>,
    /// Entries before this moment or day.
    until: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The audit log, newest first: every state change and release with its actor, time
/// and request id. Administrators only.
async fn entries(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Listed<Entry>>, ApiError> {
    let page = Page {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    let limit = page.size()?;
    let before = match page.after(1)? {
        None => None,
        Some(key) => Some(key[0].parse::<i64>().map_err(|_| {
            ApiError::invalid("cursor", "pass the next_cursor of the previous page")
        })?),
    };
    for (field, value) in [
        ("actor", &query.actor),
        ("action", &query.action),
        ("about", &query.about),
    ] {
        if value
            .as_deref()
            .is_some_and(|v| v.is_empty() || v.chars().count() > MAX_FILTER_CHARS)
        {
            return Err(ApiError::invalid(
                field,
                format!("{field} has 1 to {MAX_FILTER_CHARS} characters"),
            ));
        }
    }
    let moment = |field: &str, text: &Option<String>| {
        text.as_deref()
            .map(|t| platform::audit::moment(field, t))
            .transpose()
    };
    let (since, until) = (
        moment("since", &query.since)?,
        moment("until", &query.until)?,
    );
    let items = state
        .audit_entries(
            &caller,
            &Filter {
                actor: query.actor.as_deref(),
                action: query.action.as_deref(),
                about: query.about.as_deref(),
                since: since.as_deref(),
                until: until.as_deref(),
                before,
            },
            limit,
        )
        .await?;
    let next_cursor = items
        .last()
        .filter(|_| items.len() == limit as usize)
        .map(|last| cursor(&[&last.seq.to_string()]));
    Ok(Json(Listed { items, next_cursor }))
}

/// Whether the audit chain verifies.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AuditVerification)]
pub(super) struct Verification {
    /// Every entry links to the one before, and the head matches the last.
    intact: bool,
    /// Entries checked (when intact).
    entries: Option<i64>,
    /// The head's hash, to keep elsewhere as an anchor (when intact).
    head: Option<String>,
    /// Where the chain breaks (0: the head), when it does.
    broken_at: Option<i64>,
    /// What is wrong there.
    reason: Option<String>,
}

/// Walks the whole chain, as `creditpool audit verify` does. Administrators only.
async fn verification(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Verification>, ApiError> {
    Ok(Json(match state.audit_verdict(&caller).await? {
        Verdict::Intact { entries, head } => Verification {
            intact: true,
            entries: Some(entries),
            head: Some(head),
            broken_at: None,
            reason: None,
        },
        Verdict::Broken { seq, reason } => Verification {
            intact: false,
            entries: None,
            head: None,
            broken_at: Some(seq),
            reason: Some(reason),
        },
    }))
}
