//! Objections to public credit records (BRIEF Q8, standard 6.4): filed with a
//! completeness and form check; received until the service provider has checked that
//! it is complete and accurate (6.4.2), then accepted (受理: the record marked
//! "异议处理中" everywhere at once and dispatched to the queue of its source unit,
//! 6.4.3) or returned (退回) with the reason; resolved by the source unit (corrected,
//! withdrawn or upheld) within 5 working days of the acceptance on the calendar
//! (6.4.4); kept as a ledger (6.4.5). An objection filed by the record's own subject
//! signed in, or recorded by staff from a letter, is accepted as it is filed: the
//! check is done. Nobody marks someone else's records by filing.

use std::collections::HashSet;
use storage::ids::{RequestId, UserId};
use storage::said::Said;
use storage::states::ObjectionStatus;

use chrono::NaiveDate;
use serde::Serialize;

use storage::audit::{self, Event};
use storage::store::{
    Store, StoreError, china_day, china_today, new_id, now, random_bytes, sha256_hex,
};

use crate::db::objections::{NewRow, Objections as _, Stored};

/// Working days from filing within which an objection is done (6.4.4).
pub const DEADLINE_WORKING_DAYS: u32 = 5;
/// Longest objection text, in characters.
pub const MAX_CONTENT_CHARS: usize = 2000;
/// Shortest objection text: enough to say what is wrong.
pub const MIN_CONTENT_CHARS: usize = 10;

/// An objection as filed (6.4.2).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filing {
    /// The applicant's name: the enterprise's registered name or the person's name.
    #[serde(default)]
    pub applicant_name: String,
    /// The applicant's unified social credit code, or a person's citizen ID number.
    #[serde(default)]
    pub applicant_code: String,
    /// A telephone number to reach the applicant.
    #[serde(default)]
    pub phone: String,
    /// What is wrong with the record.
    #[serde(default)]
    pub content: String,
    /// The record objected to (its `record_id`).
    #[serde(default)]
    pub record_id: String,
}

/// Why an objection was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ObjectionError {
    /// Fields missing or malformed, each named.
    #[error("the objection is incomplete: {}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Incomplete(Vec<(&'static str, Said)>),
    /// No record has this id.
    #[error("no public credit record has the id '{0}'")]
    NoRecord(String),
    /// The applicant is not the record's subject.
    #[error(
        "record '{0}' is not a record of the subject with this applicant code and name ({1} does not match): an objection is filed by the subject of the record"
    )]
    NotTheSubject(String, &'static str),
    /// An objection to this record is already being handled.
    #[error("objection {0} to this record is already being handled")]
    AlreadyOpen(String),
    /// The objection is already resolved.
    #[error("this objection was already resolved ({0})")]
    Resolved(String),
    /// The objection is not waiting for acceptance.
    #[error("this objection is {0}: only a received objection is accepted or returned")]
    NotReceived(ObjectionStatus),
    /// The objection is not accepted yet.
    #[error(
        "this objection is received but not accepted yet: it is resolved once the service provider has accepted it"
    )]
    NotAccepted,
    /// A reason to return an objection is required.
    #[error("say why the objection is returned, in 5 to 500 characters")]
    NoReason,
    /// The records could not be read.
    #[error("reading records: {0}")]
    Records(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ObjectionError {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            ObjectionError::Incomplete(faults) => faults
                .iter()
                .map(|(_, said)| said.zh.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            ObjectionError::NoRecord(id) => format!("没有编号为“{id}”的公示记录。"),
            ObjectionError::NotTheSubject(_, field) => format!(
                "这条记录不是该申请人的记录（{}与记录的主体不符）：异议由记录的信用主体本人提出。",
                if *field == "applicant_name" {
                    "姓名或名称"
                } else {
                    "代码"
                }
            ),
            ObjectionError::AlreadyOpen(number) => {
                format!("对这条记录的异议 {number} 正在处理中，无需重复提出。")
            }
            ObjectionError::Resolved(status) => format!("这件异议已经办结（{status}）。"),
            ObjectionError::NotReceived(status) => {
                format!("这件异议的状态是 {status}：只有待受理的异议可以受理或退回。")
            }
            ObjectionError::NotAccepted => "这件异议尚未受理：服务机构受理后才能办结。".into(),
            ObjectionError::NoReason => "请说明退回的理由，5 到 500 个字。".into(),
            ObjectionError::Records(_) | ObjectionError::Store(_) => {
                "服务暂时不可用，请稍后再试。".into()
            }
        }
    }
}

/// Checks that a phone number looks like one ([`policies::is_phone`], the rule of every
/// form), with the message to answer if not.
pub fn check_phone(phone: &str) -> Result<(), Said> {
    if policies::is_phone(phone) {
        Ok(())
    } else {
        Err(Said::new(
            "a mobile number of 11 digits, or a fixed line with its area code (0571-12345678)",
            "请填写 11 位手机号码，或带区号的固定电话（如 0571-12345678）。",
        ))
    }
}

/// Who the applicant code says the applicant is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applicant {
    /// An enterprise or organisation, by its code.
    Organisation(String),
    /// A natural person, by their (valid) citizen ID number.
    Person(String),
}

/// The completeness and form check of 6.4.2: every field at fault is named.
pub fn check(filing: &Filing) -> Result<Applicant, ObjectionError> {
    let mut faults: Vec<(&'static str, Said)> = Vec::new();
    if filing.applicant_name.trim().is_empty() {
        faults.push((
            "applicant_name",
            Said::new(
                "the applicant's name is required",
                "请填写申请人姓名或单位名称。",
            ),
        ));
    } else if filing.applicant_name.chars().count() > 100 {
        faults.push((
            "applicant_name",
            Said::new("at most 100 characters", "最多 100 个字。"),
        ));
    }
    let code = filing.applicant_code.trim();
    let applicant = if code.is_empty() {
        faults.push((
            "applicant_code",
            Said::new(
                "the unified social credit code, or for a person the citizen ID number, is required",
                "请填写统一社会信用代码；自然人填写公民身份号码。",
            ),
        ));
        None
    } else {
        // A citizen ID number first: its check character is strict, while the shape of a
        // USCC (whose checksums are only warnings) fits every ID number too, and no
        // person could object.
        match policies::IdNumber::parse(code) {
            Ok(id) => Some(Applicant::Person(id.as_str().to_owned())),
            Err(_) if code.len() == 18 && policies::Uscc::check(code).is_ok() => {
                Some(Applicant::Organisation(code.to_uppercase()))
            }
            Err(e) => {
                faults.push((
                    "applicant_code",
                    Said::new(
                        format!(
                            "neither a unified social credit code nor a valid citizen ID number ({e})"
                        ),
                        format!(
                            "既不是统一社会信用代码，也不是有效的公民身份号码（{}）",
                            e.zh().trim_end_matches('。')
                        ),
                    ),
                ));
                None
            }
        }
    };
    if filing.phone.trim().is_empty() {
        faults.push((
            "phone",
            Said::new("a telephone number is required", "请填写联系电话。"),
        ));
    } else if let Err(e) = check_phone(filing.phone.trim()) {
        faults.push(("phone", e));
    }
    let content = filing.content.trim().chars().count();
    if content < MIN_CONTENT_CHARS {
        faults.push((
            "content",
            Said::new(
                format!(
                    "say what is wrong with the record, in at least {MIN_CONTENT_CHARS} characters"
                ),
                format!("请说明记录哪里有误，至少 {MIN_CONTENT_CHARS} 个字。"),
            ),
        ));
    } else if content > MAX_CONTENT_CHARS {
        faults.push((
            "content",
            Said::new(
                format!("at most {MAX_CONTENT_CHARS} characters"),
                format!("最多 {MAX_CONTENT_CHARS} 个字。"),
            ),
        ));
    }
    if filing.record_id.trim().is_empty() {
        faults.push((
            "record_id",
            Said::new(
                "the id of the record objected to is required (record_id, as the records list shows it)",
                "请从信用主体页面选择要提出异议的记录。",
            ),
        ));
    }
    match applicant {
        Some(applicant) if faults.is_empty() => Ok(applicant),
        _ => Err(ObjectionError::Incomplete(faults)),
    }
}

/// Who files an objection, which decides whether it needs the provider's check.
#[derive(Clone, Copy, Debug)]
pub enum Filer<'a> {
    /// Anyone, without signing in: received, checked by the provider before it marks
    /// anything.
    Public,
    /// The record's own subject, signed in, or an enterprise's representative (a user of
    /// the institution it is) (the caller checked which): the check is done, accepted
    /// as it is filed.
    Subject(&'a UserId),
    /// Platform staff recording an objection received by letter or at the counter,
    /// having checked it: accepted as it is filed.
    Staff(&'a UserId),
}

/// An objection just filed: the follow-up token is shown once.
#[derive(Clone, Debug, Serialize)]
pub struct Filed {
    /// Its id.
    pub id: String,
    /// Its number, quoted in every contact.
    pub number: String,
    /// The secret with which the applicant follows it without an account.
    pub token: String,
    /// `received` (waiting for the provider's check) or `open` (accepted: marked and
    /// dispatched).
    pub status: ObjectionStatus,
    /// The source unit it is (or, once accepted, will be) dispatched to.
    pub source_unit: String,
    /// The day by which it is done, once accepted.
    pub due_on: Option<NaiveDate>,
    /// The deadline runs into a year the calendar has no data for yet: counted on
    /// Monday-to-Friday days, recounted when the year is added.
    pub due_provisional: bool,
}

/// Files an objection whose record has been located and whose applicant has been
/// matched to the record's subject by the caller; audited. Filed by the public it is
/// received and marks nothing until the provider accepts it ([`accept`]); filed by the
/// subject signed in or by staff it is accepted at once: marked (every output path reads
/// [`objected`]) and dispatched, due 5 working days from today.
#[allow(clippy::too_many_arguments)]
pub async fn file(
    store: &Store,
    calendars: &crate::calendar::Calendars,
    filing: &Filing,
    located: &::public::records::Located,
    filer: Filer<'_>,
    today: NaiveDate,
    request_id: &RequestId,
) -> Result<Filed, ObjectionError> {
    let mut tx = store.write().await?;
    let record_id = filing.record_id.trim();
    let accepted_by = match filer {
        Filer::Public => None,
        Filer::Subject(user) | Filer::Staff(user) => Some(user),
    };
    // Read while the writing connection is held: a year being added is in it or not yet
    // committed, and then recounts this deadline.
    let deadline = accepted_by.map(|_| calendars.current().deadline(today, DEADLINE_WORKING_DAYS));
    if accepted_by.is_some()
        && let Some(number) = store.open_objection_to(&mut tx, record_id).await?
    {
        return Err(ObjectionError::AlreadyOpen(number));
    }
    let id = new_id();
    let token = format!("cpo_{}", storage::store::hex(&random_bytes::<16>()));
    let suffix = u32::from_be_bytes(random_bytes::<4>()) % 10_000;
    let number = format!("YY{}{:04}", today.format("%Y%m%d"), suffix);
    let at = now();
    let status = if accepted_by.is_some() {
        ObjectionStatus::Open
    } else {
        ObjectionStatus::Received
    };
    let due_on = deadline.as_ref().map(|d| d.day.to_string());
    store
        .insert_objection(
            &mut tx,
            &NewRow {
                id: &id,
                number: &number,
                token_sha256: &sha256_hex(token.as_bytes()),
                filed_by: accepted_by.map(|u| u.as_str()),
                applicant_name: filing.applicant_name.trim(),
                applicant_code: filing.applicant_code.trim(),
                phone: filing.phone.trim(),
                content: filing.content.trim(),
                record_table: &located.table,
                record_id,
                subject_id: &located.subject_id,
                source_unit: &located.source_unit,
                status,
                filed_at: &at,
                accepted_at: accepted_by.map(|_| at.as_str()),
                accepted_by: accepted_by.map(|u| u.as_str()),
                due_on: due_on.as_deref(),
                due_provisional: deadline.as_ref().is_some_and(|d| d.provisional),
            },
        )
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor: accepted_by.map_or("public", |u| u.as_str()),
            action: "objection.filed",
            subject: &id,
            detail: serde_json::json!({
                "number": number,
                "record_id": record_id,
                "table": located.table,
                "source_unit": located.source_unit,
                "status": status,
                "filed_as": match filer {
                    Filer::Public => "public",
                    Filer::Subject(_) => "subject",
                    Filer::Staff(_) => "staff",
                },
                "due_on": due_on,
                "due_provisional": deadline.as_ref().is_some_and(|d| d.provisional),
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Filed {
        id,
        number,
        token,
        status,
        source_unit: located.source_unit.clone(),
        due_on: deadline.as_ref().map(|d| d.day),
        due_provisional: deadline.is_some_and(|d| d.provisional),
    })
}

/// The provider accepts a received objection (受理) after checking its completeness
/// and accuracy (6.4.2): the record is marked and the objection dispatched to its
/// source unit (6.4.3), due 5 working days from today (6.4.4); audited. Refused while
/// another objection to the record is being handled.
pub async fn accept(
    store: &Store,
    calendars: &crate::calendar::Calendars,
    id: &str,
    by: &UserId,
    today: NaiveDate,
    request_id: &RequestId,
) -> Result<Objection, ObjectionError> {
    let mut tx = store.write().await?;
    let Some(stored) = store.objection_in(&mut tx, id).await? else {
        return Err(ObjectionError::NoRecord(id.to_owned()));
    };
    if stored.status != ObjectionStatus::Received {
        return Err(ObjectionError::NotReceived(stored.status));
    }
    if let Some(number) = store.open_objection_to(&mut tx, &stored.record_id).await? {
        return Err(ObjectionError::AlreadyOpen(number));
    }
    let deadline = calendars.current().deadline(today, DEADLINE_WORKING_DAYS);
    store
        .accept_objection(
            &mut tx,
            id,
            &now(),
            by.as_str(),
            &deadline.day.to_string(),
            deadline.provisional,
        )
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor: by,
            action: "objection.accepted",
            subject: id,
            detail: serde_json::json!({
                "number": stored.number,
                "record_id": stored.record_id,
                "source_unit": stored.source_unit,
                "due_on": deadline.day,
                "due_provisional": deadline.provisional,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    get(store, id)
        .await?
        .ok_or_else(|| ObjectionError::NoRecord(id.to_owned()))
}

/// The provider returns a received objection (退回) that its check found incomplete
/// or inaccurate, with the reason the applicant reads when following it; it never
/// marked anything. Audited.
pub async fn send_back(
    store: &Store,
    id: &str,
    reason: &str,
    by: &UserId,
    request_id: &RequestId,
) -> Result<Objection, ObjectionError> {
    let reason = reason.trim();
    if !(5..=500).contains(&reason.chars().count()) {
        return Err(ObjectionError::NoReason);
    }
    let mut tx = store.write().await?;
    match store.objection_status(&mut tx, id).await? {
        None => return Err(ObjectionError::NoRecord(id.to_owned())),
        Some(ObjectionStatus::Received) => {}
        Some(other) => return Err(ObjectionError::NotReceived(other)),
    }
    store
        .return_objection(&mut tx, id, reason, &now(), by.as_str())
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor: by,
            action: "objection.returned",
            subject: id,
            detail: serde_json::json!({ "reason": reason }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    get(store, id)
        .await?
        .ok_or_else(|| ObjectionError::NoRecord(id.to_owned()))
}

/// What objections have done or are doing to records, for every output path.
pub async fn objected(store: &Store) -> Result<::public::records::Objected, StoreError> {
    let mut out = ::public::records::Objected::default();
    for (record, status, resolution, at) in store.marks().await? {
        match status.as_str() {
            "open" => {
                out.open.insert(record);
            }
            "corrected" => {
                out.corrected.insert(record, resolution.unwrap_or_default());
            }
            _ => {
                let day = at
                    .as_deref()
                    .and_then(china_day)
                    .unwrap_or_else(china_today);
                out.withdrawn.insert(record, day);
            }
        }
    }
    Ok(out)
}

/// What objections do to records, and the subjects with one under objection, as every
/// public output path needs them.
#[derive(Debug, Default)]
pub struct Marked {
    /// By record.
    pub records: ::public::records::Objected,
    /// Subjects with a record under objection (search results carry the mark too).
    pub subjects: HashSet<String>,
}

/// [`Marked`], cached between changes: read on every public request, changed only when
/// an objection is filed or resolved (through [`Marks::invalidate`]).
#[derive(Debug, Default)]
pub struct Marks {
    cached: std::sync::RwLock<Option<std::sync::Arc<Marked>>>,
    generation: std::sync::atomic::AtomicU64,
}

impl Marks {
    /// The current marks.
    pub async fn get(&self, store: &Store) -> Result<std::sync::Arc<Marked>, StoreError> {
        use std::sync::atomic::Ordering;
        if let Some(marked) = self
            .cached
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(marked);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let marked = std::sync::Arc::new(Marked {
            records: objected(store).await?,
            subjects: subjects_under_objection(store).await?,
        });
        // Kept only if nothing changed while it was read.
        let mut cached = self.cached.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) == generation {
            *cached = Some(marked.clone());
        }
        Ok(marked)
    }

    /// Drops the cache after a change (call once the change is committed).
    pub fn invalidate(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Subjects with a record under objection (search results carry the mark too).
pub async fn subjects_under_objection(store: &Store) -> Result<HashSet<String>, StoreError> {
    Ok(store
        .subjects_under_objection()
        .await?
        .into_iter()
        .collect())
}

/// An objection as its handlers and its applicant see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Objection {
    /// Id.
    pub id: String,
    /// Number.
    pub number: String,
    /// Applicant's name.
    pub applicant_name: String,
    /// Applicant's code (masked when it is an ID number).
    pub applicant_code: String,
    /// Phone, masked (administrators, who answer the applicant, see it whole).
    pub phone: String,
    /// The phone as given.
    #[serde(skip)]
    pub phone_as_given: String,
    /// What the applicant says.
    pub content: String,
    /// The record's table.
    pub record_table: String,
    /// The record.
    pub record_id: String,
    /// The record's subject.
    pub subject_id: String,
    /// Where it was dispatched.
    pub source_unit: String,
    /// Where its handling is.
    pub status: ObjectionStatus,
    /// When it was filed.
    pub filed_at: String,
    /// When the provider accepted it (受理), once it has.
    pub accepted_at: Option<String>,
    /// Deadline (5 working days from the acceptance), once accepted.
    pub due_on: Option<String>,
    /// The deadline runs into a year without calendar data: provisional, recounted
    /// when the year is added.
    pub due_provisional: bool,
    /// Open past its deadline (today in China is after `due_on`).
    pub overdue: bool,
    /// When it was resolved (or returned).
    pub resolved_at: Option<String>,
    /// What the source unit found, or why the provider returned it.
    pub resolution: Option<String>,
    /// Resolved by the deadline (resolved ones only).
    pub on_time: Option<bool>,
}

/// An objection as its readers see it, judged as of `today`.
fn objection(stored: Stored, today: NaiveDate) -> Objection {
    let code = stored.applicant_code;
    let code = if code.len() == 18 && policies::Uscc::check(&code).is_ok() {
        code
    } else {
        policies::masking::Mask::IdNumber.apply(&code)
    };
    let due = stored
        .due_on
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let resolved_day = stored.resolved_at.as_deref().and_then(china_day);
    Objection {
        id: stored.id,
        number: stored.number,
        applicant_name: stored.applicant_name,
        applicant_code: code,
        phone: policies::masking::Mask::Mobile.apply(&stored.phone),
        phone_as_given: stored.phone,
        content: stored.content,
        record_table: stored.record_table,
        record_id: stored.record_id,
        subject_id: stored.subject_id,
        source_unit: stored.source_unit,
        overdue: stored.status == ObjectionStatus::Open && due.is_some_and(|d| today > d),
        on_time: resolved_day.zip(due).map(|(r, d)| r <= d),
        status: stored.status,
        filed_at: stored.filed_at,
        accepted_at: stored.accepted_at,
        due_on: stored.due_on,
        due_provisional: stored.due_provisional,
        resolved_at: stored.resolved_at,
        resolution: stored.resolution,
    }
}

/// One objection by id.
pub async fn get(store: &Store, id: &str) -> Result<Option<Objection>, StoreError> {
    Ok(store
        .objection(id)
        .await?
        .map(|o| objection(o, china_today())))
}

/// The objection with this number, if `token` is its follow-up token.
pub async fn follow(
    store: &Store,
    number: &str,
    token: &str,
) -> Result<Option<Objection>, StoreError> {
    Ok(store
        .objection_by_number(number)
        .await?
        // Hashes are compared, so timing says nothing about the token itself.
        .filter(|o| o.token_sha256 == sha256_hex(token.as_bytes()))
        .map(|o| objection(o, china_today())))
}

/// The ledger (6.4.5): every objection, newest first, of one source unit or of all,
/// optionally only those in one status or only the overdue ones. A source unit's
/// queue (`source_unit` given) holds only objections the provider accepted: a received
/// or returned one was never dispatched.
pub async fn ledger(
    store: &Store,
    source_unit: Option<&str>,
    status: Option<&str>,
    overdue_only: bool,
) -> Result<Vec<Objection>, StoreError> {
    let today = china_today();
    Ok(store
        .objections(source_unit, status, source_unit.is_some())
        .await?
        .into_iter()
        .map(|o| objection(o, today))
        .filter(|o| !overdue_only || o.overdue)
        .collect())
}

/// How an objection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The record was wrong and is corrected: shown with the correction until the
    /// source's corrected record arrives.
    Corrected,
    /// The record should not be public: withdrawn from disclosure at once.
    Withdrawn,
    /// The record is right: the mark is lifted.
    Upheld,
}

impl Outcome {
    /// The state the objection ends in.
    fn status(self) -> ObjectionStatus {
        match self {
            Outcome::Corrected => ObjectionStatus::Corrected,
            Outcome::Withdrawn => ObjectionStatus::Withdrawn,
            Outcome::Upheld => ObjectionStatus::Upheld,
        }
    }

    fn as_str(self) -> &'static str {
        self.status().as_str()
    }
}

/// Resolves an open objection (the caller has been authorised for it); audited.
pub async fn resolve(
    store: &Store,
    id: &str,
    outcome: Outcome,
    resolution: &str,
    by: &str,
    request_id: &RequestId,
) -> Result<Objection, ObjectionError> {
    let mut tx = store.write().await?;
    match store.objection_status(&mut tx, id).await? {
        None => return Err(ObjectionError::NoRecord(id.to_owned())),
        Some(ObjectionStatus::Open) => {}
        Some(ObjectionStatus::Received) => return Err(ObjectionError::NotAccepted),
        Some(other) => return Err(ObjectionError::Resolved(other.to_string())),
    }
    store
        .resolve_objection(&mut tx, id, outcome.status(), resolution, &now(), by)
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor: by,
            action: "objection.resolved",
            subject: id,
            detail: serde_json::json!({ "outcome": outcome.as_str(), "resolution": resolution }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    get(store, id)
        .await?
        .ok_or_else(|| ObjectionError::NoRecord(id.to_owned()))
}

/// Objections filed and completed, for the quality view (7.4: 100 % completed).
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Completion {
    /// Filed in all.
    pub filed: u64,
    /// Waiting for the provider's check (received, not yet accepted or returned).
    pub awaiting_acceptance: u64,
    /// Returned by the provider's check (退回).
    pub returned: u64,
    /// Resolved by their source unit.
    pub resolved: u64,
    /// Resolved by their deadline.
    pub on_time: u64,
    /// Open past their deadline.
    pub overdue: u64,
    /// Open with a provisional deadline (a year without calendar data).
    pub provisional: u64,
}

/// The completion figures over every objection.
pub async fn completion(store: &Store) -> Result<Completion, StoreError> {
    let all = ledger(store, None, None, false).await?;
    let count = |status: ObjectionStatus| all.iter().filter(|o| o.status == status).count() as u64;
    Ok(Completion {
        filed: all.len() as u64,
        awaiting_acceptance: count(ObjectionStatus::Received),
        returned: count(ObjectionStatus::Returned),
        resolved: count(ObjectionStatus::Corrected)
            + count(ObjectionStatus::Withdrawn)
            + count(ObjectionStatus::Upheld),
        on_time: all.iter().filter(|o| o.on_time == Some(true)).count() as u64,
        overdue: all.iter().filter(|o| o.overdue).count() as u64,
        provisional: all
            .iter()
            .filter(|o| o.status == ObjectionStatus::Open && o.due_provisional)
            .count() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filing(code: &str) -> Filing {
        Filing {
            applicant_name: "张三".into(),
            applicant_code: code.into(),
            phone: "13812345678".into(),
            content: "该记录的金额有误，请核实更正。".into(),
            record_id: "PEN0000000001".into(),
        }
    }

    #[test]
    fn every_field_at_fault_is_said_in_english_and_in_chinese() {
        // Issue 18: the API says the English, a page the Chinese, of one rule.
        let chinese = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        let empty = Filing {
            applicant_name: String::new(),
            applicant_code: String::new(),
            phone: String::new(),
            content: String::new(),
            record_id: String::new(),
        };
        let wrong = Filing {
            applicant_name: "名".repeat(101),
            applicant_code: "11010519491231002".into(),
            phone: "123".into(),
            content: "字".repeat(MAX_CONTENT_CHARS + 1),
            record_id: "PEN1".into(),
        };
        for filing in [empty, wrong] {
            let Err(ObjectionError::Incomplete(faults)) = check(&filing) else {
                panic!("refused");
            };
            assert_eq!(
                faults.len(),
                if filing.record_id.is_empty() { 5 } else { 4 }
            );
            for (field, said) in &faults {
                assert!(
                    said.en.starts_with(|c: char| c.is_ascii_alphabetic()),
                    "{field}: {}",
                    said.en
                );
                assert!(chinese(&said.zh), "{field}: {}", said.zh);
            }
        }
        assert!(chinese(&ObjectionError::AlreadyOpen("YY1".into()).zh()));
    }

    #[test]
    fn an_id_number_is_a_person_and_a_uscc_an_organisation() {
        // Q8: a person files with their citizen ID number, which also has the shape of
        // a USCC; read as one, no person could ever be matched to their record.
        assert_eq!(
            check(&filing("11010519491231002X")).expect("complete"),
            Applicant::Person("11010519491231002X".into())
        );
        assert_eq!(
            check(&filing("11010519491231002x")).expect("complete"),
            Applicant::Person("11010519491231002X".into())
        );
        assert_eq!(
            check(&filing("91110000600037341L")).expect("complete"),
            Applicant::Organisation("91110000600037341L".into())
        );
        // Neither: named, with the ID number's reason. (An 18-character code whose ID
        // check fails but that has a USCC's shape is taken as a USCC: early pilot codes
        // fail their checksums, and the registers then say whether it is the subject.)
        match check(&filing("1101051949123100")) {
            Err(ObjectionError::Incomplete(faults)) => {
                assert_eq!(faults.len(), 1);
                assert_eq!(faults[0].0, "applicant_code");
            }
            other => panic!("{other:?}"),
        }
    }
}
