//! Natural persons (BRIEF Q4): a person registers against the population register, sees
//! their own record and report, and authorises others — scoped, expiring, revocable —
//! to see it. Every look at another person's record is audited with its authorisation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::public::{Format, issue};
use super::{ApiError, ApiJson, ApiQuery, AppState, ClientIp, request_id};
use crate::audit::{self, Event};
use crate::identity::{self, Caller, NewUser, Role};
use crate::store::{new_id, now};
use policies::access::{Action, Resource};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/public/persons", post(register))
        .route("/me/authorisations", post(grant).get(list))
        .route("/me/authorisations/{id}", delete(revoke))
        .route("/persons/{subject}/records", get(records))
        .route("/persons/{subject}/reports", post(report))
}

/// Longest an authorisation lasts.
pub const MAX_AUTHORISATION_DAYS: i64 = 90;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    username: String,
    password: String,
    name: String,
    id_number: String,
}

/// A natural person registers: their name and citizen ID number must match the
/// population register the platform holds. (Real-name verification of the person
/// behind the keyboard — a face or SMS check by the provincial identity service — sits
/// in front of this in production.)
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Registration>,
) -> Result<Response, ApiError> {
    state.limit_attempts(ip)?;
    let id_number = policies::IdNumber::parse(body.id_number.trim()).map_err(|e| {
        ApiError::invalid("id_number", format!("not a valid citizen ID number: {e}"))
    })?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        return Err(ApiError::invalid(
            "name",
            "give your name as registered, 1 to 50 characters",
        ));
    }
    let person = state
        .records
        .person(Some(name), id_number.as_str())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_in_register",
                "this name and ID number do not match a person in the population register",
            )
            .with_field("id_number")
        })?;
    let mut tx = state.store.write().await?;
    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE subject_id = ?")
        .bind(&person.subject_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
    if taken.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_registered",
            "this person already has an account: log in, or reset the password at a service counter",
        ));
    }
    let id = identity::create_user(
        &mut tx,
        NewUser {
            username: &body.username,
            display_name: &person.name,
            role: Role::Person,
            institution_id: None,
            organisation: None,
            subject_id: Some(&person.subject_id),
            password: &body.password,
        },
        "self-registration",
        &request_id(),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "user_id": id,
            "username": body.username,
            "role": "person",
            "subject_id": person.subject_id,
            "id_number": person.id_number_masked,
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Grant {
    grantee: String,
    scope: String,
    purpose: String,
    days: i64,
}

/// A person authorises another user (by login name) to see their record.
async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Grant>,
) -> Result<Response, ApiError> {
    state.authorize(&caller, Action::ManageAuthorisations, &Resource::Platform)?;
    if !["records", "report"].contains(&body.scope.as_str()) {
        return Err(ApiError::invalid(
            "scope",
            "scope is records (the disclosed records) or report (records and the credit report)",
        ));
    }
    if !(1..=MAX_AUTHORISATION_DAYS).contains(&body.days) {
        return Err(ApiError::invalid(
            "days",
            format!("an authorisation lasts 1 to {MAX_AUTHORISATION_DAYS} days"),
        ));
    }
    let purpose = body.purpose.trim();
    if purpose.chars().count() < 2 || purpose.chars().count() > 200 {
        return Err(ApiError::invalid(
            "purpose",
            "say what it is for, in 2 to 200 characters",
        ));
    }
    let mut tx = state.store.write().await?;
    let grantee: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = ?")
        .bind(body.grantee.trim())
        .fetch_optional(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
    let grantee = grantee
        .filter(|g| *g != caller.user_id)
        .ok_or_else(|| ApiError::invalid("grantee", "no other user has this login name"))?;
    let id = new_id();
    let expires = (chrono::Utc::now() + chrono::Duration::days(body.days))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query(
        "INSERT INTO authorisations (id, grantor_id, grantee_id, scope, purpose, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(&caller.user_id)
    .bind(&grantee)
    .bind(&body.scope)
    .bind(purpose)
    .bind(now())
    .bind(&expires)
    .execute(&mut *tx)
    .await
    .map_err(ApiError::internal)?;
    audit::append(
        &mut tx,
        Event {
            actor: &caller.user_id,
            action: "authorisation.granted",
            subject: &id,
            detail: json!({ "grantee": grantee, "scope": body.scope, "purpose": purpose, "expires_at": expires }),
            request_id: &request_id(),
        },
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": id,
            "grantee": body.grantee.trim(),
            "scope": body.scope,
            "purpose": purpose,
            "expires_at": expires,
            "subject_id": caller.subject_id,
        })),
    )
        .into_response())
}

fn authorisation(row: &sqlx::sqlite::SqliteRow) -> Value {
    let expires: String = row.get("expires_at");
    let revoked: Option<String> = row.get("revoked_at");
    json!({
        "id": row.get::<String, _>("id"),
        "grantor": row.get::<String, _>("grantor"),
        "grantor_subject_id": row.get::<Option<String>, _>("grantor_subject"),
        "grantee": row.get::<String, _>("grantee"),
        "scope": row.get::<String, _>("scope"),
        "purpose": row.get::<String, _>("purpose"),
        "created_at": row.get::<String, _>("created_at"),
        "expires_at": expires,
        "revoked_at": revoked,
        "live": revoked.is_none() && expires > now(),
    })
}

/// Authorisations the caller granted and those granted to them.
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let rows = sqlx::query(
        "SELECT a.id, g.username AS grantor, g.subject_id AS grantor_subject, r.username AS grantee, \
                a.scope, a.purpose, a.created_at, a.expires_at, a.revoked_at, a.grantor_id \
         FROM authorisations a JOIN users g ON g.id = a.grantor_id JOIN users r ON r.id = a.grantee_id \
         WHERE a.grantor_id = ?1 OR a.grantee_id = ?1 ORDER BY a.created_at DESC",
    )
    .bind(&caller.user_id)
    .fetch_all(state.store.pool())
    .await
    .map_err(ApiError::internal)?;
    let (granted, received): (Vec<_>, Vec<_>) = rows
        .iter()
        .partition(|r| r.get::<String, _>("grantor_id") == caller.user_id);
    Ok(Json(json!({
        "granted": granted.into_iter().map(authorisation).collect::<Vec<_>>(),
        "received": received.into_iter().map(authorisation).collect::<Vec<_>>(),
    })))
}

/// The grantor revokes an authorisation; it stops at once.
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&caller, Action::ManageAuthorisations, &Resource::Platform)?;
    let mut tx = state.store.write().await?;
    let done = sqlx::query(
        "UPDATE authorisations SET revoked_at = ? WHERE id = ? AND grantor_id = ? AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(&id)
    .bind(&caller.user_id)
    .execute(&mut *tx)
    .await
    .map_err(ApiError::internal)?
    .rows_affected();
    if done == 0 {
        return Err(ApiError::not_found("live authorisation of yours"));
    }
    audit::append(
        &mut tx,
        Event {
            actor: &caller.user_id,
            action: "authorisation.revoked",
            subject: &id,
            detail: json!({}),
            request_id: &request_id(),
        },
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks `action` on person `subject`'s record for the caller; returns the live
/// authorisation used (None when it is the person themselves). Anything else is 404,
/// so that who is registered is not revealed.
async fn authorised(
    state: &AppState,
    caller: &Caller,
    subject: &str,
    action: Action,
) -> Result<Option<String>, ApiError> {
    let rows = sqlx::query(
        "SELECT a.id, a.grantee_id, a.scope FROM authorisations a JOIN users u ON u.id = a.grantor_id \
         WHERE u.subject_id = ? AND a.revoked_at IS NULL AND a.expires_at > ?",
    )
    .bind(subject)
    .bind(now())
    .fetch_all(state.store.pool())
    .await
    .map_err(ApiError::internal)?;
    let grantees = |scopes: &[&str]| -> Vec<String> {
        rows.iter()
            .filter(|r| scopes.contains(&r.get::<String, _>(2).as_str()))
            .map(|r| r.get::<String, _>(1))
            .collect()
    };
    let resource = Resource::PersonRecord {
        subject: subject.to_owned(),
        readers: grantees(&["records", "report"]),
        report_readers: grantees(&["report"]),
    };
    let allowed = state
        .access
        .is_allowed(&super::principal(caller), action, &resource)
        .map_err(ApiError::internal)?;
    if !allowed {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no record of that person is visible to you: a person's record needs that person's live authorisation",
        ));
    }
    if caller.subject_id.as_deref() == Some(subject) {
        return Ok(None);
    }
    let needed: &[&str] = if action == Action::IssuePersonReport {
        &["report"]
    } else {
        &["records", "report"]
    };
    Ok(rows
        .iter()
        .find(|r| {
            r.get::<String, _>(1) == caller.user_id
                && needed.contains(&r.get::<String, _>(2).as_str())
        })
        .map(|r| r.get::<String, _>(0)))
}

/// Audits a look at another person's record.
async fn audit_use(
    state: &AppState,
    caller: &Caller,
    subject: &str,
    authorisation: &Option<String>,
    what: &str,
) -> Result<(), ApiError> {
    let Some(authorisation) = authorisation else {
        return Ok(());
    };
    let mut tx = state.store.write().await?;
    audit::append(
        &mut tx,
        Event {
            actor: &caller.user_id,
            action: "person_record.read",
            subject,
            detail: json!({ "authorisation": authorisation, "what": what }),
            request_id: &request_id(),
        },
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(())
}

async fn person(state: &AppState, subject: &str) -> Result<::public::records::Person, ApiError> {
    state
        .records
        .person_by_subject(subject)
        .ok_or_else(|| ApiError::not_found("person"))
}

/// A person's records as the public rules disclose them (Q1–Q3), masked.
async fn records(
    State(state): State<AppState>,
    caller: Caller,
    Path(subject): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let used = authorised(&state, &caller, &subject, Action::ReadPersonRecords).await?;
    let found = person(&state, &subject).await?;
    let today = crate::store::china_today();
    let sections = state
        .records
        .disclosed(
            &subject,
            today,
            &state.settings.disclosure,
            &state.marks.get(&state.store).await?.records,
        )
        .map_err(ApiError::internal)?;
    audit_use(&state, &caller, &subject, &used, "records").await?;
    Ok(Json(json!({
        "subject": { "subject_id": subject, "name": found.name, "id_number": found.id_number_masked },
        "as_of": today,
        "authorisation": used,
        "sections": sections,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    #[serde(default)]
    format: Format,
}

/// A person's credit report, issued to the person or to a holder of a `report`
/// authorisation; watermarked with the requester's name.
async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(subject): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let used = authorised(&state, &caller, &subject, Action::IssuePersonReport).await?;
    let found = person(&state, &subject).await?;
    audit_use(&state, &caller, &subject, &used, "report").await?;
    issue(
        &state,
        ::public::report::Subject::Person(&found),
        &subject,
        query.format,
        &caller.display_name,
        &caller.user_id,
    )
    .await
}
