//! Reviewers' pages (issue 19, BRIEF P3, P9): the applications and products assigned
//! to them in one list; an application with its 附件2 form and the entry criteria's
//! results with the records each used, or a product with its 附件3 registration and the
//! institution's management record; the scoring form; their own review (others' only
//! after the decision); conflicts of interest declared on a settings page. A refusal
//! (a conflict, a review already in, the wrong stage) is shown, not hidden. Every rule
//! is the platform's (`platform::review`), as through the API.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use governance::identity::Caller;
use governance::products::Assessment;
use governance::review::Scores;
use policies::access::Action;
use serde::Deserialize;
use storage::ids::{ApplicationId, ProductId};

use super::csrf::{Checked, Posted};
use super::session::{SignedIn, see_other};
use super::{Chrome, Faults, PageError, date_zh, moment, render_with_token};
use crate::api::{ApiError, AppState, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/review", get(assignments))
        .route("/review/affiliations", get(affiliations).post(declare))
        .route(
            "/review/applications/{id}",
            get(application).post(review_application),
        )
        .route("/review/products/{id}", get(product).post(review_product))
}

/// A status of an application or a product in words.
pub(super) fn status_zh(status: &str) -> &'static str {
    match status {
        "draft" => "草稿",
        "submitted" => "已提交，待分配评审",
        "under_review" => "评审中",
        "approved" => "已批准",
        "rejected" => "未批准",
        "registered" => "已登记，待分配评审",
        "recommended" => "已推荐",
        "not_recommended" => "不予推荐",
        _ => "—",
    }
}

// ---------------------------------------------------------------------------------
// The list.

struct AssignmentView {
    href: String,
    kind: &'static str,
    name: String,
    status: &'static str,
    assigned: String,
    reviewed: bool,
}

#[derive(Template)]
#[template(path = "review/assignments.html")]
struct AssignmentsPage {
    chrome: Chrome,
    pending: Vec<AssignmentView>,
    done: Vec<AssignmentView>,
}

/// `GET /review`: what is assigned to the reviewer, what awaits their review first.
async fn assignments(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    let (done, pending): (Vec<_>, Vec<_>) = state
        .assignments(&caller)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|a| AssignmentView {
            href: format!("/review/{}s/{}", a.kind, a.id),
            kind: if a.kind == "product" {
                "信用产品"
            } else {
                "入池申请"
            },
            status: status_zh(&a.status),
            assigned: moment(&a.assigned_at),
            reviewed: a.reviewed,
            name: a.name,
        })
        .partition(|a| a.reviewed);
    Ok(super::render(&AssignmentsPage {
        chrome: Chrome::new("review"),
        pending,
        done,
    }))
}

// ---------------------------------------------------------------------------------
// Conflicts of interest.

#[derive(Template)]
#[template(path = "review/affiliations.html")]
struct AffiliationsPage {
    chrome: Chrome,
    csrf: String,
    declared: Vec<String>,
    typed: String,
    faults: Faults,
    saved: bool,
}

async fn affiliations_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    typed: Option<String>,
    faults: Faults,
    saved: bool,
    status: StatusCode,
) -> Result<Response, PageError> {
    let declared = state.affiliations(caller).await.map_err(ApiError::from)?;
    let typed = typed.unwrap_or_else(|| declared.join("\n"));
    Ok(render_with_token(state, headers, status, |csrf| {
        AffiliationsPage {
            chrome: Chrome::new("review"),
            csrf,
            declared,
            typed,
            faults,
            saved,
        }
    }))
}

#[derive(Deserialize, Default)]
struct SavedQuery {
    saved: Option<String>,
}

/// `GET /review/affiliations`: the institutions the reviewer belongs to (a conflict
/// of interest for reviewing them), and the form that replaces the list.
async fn affiliations(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    query: Result<Query<SavedQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let saved = query.is_ok_and(|Query(q)| q.saved.is_some());
    affiliations_page(
        &state,
        &headers,
        &caller,
        None,
        Faults::default(),
        saved,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct AffiliationsForm {
    csrf: Option<String>,
    #[serde(default)]
    usccs: String,
}

impl Posted for AffiliationsForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /review/affiliations`: replaces the list (one code a line); a code refused
/// (malformed, or of an institution whose review is under way) is named.
async fn declare(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<AffiliationsForm>,
) -> Result<Response, PageError> {
    let usccs: Vec<String> = form
        .usccs
        .split(|c: char| c.is_whitespace() || c == ',' || c == '，')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    match state
        .declare_affiliations(&caller, &usccs, &request_id())
        .await
    {
        Ok(_) => Ok(see_other("/review/affiliations?saved=1")),
        Err(e) => {
            let error = ApiError::from(e);
            if error.status().is_server_error() || error.status() == StatusCode::FORBIDDEN {
                return Err(error.into());
            }
            let status = error.status();
            affiliations_page(
                &state,
                &headers,
                &caller,
                Some(form.usccs),
                Faults::of(&error, &["usccs"]).general_on("usccs"),
                false,
                status,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------
// What an application's or a product's page shows besides it.

/// The scoring form as typed and refused, what was just saved, and for administrators
/// the refusal of their assignment or decision.
#[derive(Default)]
pub(super) struct Shown {
    pub(super) fields: Option<ScoreFields>,
    pub(super) faults: Faults,
    pub(super) saved: bool,
    /// Which administrator's form was refused (`assign`, `decide`), and why.
    pub(super) refused: super::Refused,
    /// What the administrator just did.
    pub(super) done: Option<&'static str>,
}

/// A reviewer an administrator may assign.
pub(super) struct Candidate {
    id: String,
    name: String,
    /// The institutions they declared (a conflict for those).
    declared: String,
    assigned: bool,
}

/// The administrator's forms on an application's or a product's page.
pub(super) struct Panel {
    candidates: Vec<Candidate>,
    /// Whether reviewers may still be assigned.
    assignable: bool,
    /// Whether the decision may be recorded (every assigned reviewer has reviewed).
    decidable: bool,
    refused: super::Refused,
    done: Option<&'static str>,
    /// Where its forms post (`/console/applications/{id}`, `/console/products/{id}`).
    action: String,
    /// The decision's two answers.
    approve: &'static str,
    reject: &'static str,
}

/// The administrator's panel, for administrators: the reviewers to choose from, whether
/// reviewers may still be assigned (the item is `first`, as submitted or registered, or
/// under review) and whether the decision may be recorded (every assigned reviewer has
/// reviewed). `assigned` (who is assigned) is read for administrators only.
async fn panel(
    state: &AppState,
    caller: &Caller,
    (action, approve, reject): (String, &'static str, &'static str),
    assigned: impl std::future::Future<Output = Result<Vec<String>, platform::review::ReviewFailure>>,
    (status, first, reviews_in): (&str, &str, usize),
    shown: &mut Shown,
) -> Result<Option<Panel>, PageError> {
    if caller.role != governance::identity::Role::Administrator {
        return Ok(None);
    }
    let assigned = assigned.await.map_err(ApiError::from)?;
    let assignable = status == first || status == "under_review";
    let decidable =
        status == "under_review" && !assigned.is_empty() && reviews_in >= assigned.len();
    let candidates = state
        .reviewers(caller)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|(user, declared)| Candidate {
            assigned: assigned.contains(&user.id),
            name: format!("{}（{}）", user.display_name, user.username),
            declared: declared.join("、"),
            id: user.id,
        })
        .collect();
    Ok(Some(Panel {
        candidates,
        assignable,
        decidable,
        refused: std::mem::take(&mut shown.refused),
        done: shown.done.take(),
        action,
        approve,
        reject,
    }))
}

/// Whether `caller` may still score an item in `status` whose reviews are by
/// `reviewers`: a reviewer, while it is under review, whose review is not in.
fn may_score<'a>(
    caller: &Caller,
    status: &str,
    mut reviewers: impl Iterator<Item = &'a str>,
) -> bool {
    caller.role == governance::identity::Role::Reviewer
        && status == "under_review"
        && !reviewers.any(|r| r == caller.user_id.as_str())
}

// ---------------------------------------------------------------------------------
// An application.

/// One line of a form as the page shows it.
struct Line {
    label: &'static str,
    value: String,
}

/// A criterion's result.
struct CriterionView {
    title: String,
    passed: bool,
    outcome: &'static str,
    finding: String,
    /// The records it used, each as its fields.
    records: Vec<Vec<(String, String)>>,
}

/// A review as shown.
struct ReviewView {
    who: String,
    scores: String,
    opinion: String,
    at: String,
}

#[derive(Template)]
#[template(path = "review/application.html")]
struct ApplicationPage {
    chrome: Chrome,
    csrf: String,
    id: String,
    name: String,
    status: &'static str,
    lines: Vec<Line>,
    qualifications: Vec<String>,
    schedule: Vec<String>,
    data_supply: Vec<String>,
    own_data: Vec<String>,
    criteria: Vec<CriterionView>,
    reviews_in: usize,
    reviews: Vec<ReviewView>,
    decision: Option<String>,
    /// Whether the reviewer may still score it.
    open: bool,
    fields: ScoreFields,
    faults: Faults,
    saved: bool,
    panel: Option<Panel>,
    /// Whether the reader is the applicant (their own application, submitted).
    applicant: bool,
    /// The evidence files, to download.
    files: Vec<governance::evidence::EvidenceFile>,
}

/// The scoring form as typed, by field.
#[derive(Default)]
pub(super) struct ScoreFields(std::collections::HashMap<String, String>);

impl ScoreFields {
    /// What was typed in `field`.
    fn get(&self, field: &str) -> &str {
        self.0.get(field).map_or("", String::as_str)
    }
}

/// A qualification of 附件1 in words.
fn qualification_zh(kind: &governance::form::QualificationKind) -> &'static str {
    use governance::form::QualificationKind as K;
    match kind {
        K::SecurityPractice => "网络安全等级保护三级和商用密码安全性评估的开发运维经验",
        K::CreditEvaluation => "机构公共信用评价良好以上",
        K::NoBlacklistedOfficers => "法定代表人、董事、监事未纳入黑名单",
        K::EstablishedOneYear => "机构成立 1 年及以上",
        K::CreditReportingLicence => "个人或企业征信业务资格",
        K::Other => "其他资质证明",
    }
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// The records a criterion used, each as its fields.
fn records(evidence: &serde_json::Value) -> Vec<Vec<(String, String)>> {
    evidence
        .get("records")
        .and_then(|r| r.as_array())
        .map(|records| {
            records
                .iter()
                .filter_map(|r| r.as_object())
                .map(|r| {
                    r.iter()
                        .map(|(k, v)| {
                            let v = match v {
                                serde_json::Value::String(s) => s.clone(),
                                serde_json::Value::Null => String::new(),
                                other => other.to_string(),
                            };
                            (k.clone(), v)
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An application's page as `caller` may see it, with what else is `shown`.
pub(super) async fn application_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    id: &ApplicationId,
    mut shown: Shown,
    status: StatusCode,
) -> Result<Response, PageError> {
    let application = state
        .application(caller, id, Action::ReadApplication)
        .await
        .map_err(ApiError::from)?;
    let reviews = state
        .application_reviews(caller, id)
        .await
        .map_err(ApiError::from)?;
    let form = &application.form;
    let lines = vec![
        Line {
            label: "机构名称",
            value: text(&form.institution_name),
        },
        Line {
            label: "统一社会信用代码",
            value: text(&form.uscc),
        },
        Line {
            label: "联系人",
            value: format!("{} {}", text(&form.contact_name), text(&form.contact_phone)),
        },
        Line {
            label: "机构基本情况",
            value: text(&form.basic_situation),
        },
        Line {
            label: "拟开发产品",
            value: text(&form.product_name),
        },
        Line {
            label: "创新点",
            value: text(&form.innovation),
        },
        Line {
            label: "应用场景",
            value: text(&form.scenarios),
        },
        Line {
            label: "承诺",
            value: form.commitment.as_ref().map_or(String::new(), |c| {
                if c.accepted {
                    format!("已签署（{}）", c.signed_by)
                } else {
                    "未签署".to_owned()
                }
            }),
        },
    ];
    let catalog = catalog::Manifest::builtin();
    let criteria = application
        .criteria
        .as_ref()
        .and_then(|c| c.get("criteria"))
        .and_then(|c| c.as_array())
        .map(|all| {
            all.iter()
                .map(|c| {
                    let s = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
                    let outcome = s("outcome");
                    CriterionView {
                        title: s("title_zh"),
                        passed: matches!(outcome.as_str(), "passed" | "declared"),
                        outcome: match outcome.as_str() {
                            "passed" => "符合",
                            "failed" => "不符合",
                            "declared" => "已声明",
                            _ => "未声明",
                        },
                        finding: s("finding"),
                        records: records(c.get("evidence").unwrap_or(&serde_json::Value::Null)),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let open = may_score(
        caller,
        application.status.as_str(),
        reviews.reviews.iter().map(|r| r.reviewer_id.as_str()),
    );
    let panel = panel(
        state,
        caller,
        (format!("/console/applications/{id}"), "批准", "不批准"),
        state.application_reviewers(caller, id),
        (application.status.as_str(), "submitted", reviews.reviews_in),
        &mut shown,
    )
    .await?;
    let files = state
        .evidence_files(caller, id)
        .await
        .map_err(ApiError::from)?;
    let applicant = caller.user_id == application.applicant_id;
    let page = |csrf| ApplicationPage {
        chrome: Chrome::new(if panel.is_some() { "console" } else { "review" }),
        panel,
        applicant,
        files,
        csrf,
        id: application.id.to_string(),
        name: text(&form.institution_name),
        status: status_zh(application.status.as_str()),
        qualifications: form
            .qualifications
            .iter()
            .map(|q| {
                format!(
                    "{}：{}（证明材料 {} 份）",
                    qualification_zh(&q.kind),
                    q.description,
                    q.evidence.len()
                )
            })
            .collect(),
        schedule: form
            .schedule
            .iter()
            .map(|m| {
                format!(
                    "{} 至 {}：{}",
                    date_zh(m.start),
                    date_zh(m.end),
                    m.description
                )
            })
            .collect(),
        data_supply: form
            .data_supply
            .iter()
            .map(|t| match catalog.table(t) {
                Some(table) => format!("{}（{}，{}）", table.name_zh, t, table.source_unit),
                None => t.clone(),
            })
            .collect(),
        own_data: form
            .own_data
            .iter()
            .map(|o| {
                format!(
                    "{}（{}，{}）",
                    o.table_name,
                    o.source_unit,
                    if o.shareable {
                        "可共享"
                    } else {
                        "不共享"
                    }
                )
            })
            .collect(),
        lines,
        criteria,
        reviews_in: reviews.reviews_in,
        reviews: reviews
            .reviews
            .iter()
            .map(|r| ReviewView {
                who: r.reviewer_name.clone(),
                scores: format!(
                    "合规性 {} · 创新性 {} · 发展前景 {}",
                    r.compliance, r.innovation, r.prospects
                ),
                opinion: r.opinion.clone(),
                at: moment(&r.submitted_at),
            })
            .collect(),
        decision: reviews.decision.as_ref().map(|d| {
            format!(
                "{}：{}（{}）",
                if d.decision == "approved" {
                    "批准"
                } else {
                    "不批准"
                },
                d.reason,
                moment(&d.decided_at)
            )
        }),
        open,
        fields: shown.fields.unwrap_or_default(),
        faults: shown.faults,
        saved: shown.saved,
    };
    Ok(render_with_token(state, headers, status, page))
}

/// `GET /review/applications/{id}`: the application as the reviewer may see it.
async fn application(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ApplicationId>,
    query: Result<Query<SavedQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let saved = query.is_ok_and(|Query(q)| q.saved.is_some());
    let shown = Shown {
        saved,
        ..Shown::default()
    };
    application_page(&state, &headers, &caller, &id, shown, StatusCode::OK).await
}

/// The scoring form: a score a field (0 to 100), the opinion, and for a product whether
/// it is recommended.
#[derive(Deserialize)]
struct ScoreForm {
    csrf: Option<String>,
    #[serde(flatten)]
    fields: std::collections::HashMap<String, String>,
}

impl Posted for ScoreForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl ScoreForm {
    fn get(&self, field: &str) -> &str {
        self.fields.get(field).map_or("", String::as_str)
    }
}

/// A score typed, 0 to 100; else the field named.
fn score(field: &str, typed: &str) -> Result<u8, ApiError> {
    typed
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|s| *s <= 100)
        .ok_or_else(|| {
            ApiError::invalid(field.to_owned(), "a score is a whole number from 0 to 100")
                .with_zh("请填写 0 到 100 之间的整数。")
        })
}

/// `POST /review/applications/{id}`: the reviewer's scores and opinion, recorded once.
async fn review_application(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ApplicationId>,
    Checked(form): Checked<ScoreForm>,
) -> Result<Response, PageError> {
    let scores = (|| {
        Ok::<_, ApiError>(Scores {
            compliance: score("compliance", form.get("compliance"))?,
            innovation: score("innovation", form.get("innovation"))?,
            prospects: score("prospects", form.get("prospects"))?,
            opinion: form.get("opinion").to_owned(),
        })
    })();
    let outcome = match scores {
        Ok(scores) => state
            .review_application(&caller, &id, &scores, &request_id())
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Ok(see_other(&format!("/review/applications/{id}?saved=1"))),
        Err(error) => {
            if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
                return Err(error.into());
            }
            let shown = Shown {
                fields: Some(ScoreFields(form.fields.clone())),
                faults: Faults::of(
                    &error,
                    &["compliance", "innovation", "prospects", "opinion"],
                ),
                ..Shown::default()
            };
            application_page(&state, &headers, &caller, &id, shown, error.status()).await
        }
    }
}

// ---------------------------------------------------------------------------------
// A product.

/// A lifecycle event or an evaluation of the institution, as one line.
struct RecordLine {
    at: String,
    what: String,
}

#[derive(Template)]
#[template(path = "review/product.html")]
struct ProductPage {
    chrome: Chrome,
    csrf: String,
    id: String,
    name: String,
    institution: String,
    status: &'static str,
    lines: Vec<Line>,
    data_items: Vec<String>,
    institution_status: String,
    lifecycle: Vec<RecordLine>,
    evaluations: Vec<RecordLine>,
    reports: Vec<RecordLine>,
    reviews_in: usize,
    reviews: Vec<ReviewView>,
    open: bool,
    fields: ScoreFields,
    faults: Faults,
    saved: bool,
    panel: Option<Panel>,
}

/// A product's page as `caller` may see it, with what else is `shown`.
pub(super) async fn product_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    id: &ProductId,
    mut shown: Shown,
    status: StatusCode,
) -> Result<Response, PageError> {
    let view = state
        .product_view(caller, id)
        .await
        .map_err(ApiError::from)?;
    let p = &view.product;
    let form = &p.form;
    let lines = vec![
        Line {
            label: "产品名称",
            value: form.product_name.clone(),
        },
        Line {
            label: "联系人",
            value: format!("{} {}", form.contact_name, form.contact_phone),
        },
        Line {
            label: "是否按计划开发",
            value: match (form.developed_as_planned, &form.plan_adjustment) {
                (Some(false), Some(adjustment)) => format!("否：{adjustment}"),
                (Some(false), None) => "否".to_owned(),
                _ => "是".to_owned(),
            },
        },
        Line {
            label: "使用的数据",
            value: form.description.data_used.clone(),
        },
        Line {
            label: "模型",
            value: form.description.model.clone(),
        },
        Line {
            label: "产品",
            value: form.description.product.clone(),
        },
        Line {
            label: "应用场景",
            value: form.description.scenarios.clone(),
        },
        Line {
            label: "作业与样本",
            value: format!("作业 {}，样本发布 {}", form.job_id, p.release_id),
        },
    ];
    let data_items = p
        .data_items
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    let text = |k: &str| i.get(k).and_then(|v| v.as_str()).unwrap_or("");
                    let treatment = match text("treatment") {
                        "released" => "原值",
                        "pseudonymised" | "masked" => "假名化",
                        "rounded" => "取整",
                        other => other,
                    };
                    match i {
                        serde_json::Value::String(s) => s.clone(),
                        _ => format!("{}（{}，{}）", text("name"), text("type"), treatment),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let (institution_status, lifecycle, evaluations, reports) = match &view.management_record {
        Some(record) => (
            super::workspace::institution_status_zh(record.status).to_owned(),
            record
                .lifecycle
                .iter()
                .map(|e| RecordLine {
                    at: moment(&e.at),
                    what: super::lifecycle_zh(e),
                })
                .collect(),
            record
                .evaluations
                .iter()
                .map(|e| RecordLine {
                    at: moment(&e.evaluated_at),
                    what: format!(
                        "{} 至 {}：{}（{}）",
                        date_zh(e.period_start),
                        date_zh(e.period_end),
                        super::conclusion_zh(&e.conclusion),
                        e.note
                    ),
                })
                .collect(),
            record
                .progress_reports
                .iter()
                .map(|r| RecordLine {
                    at: date_zh(r.due_on),
                    what: format!(
                        "{} 至 {}：{}",
                        date_zh(r.start),
                        date_zh(r.end),
                        super::workspace::period_zh(&r.status)
                    ),
                })
                .collect(),
        ),
        None => Default::default(),
    };
    let open = may_score(
        caller,
        p.status.as_str(),
        view.reviews.iter().map(|r| r.reviewer_id.as_str()),
    );
    let panel = panel(
        state,
        caller,
        (format!("/console/products/{id}"), "推荐", "不予推荐"),
        state.product_reviewers(caller, id),
        (p.status.as_str(), "registered", view.reviews_in),
        &mut shown,
    )
    .await?;
    let page = |csrf| ProductPage {
        chrome: Chrome::new(if panel.is_some() { "console" } else { "review" }),
        panel,
        csrf,
        id: p.id.to_string(),
        name: form.product_name.clone(),
        institution: format!("{}（{}）", p.institution_name, p.uscc),
        status: status_zh(p.status.as_str()),
        lines,
        data_items,
        institution_status,
        lifecycle,
        evaluations,
        reports,
        reviews_in: view.reviews_in,
        reviews: view
            .reviews
            .iter()
            .enumerate()
            .map(|(i, r)| ReviewView {
                // Reviewers of a product are not named to each other.
                who: if r.reviewer_id == caller.user_id.as_str() {
                    "您的评审意见".to_owned()
                } else {
                    format!("评审专家 {}", i + 1)
                },
                scores: format!(
                    "市场需求 {} · 创新性 {} · 管理 {} · {}",
                    r.market_demand,
                    r.innovation,
                    r.management,
                    if r.recommend { "推荐" } else { "不推荐" }
                ),
                opinion: r.opinion.clone(),
                at: moment(&r.submitted_at),
            })
            .collect(),
        open,
        fields: shown.fields.unwrap_or_default(),
        faults: shown.faults,
        saved: shown.saved,
    };
    Ok(render_with_token(state, headers, status, page))
}

/// `GET /review/products/{id}`: the product with the institution's management record.
async fn product(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ProductId>,
    query: Result<Query<SavedQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let saved = query.is_ok_and(|Query(q)| q.saved.is_some());
    let shown = Shown {
        saved,
        ..Shown::default()
    };
    product_page(&state, &headers, &caller, &id, shown, StatusCode::OK).await
}

/// `POST /review/products/{id}`: the reviewer's scores, recommendation and opinion.
async fn review_product(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(id): Path<ProductId>,
    Checked(form): Checked<ScoreForm>,
) -> Result<Response, PageError> {
    let assessment = (|| {
        let recommend = match form.get("recommend") {
            "yes" => true,
            "no" => false,
            _ => {
                return Err(
                    ApiError::invalid("recommend", "say whether you recommend it")
                        .with_zh("请选择是否推荐。"),
                );
            }
        };
        Ok::<_, ApiError>(Assessment {
            market_demand: score("market_demand", form.get("market_demand"))?,
            innovation: score("innovation", form.get("innovation"))?,
            management: score("management", form.get("management"))?,
            recommend,
            opinion: form.get("opinion").to_owned(),
        })
    })();
    let outcome = match assessment {
        Ok(assessment) => state
            .review_product(&caller, &id, &assessment, &request_id())
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Ok(see_other(&format!("/review/products/{id}?saved=1"))),
        Err(error) => {
            if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
                return Err(error.into());
            }
            let shown = Shown {
                fields: Some(ScoreFields(form.fields.clone())),
                faults: Faults::of(
                    &error,
                    &[
                        "market_demand",
                        "innovation",
                        "management",
                        "recommend",
                        "opinion",
                    ],
                ),
                ..Shown::default()
            };
            product_page(&state, &headers, &caller, &id, shown, error.status()).await
        }
    }
}
