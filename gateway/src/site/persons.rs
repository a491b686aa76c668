//! Natural persons on the public site (BRIEF Q4, issue 18): registering against the
//! population register, the signed-in account page, a person's own record and report,
//! and the authorisations by which others may see them — granted, listed and revoked
//! from pages. Every rule is the platform's ([`platform::persons`]), as through the API.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use desk::authorisations::{Authorisation, MAX_AUTHORISATION_DAYS};
use governance::identity::{Caller, Role};
use platform::persons::{Grant, Registration};
use serde::Deserialize;

use super::csrf::{self, Checked, Posted, TokenOnly};
use super::public::{SectionView, section_views};
use super::reports::ReportForm;
use super::session::{COOKIE_NAME, SignedIn, open_session, see_other};
use super::{Chrome, Faults, PageError, date_zh, render_with_token};
use crate::api::disclosure::issue;
use crate::api::{ApiError, AppState, ClientIp, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/register", get(register_form).post(register))
        .route("/me", get(account))
        .route("/me/authorisations", get(authorisations).post(grant))
        .route("/me/authorisations/{id}/revoke", post(revoke))
        .route("/persons/{subject}", get(record))
        .route("/persons/{subject}/report", post(report))
}

/// A role as a person reads it.
pub(super) fn role_zh(role: Role) -> &'static str {
    match role {
        Role::Administrator => "平台管理员",
        Role::Reviewer => "评审专家",
        Role::Institution => "信用服务机构用户",
        Role::Applicant => "申请机构用户",
        Role::AgencyStaff => "核查机关工作人员",
        Role::SourceUnit => "数源单位工作人员",
        Role::Person => "自然人",
    }
}

/// The registration form as typed, less the passwords.
#[derive(Default)]
struct RegistrationFields {
    name: String,
    id_number: String,
    username: String,
}

#[derive(Template)]
#[template(path = "account/register.html")]
struct RegisterPage {
    chrome: Chrome,
    csrf: String,
    fields: RegistrationFields,
    faults: Faults,
}

fn register_page(
    state: &AppState,
    headers: &HeaderMap,
    fields: RegistrationFields,
    faults: Faults,
    status: StatusCode,
) -> Response {
    render_with_token(state, headers, status, |csrf| RegisterPage {
        chrome: Chrome::new("me"),
        csrf,
        fields,
        faults,
    })
}

/// `GET /register`: the registration form.
async fn register_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    register_page(
        &state,
        &headers,
        RegistrationFields::default(),
        Faults::default(),
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct RegistrationForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

impl Posted for RegistrationForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The fields of the registration form, as the API names them.
const REGISTRATION_FIELDS: [&str; 4] = ["name", "id_number", "username", "password"];

/// `POST /register`: registers the person as the API does, then signs them in.
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Checked(form): Checked<RegistrationForm>,
) -> Response {
    let fields = RegistrationFields {
        name: form.name.clone(),
        id_number: form.id_number.clone(),
        username: form.username.clone(),
    };
    if form.password != form.password_again {
        return register_page(
            &state,
            &headers,
            fields,
            Faults::field("password_again", "两次输入的密码不一致，请重新输入。"),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let registered = match state.limit_attempts(ip) {
        Ok(()) => state
            .register_person(
                &Registration {
                    username: &form.username,
                    password: &form.password,
                    name: &form.name,
                    id_number: &form.id_number,
                },
                &request_id(),
            )
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let signed_in = match registered {
        Ok(registered) => open_session(&state, ip, &registered.username, &form.password, "").await,
        Err(error) => Err(error),
    };
    match signed_in {
        Ok((token, _, _)) => {
            let mut response = see_other("/me");
            csrf::set_cookie(&state, &mut response, COOKIE_NAME, &token, None);
            response
        }
        Err(error) => register_page(
            &state,
            &headers,
            fields,
            Faults::of(&error, &REGISTRATION_FIELDS),
            error.status(),
        ),
    }
}

/// An authorisation as the account pages list it.
struct AuthorisationView {
    id: String,
    /// The other party: the grantee of one granted, the grantor of one received.
    party: String,
    /// The grantor's subject id and name, for the link to their record (received, live
    /// only: the grantee may see both while it lasts).
    record: Option<(String, String)>,
    scope: &'static str,
    purpose: String,
    created_on: String,
    expires_on: String,
    /// 有效, 已撤销 or 已过期.
    state: &'static str,
    live: bool,
}

impl AuthorisationView {
    fn of(
        a: Authorisation,
        granted: bool,
        records: &::public::records::Records,
    ) -> AuthorisationView {
        let day = super::moment;
        let state = if a.live {
            "有效"
        } else if a.revoked_at.is_some() {
            "已撤销"
        } else {
            "已过期"
        };
        AuthorisationView {
            record: (!granted && a.live)
                .then_some(a.grantor_subject_id.as_deref())
                .flatten()
                .and_then(|subject| records.person_by_subject(subject))
                .map(|person| (person.subject_id, person.name)),
            party: if granted { a.grantee } else { a.grantor },
            scope: scope_zh(&a.scope),
            purpose: a.purpose,
            created_on: day(&a.created_at),
            expires_on: day(&a.expires_at),
            state,
            live: a.live,
            id: a.id,
        }
    }
}

/// What an authorisation lets its holder do, in words.
fn scope_zh(scope: &str) -> &'static str {
    match scope {
        "report" => "查看信用记录并出具信用报告",
        _ => "查看信用记录",
    }
}

#[derive(Template)]
#[template(path = "account/me.html")]
struct AccountPage {
    chrome: Chrome,
    csrf: String,
    caller: Caller,
    role: &'static str,
    received: Vec<AuthorisationView>,
}

/// `GET /me`: who is signed in, what their role does here, and the records others
/// have authorised them to see.
async fn account(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    let (_, received) = state.authorisations(&caller).await?;
    let received = received
        .into_iter()
        .map(|a| AuthorisationView::of(a, false, &state.records))
        .collect();
    Ok(render_with_token(
        &state,
        &headers,
        StatusCode::OK,
        |csrf| AccountPage {
            chrome: Chrome::new("me"),
            csrf,
            role: role_zh(caller.role),
            caller,
            received,
        },
    ))
}

/// The grant form as typed.
struct GrantFields {
    grantee: String,
    scope: String,
    purpose: String,
    days: String,
}

impl Default for GrantFields {
    fn default() -> Self {
        GrantFields {
            grantee: String::new(),
            scope: "records".into(),
            purpose: String::new(),
            days: "30".into(),
        }
    }
}

#[derive(Template)]
#[template(path = "account/authorisations.html")]
struct AuthorisationsPage {
    chrome: Chrome,
    csrf: String,
    person: bool,
    fields: GrantFields,
    faults: Faults,
    /// The notice of what was just done.
    done: Option<&'static str>,
    granted: Vec<AuthorisationView>,
    received: Vec<AuthorisationView>,
    max_days: i64,
}

async fn authorisations_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    fields: GrantFields,
    faults: Faults,
    done: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (granted, received) = state.authorisations(caller).await?;
    let view = |list: Vec<Authorisation>, granted: bool| -> Vec<AuthorisationView> {
        list.into_iter()
            .map(|a| AuthorisationView::of(a, granted, &state.records))
            .collect()
    };
    Ok(render_with_token(state, headers, status, |csrf| {
        AuthorisationsPage {
            chrome: Chrome::new("me"),
            csrf,
            person: caller.role == Role::Person,
            fields,
            faults,
            done,
            granted: view(granted, true),
            received: view(received, false),
            max_days: MAX_AUTHORISATION_DAYS,
        }
    }))
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

/// `GET /me/authorisations`: the authorisations granted and received, and (for a
/// person) the form to grant one.
async fn authorisations(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let done = match query.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("granted") => Some("已授权。被授权人现在即可查看。"),
        Some("revoked") => Some("授权已撤销，被授权人即刻不能再查看。"),
        _ => None,
    };
    authorisations_page(
        &state,
        &headers,
        &caller,
        GrantFields::default(),
        Faults::default(),
        done,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct GrantForm {
    csrf: Option<String>,
    #[serde(default)]
    grantee: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    days: String,
}

impl Posted for GrantForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /me/authorisations`: grants an authorisation as the API does.
async fn grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<GrantForm>,
) -> Result<Response, PageError> {
    let fields = GrantFields {
        grantee: form.grantee,
        scope: form.scope,
        purpose: form.purpose,
        days: form.days,
    };
    let Ok(days) = fields.days.trim().parse::<i64>() else {
        let faults = Faults::field(
            "days",
            format!("填写 1 到 {MAX_AUTHORISATION_DAYS} 之间的天数。"),
        );
        return authorisations_page(
            &state,
            &headers,
            &caller,
            fields,
            faults,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let granted = state
        .grant_authorisation(
            &caller,
            &Grant {
                grantee: &fields.grantee,
                scope: &fields.scope,
                purpose: &fields.purpose,
                days,
            },
            &request_id(),
        )
        .await;
    match granted.map_err(ApiError::from) {
        Ok(_) => Ok(see_other("/me/authorisations?done=granted")),
        Err(error) if error.status().is_client_error() && error.field().is_some() => {
            let faults = Faults::of(&error, &["grantee", "scope", "purpose", "days"]);
            authorisations_page(
                &state,
                &headers,
                &caller,
                fields,
                faults,
                None,
                error.status(),
            )
            .await
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /me/authorisations/{id}/revoke`: revokes it as the API does; it stops at once.
async fn revoke(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Checked(_): Checked<TokenOnly>,
) -> Result<Response, PageError> {
    state
        .revoke_authorisation(&caller, &id, &request_id())
        .await?;
    Ok(see_other("/me/authorisations?done=revoked"))
}

#[derive(Template)]
#[template(path = "account/person.html")]
struct PersonPage {
    chrome: Chrome,
    csrf: String,
    subject_id: String,
    name: String,
    id_number: String,
    as_of: String,
    /// Whether the reader is the person (else a holder of their authorisation).
    own: bool,
    /// Records link to the objection form (the person's own only).
    objectable: bool,
    sections: Vec<SectionView>,
    under_objection: usize,
}

/// `GET /persons/{subject}`: a person's records as disclosed today, for the person or a
/// holder of their live authorisation (the look audited with it); anyone else is told
/// there is nothing visible to them.
async fn record(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(subject): Path<String>,
) -> Result<Response, PageError> {
    let found = state
        .person_records(&caller, &subject, &request_id())
        .await?;
    let own = found.authorisation.is_none();
    let (sections, under_objection) = section_views(found.sections);
    Ok(render_with_token(
        &state,
        &headers,
        StatusCode::OK,
        |csrf| PersonPage {
            chrome: Chrome::new("me"),
            csrf,
            subject_id: found.person.subject_id,
            name: found.person.name,
            id_number: found.person.id_number_masked,
            as_of: date_zh(found.as_of),
            own,
            objectable: own,
            sections,
            under_objection,
        },
    ))
}

/// `POST /persons/{subject}/report`: the person's credit report, for the person or a
/// holder of their live `report` authorisation, watermarked with the reader's name: the
/// PDF to download or the printable page.
async fn report(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(subject): Path<String>,
    Checked(form): Checked<ReportForm>,
) -> Result<Response, PageError> {
    let format = form.format();
    let person = state
        .person_for_report(&caller, &subject, &request_id())
        .await?;
    Ok(issue(
        &state,
        ::public::report::Subject::Person(&person),
        &subject,
        format,
        &caller.display_name,
        &caller.user_id,
    )
    .await?)
}
