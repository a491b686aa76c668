//! Applicants' pages (issue 19, BRIEF P1, P2): the application of 附件2 with every
//! field, the data supply list chosen from the catalog (each table's names, source unit
//! and columns), the own-data list, evidence files uploaded with a progress bar and
//! attached to the qualifications they prove; a draft saved, a submission with every
//! field at fault named at once; afterwards the entry criteria's results with the
//! records each used, the status, the reviews' count (blind) and the decision. Every rule
//! is the platform's (`platform::applications`, `platform::review`), as through the API.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use governance::applications::ApplicationError;
use governance::evidence::EvidenceFile;
use governance::form::{
    ApplicationForm, Commitment, Milestone, OwnDataItem, Qualification, QualificationKind,
};
use governance::identity::Caller;
use platform::applications::ApplicantFailure;
use policies::access::Action;
use serde::Deserialize;
use storage::ids::ApplicationId;

use super::csrf::{Checked, Posted, TokenOnly};
use super::review::{Shown, application_page};
use super::session::{COOKIE_NAME, SignedIn, open_session, see_other};
use super::{Chrome, Faults, PageError, moment, render_with_token};
use crate::api::{ApiError, AppState, ClientIp, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/apply", get(applications).post(create))
        .route("/apply/register", get(register_form).post(register))
        .route("/apply/{id}", get(application).post(save))
        .route(
            "/apply/{id}/evidence",
            post(upload).layer(DefaultBodyLimit::max(
                governance::evidence::MAX_EVIDENCE_BYTES + 64 * 1024,
            )),
        )
        .route("/apply/{id}/evidence/{file}", get(download))
}

/// The applicant's registration form as typed, less the passwords.
#[derive(Default)]
struct ApplicantFields {
    display_name: String,
    username: String,
}

#[derive(Template)]
#[template(path = "apply/register.html")]
struct RegisterPage {
    chrome: Chrome,
    csrf: String,
    fields: ApplicantFields,
    faults: Faults,
}

fn register_page(
    state: &AppState,
    headers: &HeaderMap,
    fields: ApplicantFields,
    faults: Faults,
    status: StatusCode,
) -> Response {
    render_with_token(state, headers, status, |csrf| RegisterPage {
        chrome: Chrome::new("apply"),
        csrf,
        fields,
        faults,
    })
}

/// `GET /apply/register`: registration of someone who will apply for an institution.
async fn register_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let fields = ApplicantFields::default();
    register_page(&state, &headers, fields, Faults::default(), StatusCode::OK)
}

#[derive(Deserialize)]
struct ApplicantForm {
    csrf: Option<String>,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

impl Posted for ApplicantForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /apply/register`: registers the applicant as `POST /api/v1/applicants` does,
/// signs them in and opens their applications.
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Checked(form): Checked<ApplicantForm>,
) -> Response {
    let fields = ApplicantFields {
        display_name: form.display_name.clone(),
        username: form.username.clone(),
    };
    if form.password != form.password_again {
        let faults = Faults::field("password_again", "两次输入的密码不一致，请重新输入。");
        return register_page(
            &state,
            &headers,
            fields,
            faults,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let registered = match state.limit_attempts(ip) {
        Ok(()) => state
            .register_applicant(
                &form.username,
                &form.display_name,
                &form.password,
                &request_id(),
            )
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let signed_in = match registered {
        Ok(_) => open_session(&state, ip, form.username.trim(), &form.password, "").await,
        Err(error) => Err(error),
    };
    match signed_in {
        Ok((token, _, _)) => {
            let mut response = see_other("/apply");
            super::csrf::set_cookie(&state, &mut response, COOKIE_NAME, &token, None);
            response
        }
        Err(error) => {
            let faults = Faults::of(&error, &["display_name", "username", "password"]);
            register_page(&state, &headers, fields, faults, error.status())
        }
    }
}

/// The qualifications of 附件2, in its order, with their names and input keys.
const KINDS: [(QualificationKind, &str, &str); 6] = [
    (
        QualificationKind::SecurityPractice,
        "security_practice",
        "网络安全等级保护三级和商用密码安全性评估的系统开发、运维实践经验",
    ),
    (
        QualificationKind::CreditEvaluation,
        "credit_evaluation",
        "机构公共信用评价良好以上等级",
    ),
    (
        QualificationKind::NoBlacklistedOfficers,
        "no_blacklisted_officers",
        "法定代表人、董事、监事未纳入黑名单",
    ),
    (
        QualificationKind::EstablishedOneYear,
        "established_one_year",
        "机构成立 1 年及以上",
    ),
    (
        QualificationKind::CreditReportingLicence,
        "credit_reporting_licence",
        "个人或企业征信业务资格（优先）",
    ),
    (QualificationKind::Other, "other", "其他资质证明"),
];

/// Rows of the schedule and of the own-data list on the form.
const ROWS: usize = 4;

// ---------------------------------------------------------------------------------
// The list.

struct Row {
    id: String,
    name: String,
    status: &'static str,
    at: String,
}

#[derive(Template)]
#[template(path = "apply/list.html")]
struct ListPage {
    chrome: Chrome,
    csrf: String,
    rows: Vec<Row>,
}

/// `GET /apply`: the applicant's applications, and a new one.
async fn applications(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    state.authorize(
        &caller,
        Action::CreateApplication,
        &policies::access::Resource::Platform,
    )?;
    let rows = state
        .applications(&caller, 100, None)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|a| Row {
            id: a.id.to_string(),
            name: a
                .form
                .institution_name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "（未填写机构名称）".to_owned()),
            status: super::review::status_zh(a.status.as_str()),
            at: moment(&a.updated_at),
        })
        .collect();
    Ok(render_with_token(
        &state,
        &headers,
        StatusCode::OK,
        |csrf| ListPage {
            chrome: Chrome::new("apply"),
            csrf,
            rows,
        },
    ))
}

/// `POST /apply`: a new, empty draft.
async fn create(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Checked(_): Checked<TokenOnly>,
) -> Result<Response, PageError> {
    let application = state
        .create_application(&caller, &ApplicationForm::default(), &request_id())
        .await
        .map_err(ApiError::from)?;
    Ok(see_other(&format!("/apply/{}", application.id)))
}

// ---------------------------------------------------------------------------------
// The form.

/// A table of the data supply list, with its columns.
struct CatalogView {
    id: String,
    title: String,
    source_unit: String,
    columns: Vec<String>,
}

/// A qualification on the form.
struct QualificationView {
    key: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "apply/form.html")]
struct FormPage {
    chrome: Chrome,
    csrf: String,
    id: String,
    /// What is typed, by input name.
    typed: HashMap<String, String>,
    faults: Faults,
    /// Every field at fault, for the summary at the top.
    summary: Vec<String>,
    saved: bool,
    catalog: Vec<CatalogView>,
    kinds: Vec<QualificationView>,
    files: Vec<EvidenceFile>,
    row_numbers: Vec<usize>,
    max_mib: usize,
}

impl FormPage {
    /// What is typed in `name`.
    fn typed(&self, name: &str) -> &str {
        self.typed.get(name).map_or("", String::as_str)
    }

    /// What is typed in the `field` of row `i` of `list`.
    fn row(&self, list: &str, i: &usize, field: &str) -> &str {
        self.typed(&format!("{list}[{i}].{field}"))
    }

    /// Whether box `name` is ticked.
    fn ticked(&self, name: &str) -> bool {
        self.typed.contains_key(name)
    }

    /// The fault of the `field` of row `i` of `list`.
    fn row_error(&self, list: &str, i: &usize, field: &str) -> Option<&str> {
        self.faults.error(&format!("{list}[{i}].{field}"))
    }
}

/// What the form of `application` holds, by input name.
fn typed_of(form: &ApplicationForm) -> HashMap<String, String> {
    let mut typed = HashMap::new();
    let mut put = |k: String, v: &str| {
        if !v.is_empty() {
            typed.insert(k, v.to_owned());
        }
    };
    for (key, value) in [
        ("institution_name", &form.institution_name),
        ("uscc", &form.uscc),
        ("contact_name", &form.contact_name),
        ("contact_phone", &form.contact_phone),
        ("basic_situation", &form.basic_situation),
        ("product_name", &form.product_name),
        ("innovation", &form.innovation),
        ("scenarios", &form.scenarios),
    ] {
        put(key.to_owned(), value.as_deref().unwrap_or(""));
    }
    for q in &form.qualifications {
        if let Some((_, key, _)) = KINDS.iter().find(|(k, _, _)| *k == q.kind) {
            put(format!("q.{key}"), "on");
            put(format!("q.{key}.description"), &q.description);
            for file in &q.evidence {
                put(format!("q.{key}.ev.{file}"), "on");
            }
        }
    }
    for (i, m) in form.schedule.iter().enumerate() {
        put(format!("schedule[{i}].start"), &m.start.to_string());
        put(format!("schedule[{i}].end"), &m.end.to_string());
        put(format!("schedule[{i}].description"), &m.description);
    }
    for table in &form.data_supply {
        put(format!("ds.{table}"), "on");
    }
    for (i, o) in form.own_data.iter().enumerate() {
        put(format!("own_data[{i}].table_name"), &o.table_name);
        put(format!("own_data[{i}].source_unit"), &o.source_unit);
        if o.shareable {
            put(format!("own_data[{i}].shareable"), "on");
        }
    }
    if let Some(c) = &form.commitment {
        if c.accepted {
            put("commitment.accepted".to_owned(), "on");
        }
        put("commitment.signed_by".to_owned(), &c.signed_by);
    }
    typed
}

/// The form posted, as the application's form; a date that cannot be read is named.
fn form_of(typed: &HashMap<String, String>) -> (ApplicationForm, Faults) {
    let text = |k: &str| typed.get(k).map_or("", |v| v.trim()).to_owned();
    let some = |k: &str| Some(text(k)).filter(|v| !v.is_empty());
    let mut faults = Faults::default();
    let qualifications = KINDS
        .iter()
        .filter(|(_, key, _)| typed.contains_key(&format!("q.{key}")))
        .map(|(kind, key, _)| {
            let prefix = format!("q.{key}.ev.");
            let mut evidence: Vec<String> = typed
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix))
                .map(str::to_owned)
                .collect();
            evidence.sort();
            Qualification {
                kind: *kind,
                description: text(&format!("q.{key}.description")),
                evidence,
            }
        })
        .collect();
    let mut schedule = Vec::new();
    for i in 0..ROWS {
        let (start, end, description) = (
            text(&format!("schedule[{i}].start")),
            text(&format!("schedule[{i}].end")),
            text(&format!("schedule[{i}].description")),
        );
        if start.is_empty() && end.is_empty() && description.is_empty() {
            continue;
        }
        let date = |field: &str, value: &str, faults: &mut Faults| {
            chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map_err(|_| {
                    faults.add(
                        &format!("schedule[{i}].{field}"),
                        "请填写日期（年-月-日）。",
                    )
                })
                .ok()
        };
        let start = date("start", &start, &mut faults);
        let end = date("end", &end, &mut faults);
        if let (Some(start), Some(end)) = (start, end) {
            schedule.push(Milestone {
                start,
                end,
                description,
            });
        }
    }
    let catalog = catalog::Manifest::builtin();
    let data_supply = catalog
        .tables
        .iter()
        .filter(|t| typed.contains_key(&format!("ds.{}", t.id)))
        .map(|t| t.id.clone())
        .collect();
    let own_data = (0..ROWS)
        .filter_map(|i| {
            let table_name = text(&format!("own_data[{i}].table_name"));
            let source_unit = text(&format!("own_data[{i}].source_unit"));
            (!table_name.is_empty() || !source_unit.is_empty()).then(|| OwnDataItem {
                table_name,
                source_unit,
                shareable: typed.contains_key(&format!("own_data[{i}].shareable")),
            })
        })
        .collect();
    let commitment = (typed.contains_key("commitment.accepted")
        || !text("commitment.signed_by").is_empty())
    .then(|| Commitment {
        accepted: typed.contains_key("commitment.accepted"),
        signed_by: text("commitment.signed_by"),
    });
    let form = ApplicationForm {
        institution_name: some("institution_name"),
        uscc: some("uscc"),
        contact_name: some("contact_name"),
        contact_phone: some("contact_phone"),
        basic_situation: some("basic_situation"),
        qualifications,
        product_name: some("product_name"),
        innovation: some("innovation"),
        schedule,
        scenarios: some("scenarios"),
        commitment,
        data_supply,
        own_data,
    };
    (form, faults)
}

/// The input a field of the form's JSON path is typed in (`qualifications[1].evidence`
/// is the evidence of the second qualification ticked; `data_supply[2]` the list).
fn input_of(path: &str, form: &ApplicationForm) -> String {
    if let Some(rest) = path.strip_prefix("qualifications[") {
        let (index, field) = rest.split_once(']').unwrap_or((rest, ""));
        let key = index
            .parse::<usize>()
            .ok()
            .and_then(|i| form.qualifications.get(i))
            .and_then(|q| KINDS.iter().find(|(k, _, _)| *k == q.kind))
            .map_or("", |(_, key, _)| key);
        return format!("q.{key}{field}");
    }
    if path.starts_with("data_supply") {
        return "data_supply".to_owned();
    }
    path.to_owned()
}

/// The form's page: a draft with its form, or what was submitted as reviewers see it.
async fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    id: &ApplicationId,
    (typed, faults, summary, saved): (Option<HashMap<String, String>>, Faults, Vec<String>, bool),
    status: StatusCode,
) -> Result<Response, PageError> {
    let application = state
        .application(caller, id, Action::ReadApplication)
        .await
        .map_err(ApiError::from)?;
    if application.status.as_str() != "draft" {
        let shown = Shown {
            saved,
            ..Shown::default()
        };
        return application_page(state, headers, caller, id, shown, status).await;
    }
    let files = state
        .evidence_files(caller, id)
        .await
        .map_err(ApiError::from)?;
    let catalog = catalog::Manifest::builtin()
        .tables
        .iter()
        .map(|t| CatalogView {
            id: t.id.clone(),
            title: format!("{}（{}）", t.name_zh, t.name_en),
            source_unit: t.source_unit.clone(),
            columns: t
                .arrow_schema()
                .fields()
                .iter()
                .map(|f| {
                    let zh = t
                        .column(f.name())
                        .map(|c| c.name_zh.clone())
                        .unwrap_or_default();
                    format!("{} {}", f.name(), zh)
                })
                .collect(),
        })
        .collect();
    let typed = typed.unwrap_or_else(|| typed_of(&application.form));
    Ok(render_with_token(state, headers, status, |csrf| FormPage {
        chrome: Chrome::new("apply"),
        csrf,
        id: id.to_string(),
        typed,
        faults,
        summary,
        saved,
        catalog,
        kinds: KINDS
            .iter()
            .map(|(_, key, label)| QualificationView { key, label })
            .collect(),
        files,
        row_numbers: (0..ROWS).collect(),
        max_mib: governance::evidence::MAX_EVIDENCE_BYTES >> 20,
    }))
}

#[derive(Deserialize, Default)]
struct SavedQuery {
    saved: Option<String>,
}

/// `GET /apply/{id}`: the draft's form, or the application as submitted.
async fn application(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ApplicationId>,
    query: Result<axum::extract::Query<SavedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let saved = query.is_ok_and(|q| q.saved.is_some());
    let shown = (None, Faults::default(), Vec::new(), saved);
    form_page(&state, &headers, &caller, &id, shown, StatusCode::OK).await
}

#[derive(Deserialize)]
struct FormPost {
    csrf: Option<String>,
    #[serde(flatten)]
    fields: HashMap<String, String>,
}

impl Posted for FormPost {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /apply/{id}`: saves the draft (`action=save`), or saves and submits it
/// (`action=submit`): every field at fault is named at once, with what was typed kept.
async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ApplicationId>,
    Checked(post): Checked<FormPost>,
) -> Result<Response, PageError> {
    let submit = post.fields.get("action").is_some_and(|a| a == "submit");
    let typed: HashMap<String, String> = post
        .fields
        .into_iter()
        .filter(|(k, v)| k != "action" && !v.is_empty())
        .collect();
    let (form, mut faults) = form_of(&typed);
    let saved = state
        .update_application(&caller, &id, &form, &request_id())
        .await;
    let outcome = match saved {
        Ok(_) if submit && faults.is_empty() => state
            .submit_own_application(&caller, &id, &request_id())
            .await
            .map(|_| ()),
        Ok(_) if submit => {
            // A date that could not be read stops the submission; the rest is saved.
            let summary = vec!["进度安排中有日期无法识别。".to_owned()];
            let shown = (Some(typed), faults, summary, false);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return form_page(&state, &headers, &caller, &id, shown, status).await;
        }
        Ok(_) => return Ok(see_other(&format!("/apply/{id}?saved=1"))),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Ok(see_other(&format!("/apply/{id}?saved=1"))),
        Err(ApplicantFailure::Application(ApplicationError::Incomplete(errors))) => {
            let mut summary = Vec::new();
            for e in &errors {
                faults.add(&input_of(&e.field, &form), &e.zh);
                summary.push(e.zh.clone());
            }
            let shown = (Some(typed), faults, summary, false);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            form_page(&state, &headers, &caller, &id, shown, status).await
        }
        Err(e) => {
            let error = ApiError::from(e);
            if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
                return Err(error.into());
            }
            let status = error.status();
            let shown = (
                Some(typed),
                Faults::default(),
                vec![error.message_zh().to_owned()],
                false,
            );
            form_page(&state, &headers, &caller, &id, shown, status).await
        }
    }
}

/// `POST /apply/{id}/evidence`: one evidence file (PDF, PNG or JPEG) uploaded to the
/// draft; its type or size refused on the field.
async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ApplicationId>,
    mut form: Multipart,
) -> Result<Response, PageError> {
    let mut fields = HashMap::new();
    let mut file = None;
    loop {
        match super::data::next_part(&headers, &mut form, &mut fields).await {
            Ok(super::data::Part::Text) => continue,
            Ok(super::data::Part::File(field)) => {
                let name = field.file_name().unwrap_or("").to_owned();
                let media_type = field.content_type().unwrap_or("").to_owned();
                let bytes = field.bytes().await;
                file = Some((name, media_type, bytes));
                break;
            }
            Ok(super::data::Part::End) => break,
            Err(e) => return Err(e),
        }
    }
    let outcome = match file {
        Some((name, _, _)) if name.is_empty() => Err(ApiError::invalid("file", "choose a file")
            .with_zh("请选择要上传的证明材料（PDF、PNG 或 JPEG）。")),
        None => Err(ApiError::invalid("file", "choose a file")
            .with_zh("请选择要上传的证明材料（PDF、PNG 或 JPEG）。")),
        Some((_, _, Err(_))) => Err(crate::api::evidence_too_large()),
        Some((name, media_type, Ok(bytes))) => state
            .upload_evidence(&caller, &id, (&name, &media_type), &bytes, &request_id())
            .await
            .map(|_| ())
            .map_err(ApiError::from),
    };
    match outcome {
        Ok(()) => Ok(see_other(&format!("/apply/{id}#evidence-title"))),
        Err(error) => {
            if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
                return Err(error.into());
            }
            let status = error.status();
            let shown = (
                None,
                Faults::field("file", error.message_zh()),
                Vec::new(),
                false,
            );
            form_page(&state, &headers, &caller, &id, shown, status).await
        }
    }
}

/// `GET /apply/{id}/evidence/{file}`: an evidence file, for whoever may read the
/// application (its applicant, its reviewers, administrators).
async fn download(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path((id, file)): Path<(ApplicationId, String)>,
) -> Result<Response, PageError> {
    let (info, content) = state
        .evidence_file(&caller, &id, &file)
        .await
        .map_err(ApiError::from)?;
    Ok(crate::api::evidence_download(&info, content))
}
