//! Natural persons (BRIEF Q4): a person registers against the population register, sees
//! their own record and report, and authorises others — scoped, expiring, revocable —
//! to see it. Every look at another person's record is audited with its authorisation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use storage::ids::UserId;

use super::disclosure::{Format, issue};
use super::{ApiError, ApiJson, ApiQuery, AppState, ClientIp, request_id};
use desk::authorisations;
use governance::identity::{Caller, Role};
use platform::persons::{self, PersonFailure};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/public/persons", post(register))
        .route("/me/authorisations", post(grant).get(list))
        .route("/me/authorisations/{id}", delete(revoke))
        .route("/persons/{subject}/records", get(records))
        .route("/persons/{subject}/reports", post(report))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PersonRegistration)]
pub(super) struct Registration {
    username: String,
    password: String,
    name: String,
    id_number: String,
}

/// A natural person registers: their name and citizen ID number must match the
/// population register the platform holds.
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Registration>,
) -> Result<Response, ApiError> {
    state.limit_attempts(ip)?;
    let registered = state
        .register_person(
            &persons::Registration {
                username: &body.username,
                password: &body.password,
                name: &body.name,
                id_number: &body.id_number,
            },
            &request_id(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PersonRegistered {
            user_id: registered.user_id,
            username: registered.username,
            role: Role::Person,
            subject_id: registered.person.subject_id,
            id_number: registered.person.id_number_masked,
        }),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Grant {
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
    let granted = state
        .grant_authorisation(
            &caller,
            &persons::Grant {
                grantee: &body.grantee,
                scope: &body.scope,
                purpose: &body.purpose,
                days: body.days,
            },
            &request_id(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Granted {
            id: granted.id,
            grantee: body.grantee.trim().to_owned(),
            scope: granted.scope,
            purpose: granted.purpose,
            expires_at: granted.expires_at,
            subject_id: caller.subject_id,
        }),
    )
        .into_response())
}

/// Authorisations the caller granted and those granted to them.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Authorisations>, ApiError> {
    let (granted, received) = state.authorisations(&caller).await?;
    Ok(Json(Authorisations { granted, received }))
}

/// A person just registered: their login and who they are in the register.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PersonRegistered {
    user_id: UserId,
    username: String,
    /// `person`.
    role: Role,
    /// Their subject id in the persons register.
    subject_id: String,
    /// Their ID number, masked.
    id_number: String,
}

/// An authorisation just granted.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Granted {
    id: String,
    /// The grantee's login name.
    grantee: String,
    scope: authorisations::Scope,
    purpose: String,
    /// When it ends (RFC 3339).
    expires_at: String,
    /// The grantor's subject id in the persons register.
    subject_id: Option<String>,
}

/// The authorisations a user granted and those granted to them, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Authorisations {
    granted: Vec<authorisations::Authorisation>,
    received: Vec<authorisations::Authorisation>,
}

/// The grantor revokes an authorisation; it stops at once.
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .revoke_authorisation(&caller, &id, &request_id())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A person's records as the public rules disclose them (Q1–Q3), masked.
async fn records(
    State(state): State<AppState>,
    caller: Caller,
    Path(subject): Path<String>,
) -> Result<Json<PersonRecords>, ApiError> {
    let found = state
        .person_records(&caller, &subject, &request_id())
        .await?;
    Ok(Json(PersonRecords {
        subject: PersonShown {
            subject_id: found.person.subject_id,
            name: found.person.name,
            id_number: found.person.id_number_masked,
        },
        as_of: found.as_of,
        authorisation: found.authorisation,
        sections: found.sections,
    }))
}

/// A person's records as disclosed today, by section of 附录A.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PersonRecords {
    subject: PersonShown,
    /// The day the disclosure rules were applied for.
    as_of: chrono::NaiveDate,
    /// The authorisation the reader used; null for the person themselves.
    authorisation: Option<String>,
    sections: Vec<::public::records::Section>,
}

/// A person as their records show them.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PersonShown {
    subject_id: String,
    name: String,
    /// Their ID number, masked.
    id_number: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportQuery {
    #[serde(default)]
    #[param(inline)]
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
    let found = state
        .person_for_report(&caller, &subject, &request_id())
        .await?;
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

impl From<PersonFailure> for ApiError {
    fn from(e: PersonFailure) -> Self {
        let zh = e.zh();
        let error: ApiError = match e {
            PersonFailure::Invalid { field, .. } => ApiError::invalid(field, e.to_string()),
            PersonFailure::NotInRegister => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_in_register",
                e.to_string(),
            )
            .with_field("id_number"),
            PersonFailure::NotVisible => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            PersonFailure::Identity(e) => e.into(),
            PersonFailure::Authorisation(e) => e.into(),
            PersonFailure::Refused(e) => e.into(),
        };
        error.with_zh(zh)
    }
}
