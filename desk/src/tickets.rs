//! Consultations and complaints (BRIEF Q9, Q11; standard 6.5, 8): filed through the
//! platform (or recorded by staff from a telephone call or a letter), answered within 5
//! working days, extendable with a reason to at most 20 in all, rated by the requester.

use chrono::NaiveDate;
use serde::Serialize;
use storage::ids::{RequestId, UserId};
use storage::said::Said;
use storage::states::TicketStatus;

use storage::audit::{self, Event};
use storage::store::{Store, StoreError, Tx, new_id, now, random_bytes, sha256_hex};

use crate::db::tickets::{NewRow, Tickets as _};
use storage::store::{china_day, china_today};

/// Working days a ticket is answered in.
pub const DEADLINE_WORKING_DAYS: i64 = 5;
/// Working days a ticket may take at most, extensions included (6.5.4).
pub const MAX_WORKING_DAYS: i64 = 20;

/// Why a ticket could not be filed or changed.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// A field at fault.
    #[error("{1}")]
    Invalid(&'static str, Said),
    /// No such ticket (or not with that token).
    #[error("no such ticket")]
    NotFound,
    /// The ticket is not in a state for this.
    #[error("{0}")]
    Conflict(Said),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TicketError {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            TicketError::Invalid(_, said) | TicketError::Conflict(said) => said.zh.clone(),
            TicketError::NotFound => "没有与这个编号和查询码相符的咨询投诉。".into(),
            TicketError::Store(_) => "服务暂时不可用，请稍后再试。".into(),
        }
    }
}

/// A ticket as filed.
#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    /// `consultation` or `complaint`.
    pub kind: String,
    /// `information_query` (信用信息查询), `credit_evaluation` (信用评价),
    /// `wrong_association` (信用信息关联错误) or `other`.
    pub category: String,
    /// `platform` (the default), or, when staff record it, `telephone` or `letter`.
    #[serde(default)]
    pub channel: Option<String>,
    /// Who asks.
    pub name: String,
    /// How to reach them (telephone or e-mail).
    pub contact: String,
    /// The question or complaint.
    pub content: String,
}

const KINDS: [&str; 2] = ["consultation", "complaint"];
const CATEGORIES: [&str; 4] = [
    "information_query",
    "credit_evaluation",
    "wrong_association",
    "other",
];

/// Checks a filing; `staff` may record telephone and letter channels.
pub fn check(ticket: &NewTicket, staff: bool) -> Result<&'static str, TicketError> {
    if !KINDS.contains(&ticket.kind.as_str()) {
        return Err(TicketError::Invalid(
            "kind",
            Said::new(
                "kind is consultation (咨询) or complaint (投诉)",
                "请选择类型：咨询或投诉。",
            ),
        ));
    }
    if !CATEGORIES.contains(&ticket.category.as_str()) {
        return Err(TicketError::Invalid(
            "category",
            Said::new(
                "category is information_query (信用信息查询), credit_evaluation (信用评价), wrong_association (信用信息关联错误) or other",
                "请选择事项：信用信息查询、信用评价、信用信息关联错误或其他。",
            ),
        ));
    }
    let channel = match ticket.channel.as_deref() {
        None | Some("platform") => "platform",
        Some("telephone") if staff => "telephone",
        Some("letter") if staff => "letter",
        Some(_) => {
            return Err(TicketError::Invalid(
                "channel",
                Said::new(
                    "the platform channel is the only one for online filing; staff record telephone and letter",
                    "网上只能通过平台提交；电话和信件由工作人员登记。",
                ),
            ));
        }
    };
    let name = ticket.name.trim().chars().count();
    if name == 0 || name > 100 {
        return Err(TicketError::Invalid(
            "name",
            Said::new(
                "give a name of 1 to 100 characters",
                "请填写姓名或单位名称，1 到 100 个字。",
            ),
        ));
    }
    let contact = ticket.contact.trim();
    let looks_like_mail = contact.contains('@') && contact.len() <= 200 && !contact.contains(' ');
    if !looks_like_mail && crate::objections::check_phone(contact).is_err() {
        return Err(TicketError::Invalid(
            "contact",
            Said::new(
                "give a telephone number (11-digit mobile or fixed line with area code) or an e-mail address",
                "请填写联系电话（11 位手机号码或带区号的固定电话）或电子邮箱。",
            ),
        ));
    }
    let content = ticket.content.trim().chars().count();
    if !(5..=2000).contains(&content) {
        return Err(TicketError::Invalid(
            "content",
            Said::new(
                "say what it is about, in 5 to 2000 characters",
                "请写明咨询或投诉的内容，5 到 2000 个字。",
            ),
        ));
    }
    Ok(channel)
}

/// A ticket just filed; the token is shown once.
#[derive(Clone, Debug, Serialize)]
pub struct Filed {
    /// Id.
    pub id: String,
    /// Number quoted in every contact.
    pub number: String,
    /// Secret to follow and rate it.
    pub token: String,
    /// Answer due by.
    pub due_on: NaiveDate,
    /// The deadline runs into a year without calendar data: provisional, recounted
    /// when the year is added.
    pub due_provisional: bool,
}

/// Files a checked ticket; audited.
pub async fn file(
    store: &Store,
    calendars: &crate::calendar::Calendars,
    ticket: &NewTicket,
    channel: &str,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Filed, TicketError> {
    let today = china_today();
    let id = new_id();
    let token = format!("cpt_{}", storage::store::hex(&random_bytes::<16>()));
    let number = format!(
        "ZX{}{:04}",
        today.format("%Y%m%d"),
        u32::from_be_bytes(random_bytes::<4>()) % 10_000
    );
    let mut tx = store.write().await?;
    // Read while the writing connection is held (see `calendar`).
    let deadline = calendars
        .current()
        .deadline(today, DEADLINE_WORKING_DAYS as u32);
    let due_on = deadline.day;
    store
        .insert_ticket(
            &mut tx,
            &NewRow {
                id: &id,
                number: &number,
                token_sha256: &sha256_hex(token.as_bytes()),
                kind: &ticket.kind,
                category: &ticket.category,
                channel,
                name: ticket.name.trim(),
                contact: ticket.contact.trim(),
                content: ticket.content.trim(),
                filed_at: &now(),
                due_on: &due_on.to_string(),
                due_provisional: deadline.provisional,
            },
        )
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "ticket.filed",
            subject: &id,
            detail: serde_json::json!({ "number": number, "kind": ticket.kind, "category": ticket.category, "channel": channel, "due_on": due_on, "due_provisional": deadline.provisional }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Filed {
        id,
        number,
        token,
        due_on,
        due_provisional: deadline.provisional,
    })
}

/// A ticket as its handlers and its requester see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Ticket {
    /// Id.
    pub id: String,
    /// Number.
    pub number: String,
    /// consultation or complaint.
    pub kind: String,
    /// Category.
    pub category: String,
    /// Channel.
    pub channel: String,
    /// Who asked.
    pub name: String,
    /// Contact, masked unless for staff.
    pub contact: String,
    /// The question.
    pub content: String,
    /// Answered yet or not.
    pub status: TicketStatus,
    /// Filed at.
    pub filed_at: String,
    /// Due by.
    pub due_on: String,
    /// The deadline runs into a year without calendar data: provisional, recounted
    /// when the year is added.
    pub due_provisional: bool,
    /// Working days allowed in all.
    pub allowed_days: i64,
    /// Why it was extended.
    pub extension_reason: Option<String>,
    /// The answer.
    pub answer: Option<String>,
    /// Answered at.
    pub answered_at: Option<String>,
    /// Open past its deadline.
    pub overdue: bool,
    /// Answered by the deadline.
    pub on_time: Option<bool>,
    /// The requester's rating, 1–5.
    pub rating: Option<i64>,
    /// The requester's comment.
    pub rating_comment: Option<String>,
}

impl Ticket {
    /// With whether it is overdue and whether it was answered on time, as of today.
    pub(crate) fn judged(mut self) -> Ticket {
        let due = NaiveDate::parse_from_str(&self.due_on, "%Y-%m-%d").ok();
        let answered_day = self.answered_at.as_deref().and_then(china_day);
        self.overdue = self.status == TicketStatus::Open && due.is_some_and(|d| china_today() > d);
        self.on_time = answered_day.zip(due).map(|(a, d)| a <= d);
        self
    }
}

/// One ticket by id.
pub async fn get(store: &Store, id: &str) -> Result<Option<Ticket>, StoreError> {
    store.ticket(id).await
}

/// The ticket with this number, if `token` is its token.
pub async fn follow(
    store: &Store,
    number: &str,
    token: &str,
) -> Result<Option<Ticket>, StoreError> {
    Ok(store
        .ticket_by_number(number)
        .await?
        .filter(|(_, token_sha256)| *token_sha256 == sha256_hex(token.as_bytes()))
        .map(|(ticket, _)| ticket))
}

/// Every ticket, newest first, optionally of one status or only the overdue.
pub async fn list(
    store: &Store,
    status: Option<&str>,
    overdue_only: bool,
) -> Result<Vec<Ticket>, StoreError> {
    let mut tickets = store.tickets(status).await?;
    tickets.retain(|t| !overdue_only || t.overdue);
    Ok(tickets)
}

/// Audits a change of ticket `id` made in `tx` as `(action, detail)` by
/// `(actor, request_id)` and commits it; `changed` is whether the ticket was in a state
/// for it.
async fn finish(
    store: &Store,
    mut tx: Tx,
    changed: bool,
    id: &str,
    (action, detail): (&str, serde_json::Value),
    (actor, request_id): (&str, &str),
) -> Result<Ticket, TicketError> {
    if !changed {
        return Err(TicketError::NotFound);
    }
    audit::append(
        &mut tx,
        Event {
            actor,
            action,
            subject: id,
            detail,
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    get(store, id).await?.ok_or(TicketError::NotFound)
}

/// Extends an open ticket by `days` working days with a reason; at most 20 in all.
pub async fn extend(
    store: &Store,
    calendars: &crate::calendar::Calendars,
    id: &str,
    days: i64,
    reason: &str,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Ticket, TicketError> {
    let current = get(store, id).await?.ok_or(TicketError::NotFound)?;
    if current.status != TicketStatus::Open {
        return Err(TicketError::Conflict(Said::new(
            "an answered ticket is not extended",
            "已答复的事项不能延期。",
        )));
    }
    let allowed = current.allowed_days.saturating_add(days);
    if days < 1 || allowed > MAX_WORKING_DAYS {
        return Err(TicketError::Invalid(
            "days",
            Said::new(
                format!(
                    "a ticket takes at most {MAX_WORKING_DAYS} working days in all; this one has {} already, so it may be extended by 1 to {} more",
                    current.allowed_days,
                    MAX_WORKING_DAYS - current.allowed_days
                ),
                format!(
                    "办理期限合计最多 {MAX_WORKING_DAYS} 个工作日；这件已有 {} 个，可再延长 1 到 {} 个。",
                    current.allowed_days,
                    MAX_WORKING_DAYS - current.allowed_days
                ),
            ),
        ));
    }
    if reason.trim().chars().count() < 4 {
        return Err(TicketError::Invalid(
            "reason",
            Said::new(
                "an extension needs its reason (why the case is complex), at least 4 characters",
                "延期须说明理由（案情为何复杂），至少 4 个字。",
            ),
        ));
    }
    let filed = china_day(&current.filed_at).unwrap_or_else(china_today);
    // An addition racing this one is caught by the next refresh's recount.
    let due = calendars.current().deadline(filed, allowed as u32);
    let reason = match &current.extension_reason {
        Some(before) => format!("{before}；{}", reason.trim()),
        None => reason.trim().to_owned(),
    };
    let mut tx = store.write().await?;
    let changed = store
        .extend_ticket(
            &mut tx,
            id,
            allowed,
            &due.day.to_string(),
            due.provisional,
            &reason,
        )
        .await?;
    finish(
        store,
        tx,
        changed,
        id,
        ("ticket.extended", serde_json::json!({ "allowed_days": allowed, "due_on": due.day, "due_provisional": due.provisional, "reason": reason })),
        (actor, request_id),
    )
    .await
}

/// Answers an open ticket.
pub async fn answer(
    store: &Store,
    id: &str,
    text: &str,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Ticket, TicketError> {
    let text = text.trim();
    if !(2..=4000).contains(&text.chars().count()) {
        return Err(TicketError::Invalid(
            "answer",
            Said::new(
                "an answer has 2 to 4000 characters",
                "答复为 2 到 4000 个字。",
            ),
        ));
    }
    match get(store, id).await?.map(|t| t.status) {
        None => return Err(TicketError::NotFound),
        Some(s) if s != TicketStatus::Open => {
            return Err(TicketError::Conflict(Said::new(
                "this ticket is already answered",
                "这件事项已经答复。",
            )));
        }
        _ => {}
    }
    let mut tx = store.write().await?;
    let changed = store
        .answer_ticket(&mut tx, id, text, &now(), actor)
        .await?;
    finish(
        store,
        tx,
        changed,
        id,
        ("ticket.answered", serde_json::json!({})),
        (actor, request_id),
    )
    .await
}

/// The requester rates the handling of an answered ticket, once (Q11).
pub async fn rate(
    store: &Store,
    ticket: &Ticket,
    rating: i64,
    comment: &str,
    request_id: &RequestId,
) -> Result<Ticket, TicketError> {
    if !(1..=5).contains(&rating) {
        return Err(TicketError::Invalid(
            "rating",
            Said::new(
                "rate from 1 (very unsatisfied) to 5 (very satisfied)",
                "请评 1（很不满意）到 5（很满意）分。",
            ),
        ));
    }
    if comment.chars().count() > 500 {
        return Err(TicketError::Invalid(
            "comment",
            Said::new("at most 500 characters", "最多 500 个字。"),
        ));
    }
    if ticket.status != TicketStatus::Answered {
        return Err(TicketError::Conflict(Said::new(
            "a ticket is rated once it is answered",
            "答复后才能评价。",
        )));
    }
    if ticket.rating.is_some() {
        return Err(TicketError::Conflict(Said::new(
            "this ticket is already rated",
            "这件事项已经评价过了。",
        )));
    }
    let mut tx = store.write().await?;
    let changed = store
        .rate_ticket(&mut tx, &ticket.id, rating, comment.trim(), &now())
        .await?;
    finish(
        store,
        tx,
        changed,
        &ticket.id,
        ("ticket.rated", serde_json::json!({ "rating": rating })),
        ("public", request_id),
    )
    .await
}

/// Figures of the quality view (Q10, Q11).
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
#[schema(as = TicketFigures)]
pub struct Figures {
    /// Tickets filed.
    pub filed: u64,
    /// Complaints among them.
    pub complaints: u64,
    /// Answered.
    pub answered: u64,
    /// Answered by their deadline.
    pub on_time: u64,
    /// Open past their deadline.
    pub overdue: u64,
    /// Open with a provisional deadline (a year without calendar data).
    pub provisional: u64,
    /// Ratings given.
    pub rated: u64,
    /// Mean rating (1–5).
    pub mean_rating: Option<f64>,
}

/// The ticket figures.
pub async fn figures(store: &Store) -> Result<Figures, StoreError> {
    let all = list(store, None, false).await?;
    let ratings: Vec<i64> = all.iter().filter_map(|t| t.rating).collect();
    Ok(Figures {
        filed: all.len() as u64,
        complaints: all.iter().filter(|t| t.kind == "complaint").count() as u64,
        answered: all
            .iter()
            .filter(|t| t.status == TicketStatus::Answered)
            .count() as u64,
        on_time: all.iter().filter(|t| t.on_time == Some(true)).count() as u64,
        overdue: all.iter().filter(|t| t.overdue).count() as u64,
        provisional: all
            .iter()
            .filter(|t| t.status == TicketStatus::Open && t.due_provisional)
            .count() as u64,
        rated: ratings.len() as u64,
        mean_rating: (!ratings.is_empty())
            .then(|| ratings.iter().sum::<i64>() as f64 / ratings.len() as f64),
    })
}
