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
use desk::authorisations::{self, NewAuthorisation};
use governance::identity::{self, Caller, Role};
use policies::access::{Action, Resource};

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
    let id = identity::register_person(
        &state.store,
        &body.username,
        &body.password,
        &person.name,
        &person.subject_id,
        &request_id(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(PersonRegistered {
            user_id: id,
            username: body.username,
            role: Role::Person,
            subject_id: person.subject_id,
            id_number: person.id_number_masked,
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
    state.authorize(&caller, Action::ManageAuthorisations, &Resource::Platform)?;
    let granted = authorisations::grant(
        &state.store,
        NewAuthorisation {
            grantor_id: &caller.user_id,
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
    let (granted, received) = authorisations::of_user(&state.store, &caller.user_id).await?;
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
    state.authorize(&caller, Action::ManageAuthorisations, &Resource::Platform)?;
    authorisations::revoke(&state.store, &caller.user_id, &id, &request_id()).await?;
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
    let live = authorisations::live_on(&state.store, subject).await?;
    let grantees = |report: bool| -> Vec<String> {
        live.iter()
            .filter(|a| !report || a.scope.covers_report())
            .map(|a| a.grantee_id.clone())
            .collect()
    };
    let resource = Resource::PersonRecord {
        subject: subject.to_owned(),
        readers: grantees(false),
        report_readers: grantees(true),
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
    let report = action == Action::IssuePersonReport;
    Ok(live
        .iter()
        .find(|a| a.grantee_id == caller.user_id && (!report || a.scope.covers_report()))
        .map(|a| a.id.clone()))
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
    authorisations::audit_read(
        &state.store,
        &caller.user_id,
        subject,
        authorisation,
        what,
        &request_id(),
    )
    .await?;
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
) -> Result<Json<PersonRecords>, ApiError> {
    let used = authorised(&state, &caller, &subject, Action::ReadPersonRecords).await?;
    let found = person(&state, &subject).await?;
    let today = platform::store::china_today();
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
    Ok(Json(PersonRecords {
        subject: PersonShown {
            subject_id: subject,
            name: found.name,
            id_number: found.id_number_masked,
        },
        as_of: today,
        authorisation: used,
        sections,
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
