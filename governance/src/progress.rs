//! Progress reports (BRIEF P6) and re-evaluations (P7). An institution reports once per
//! period (three months by default, counted from the day its account opened) on its
//! progress, the data-security risks and the data-quality problems it found; a report is
//! due a grace period after its period ends, and administrators see the overdue ones.
//! A re-evaluation record is built from measured usage over a window, and an
//! administrator adds a conclusion.

use chrono::{Duration, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use storage::ids::{InstitutionId, RequestId, UserId};

use crate::db::progress::{NewEvaluation, NewReport, ProgressReports as _};
use storage::audit::{self, Event};
use storage::said::Said;
use storage::store::{Store, StoreError, new_id, now};

/// How reporting is scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSchedule {
    /// Length of a period, in months.
    pub period_months: u32,
    /// Days after a period's end by which its report is due.
    pub grace_days: i64,
}

impl Default for ReportSchedule {
    fn default() -> Self {
        ReportSchedule {
            period_months: 3,
            grace_days: 15,
        }
    }
}

/// One reporting period and where its report stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Period {
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// Last day to report on time.
    pub due_on: NaiveDate,
    /// `in_progress` (not ended), `due` (ended, not yet overdue), `overdue`, `submitted`
    /// or `submitted_late`.
    pub status: String,
    /// The report, if there is one.
    pub report_id: Option<String>,
}

/// The periods that have begun by `today`, for an account opened on `opened`.
pub fn periods(
    opened: NaiveDate,
    today: NaiveDate,
    schedule: ReportSchedule,
) -> Vec<(NaiveDate, NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let months = schedule.period_months.max(1);
    for k in 0.. {
        let Some(start) = opened.checked_add_months(Months::new(months * k)) else {
            break;
        };
        if start > today {
            break;
        }
        let Some(next) = opened.checked_add_months(Months::new(months * (k + 1))) else {
            break;
        };
        let end = next - Duration::days(1);
        out.push((start, end, end + Duration::days(schedule.grace_days)));
    }
    out
}

/// A progress report.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProgressReport {
    /// Id.
    pub id: String,
    /// The institution.
    pub institution_id: String,
    /// The period's first day.
    pub period_start: NaiveDate,
    /// The period's last day.
    pub period_end: NaiveDate,
    /// 工作进展.
    pub progress: String,
    /// 数据安全风险.
    pub security_risks: String,
    /// 数据质量问题.
    pub quality_problems: String,
    /// Who.
    pub submitted_by: String,
    /// When.
    pub submitted_at: String,
}

/// The content of a report.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportContent {
    /// The first day of the period reported on (a period start of the schedule).
    pub period_start: NaiveDate,
    /// 工作进展.
    pub progress: String,
    /// 数据安全风险 found ("none" is an answer).
    pub security_risks: String,
    /// 数据质量问题 found ("none" is an answer).
    pub quality_problems: String,
}

/// Why a report operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A field is not acceptable.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: Said,
    },
    /// Already reported.
    #[error("{0}")]
    Duplicate(Said),
    /// No such institution or account.
    #[error("no such institution")]
    NotFound,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &str, message: Said) -> ReportError {
    ReportError::Invalid {
        field: field.into(),
        message,
    }
}

impl ReportError {
    /// The field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            ReportError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            ReportError::Invalid { message, .. } | ReportError::Duplicate(message) => {
                message.zh.clone()
            }
            ReportError::NotFound => "没有这个机构。".into(),
            ReportError::Store(_) => "服务暂时不可用，请稍后再试。".into(),
        }
    }
}

/// The day an institution's account opened.
pub async fn opened_on(
    store: &Store,
    institution_id: &InstitutionId,
) -> Result<NaiveDate, ReportError> {
    let at = store
        .workspace_opened_at(institution_id)
        .await?
        .ok_or(ReportError::NotFound)?;
    Ok(at.with_timezone(&storage::store::beijing()).date_naive())
}

/// Records a report for one period of the schedule.
pub async fn submit(
    store: &Store,
    institution_id: &InstitutionId,
    content: &ReportContent,
    schedule: ReportSchedule,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<ProgressReport, ReportError> {
    let today = storage::store::china_today();
    let opened = opened_on(store, institution_id).await?;
    let Some((start, end, _)) = periods(opened, today, schedule)
        .into_iter()
        .find(|(s, _, _)| *s == content.period_start)
    else {
        let starts: Vec<String> = periods(opened, today, schedule)
            .iter()
            .map(|(s, _, _)| s.to_string())
            .collect();
        return Err(invalid(
            "period_start",
            Said::new(
                format!(
                    "{} is not the start of a reporting period that has begun; periods begin on {}",
                    content.period_start,
                    starts.join(", ")
                ),
                format!(
                    "{} 不是已开始的报告期的起始日；报告期起始于 {}。",
                    content.period_start,
                    starts.join("、")
                ),
            ),
        ));
    };
    for (field, label_zh, text) in [
        ("progress", "进展情况", &content.progress),
        ("security_risks", "数据安全风险", &content.security_risks),
        (
            "quality_problems",
            "数据质量问题",
            &content.quality_problems,
        ),
    ] {
        let n = text.trim().chars().count();
        if n == 0 {
            return Err(invalid(
                field,
                Said::new(
                    format!("{field} is required (write \"none\" if there is nothing to report)"),
                    format!("请填写{label_zh}（没有的写“无”）。"),
                ),
            ));
        }
        if n > crate::form::MAX_TEXT_CHARS {
            return Err(invalid(
                field,
                Said::new(
                    format!("longer than {} characters", crate::form::MAX_TEXT_CHARS),
                    format!("{label_zh}不能超过 {} 个字。", crate::form::MAX_TEXT_CHARS),
                ),
            ));
        }
    }
    let id = new_id();
    let at = now();
    let mut tx = store.write().await?;
    let exists = store
        .report_for_period(&mut tx, institution_id, start)
        .await?;
    if let Some(existing) = exists {
        return Err(ReportError::Duplicate(Said::new(
            format!("the period beginning {start} is already reported (report {existing})"),
            format!("起始于 {start} 的报告期已提交过报告（{existing}）。"),
        )));
    }
    store
        .insert_report(
            &mut tx,
            &NewReport {
                id: &id,
                institution_id,
                period_start: start,
                period_end: end,
                progress: content.progress.trim(),
                security_risks: content.security_risks.trim(),
                quality_problems: content.quality_problems.trim(),
                submitted_by: actor,
                submitted_at: &at,
            },
        )
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "progress_report.submitted",
            subject: &id,
            detail: serde_json::json!({
                "institution_id": institution_id,
                "period_start": start,
                "period_end": end,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ProgressReport {
        id,
        institution_id: institution_id.into(),
        period_start: start,
        period_end: end,
        progress: content.progress.trim().into(),
        security_risks: content.security_risks.trim().into(),
        quality_problems: content.quality_problems.trim().into(),
        submitted_by: actor.into(),
        submitted_at: at,
    })
}

/// An institution's reports, oldest period first.
pub async fn list(
    store: &Store,
    institution_id: &InstitutionId,
) -> Result<Vec<ProgressReport>, ReportError> {
    Ok(store.reports(institution_id).await?)
}

/// The schedule of an institution with each period's status on `today`.
pub async fn schedule(
    store: &Store,
    institution_id: &InstitutionId,
    today: NaiveDate,
    schedule: ReportSchedule,
) -> Result<Vec<Period>, ReportError> {
    let opened = opened_on(store, institution_id).await?;
    let reports = list(store, institution_id).await?;
    Ok(periods(opened, today, schedule)
        .into_iter()
        .map(|(start, end, due_on)| {
            let report = reports.iter().find(|r| r.period_start == start);
            let status = match report {
                Some(r) => {
                    let on = storage::store::china_day(&r.submitted_at).unwrap_or(today);
                    if on <= due_on {
                        "submitted"
                    } else {
                        "submitted_late"
                    }
                }
                None if today <= end => "in_progress",
                None if today <= due_on => "due",
                None => "overdue",
            };
            Period {
                start,
                end,
                due_on,
                status: status.into(),
                report_id: report.map(|r| r.id.clone()),
            }
        })
        .collect())
}

/// One overdue report.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Overdue {
    /// The institution.
    pub institution_id: InstitutionId,
    /// Its name.
    pub institution_name: String,
    /// The period.
    pub period_start: NaiveDate,
    /// The period.
    pub period_end: NaiveDate,
    /// When it was due.
    pub due_on: NaiveDate,
    /// Days past due.
    pub days_overdue: i64,
}

/// Every overdue report of institutions not terminated, most overdue first.
pub async fn overdue(
    store: &Store,
    today: NaiveDate,
    rules: ReportSchedule,
) -> Result<Vec<Overdue>, ReportError> {
    let institutions = store.reporting_institutions().await?;
    let mut out = Vec::new();
    for (id, name) in institutions {
        for p in schedule(store, &id, today, rules).await? {
            if p.status == "overdue" {
                out.push(Overdue {
                    institution_id: id.clone(),
                    institution_name: name.clone(),
                    period_start: p.start,
                    period_end: p.end,
                    due_on: p.due_on,
                    days_overdue: (today - p.due_on).num_days(),
                });
            }
        }
    }
    out.sort_by(|a, b| {
        b.days_overdue
            .cmp(&a.days_overdue)
            .then(a.institution_id.cmp(&b.institution_id))
    });
    Ok(out)
}

/// Institutions' requests and refusals per China day (BRIEF P7), counted in memory and
/// written in one transaction every few seconds and before anything reads them, so that
/// a request costs no write of its own. At most the last few seconds of counts are lost
/// if the process dies.
#[derive(Debug, Default)]
pub struct Usage {
    counts: std::sync::Mutex<std::collections::HashMap<(InstitutionId, NaiveDate), (i64, i64)>>,
    /// Held from taking the counts to committing them: a flush that returns has written
    /// everything counted before it began, whoever else was flushing.
    writing: tokio::sync::Mutex<()>,
}

impl Usage {
    /// Counts a request of `institution_id` today, refused or not.
    pub fn count(&self, institution_id: &InstitutionId, refused: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let entry = counts
            .entry((institution_id.clone(), storage::store::china_today()))
            .or_default();
        if refused {
            entry.1 += 1;
        } else {
            entry.0 += 1;
        }
    }

    /// Writes what was counted; kept for the next flush if the write fails. The write
    /// runs as a task of its own, so a caller that goes away cannot cancel it half-way
    /// and lose the counts it took.
    pub async fn flush(self: &std::sync::Arc<Self>, store: &Store) -> Result<(), StoreError> {
        let (usage, store) = (self.clone(), store.clone());
        tokio::spawn(async move { usage.write(&store).await })
            .await
            .unwrap_or_else(|e| Err(crate::db::progress::unfinished(e)))
    }

    async fn write(&self, store: &Store) -> Result<(), StoreError> {
        let _writing = self.writing.lock().await;
        let counts = std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()));
        if counts.is_empty() {
            return Ok(());
        }
        let written = async {
            let mut tx = store.write().await?;
            for ((institution_id, day), (requests, refusals)) in &counts {
                store
                    .add_usage(&mut tx, institution_id, *day, *requests, *refusals)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        }
        .await;
        if written.is_err() {
            let mut now = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            for (key, (requests, refusals)) in counts {
                let entry = now.entry(key).or_default();
                entry.0 += requests;
                entry.1 += refusals;
            }
        }
        written
    }
}

/// What was measured of an institution over a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Measures {
    /// API requests made.
    pub requests: i64,
    /// Requests refused by the access rules (security events).
    pub security_events: i64,
    /// Jobs submitted.
    pub jobs: i64,
    /// Of which failed.
    pub jobs_failed: i64,
    /// CPU seconds of model batches.
    pub cpu_seconds: f64,
    /// Rows released through the output gate.
    pub rows_released: i64,
    /// Reports due in the window and submitted on time.
    pub reports_on_time: i64,
    /// Reports due in the window and submitted late.
    pub reports_late: i64,
    /// Reports due in the window and still missing.
    pub reports_missing: i64,
}

/// A re-evaluation record.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Evaluation {
    /// Id.
    pub id: String,
    /// The institution.
    pub institution_id: String,
    /// First day of the window.
    pub period_start: NaiveDate,
    /// Last day of the window.
    pub period_end: NaiveDate,
    /// What was measured.
    pub measures: Measures,
    /// `good`, `adequate` or `poor`.
    pub conclusion: String,
    /// The administrator's note.
    pub note: String,
    /// Who.
    pub evaluated_by: String,
    /// Their name.
    pub evaluator: String,
    /// When.
    pub evaluated_at: String,
}

/// Measures an institution over `[start, end]` (whole days in China).
pub async fn measure(
    store: &Store,
    institution_id: &InstitutionId,
    start: NaiveDate,
    end: NaiveDate,
    rules: ReportSchedule,
) -> Result<Measures, ReportError> {
    // Days are China's: usage is counted by China's day; times are stored in UTC.
    let (starts, ends) = (
        storage::store::china_day_starts(start),
        storage::store::china_day_starts(end + Duration::days(1)),
    );
    let (requests, refusals) = store.usage_between(institution_id, start, end).await?;
    let (jobs, jobs_failed, cpu_ms) = store.jobs_between(institution_id, &starts, &ends).await?;
    let released = store
        .rows_released_between(institution_id, &starts, &ends)
        .await?;
    let today = storage::store::china_today();
    let periods = schedule(store, institution_id, today.min(end), rules).await?;
    let due: Vec<&Period> = periods
        .iter()
        .filter(|p| p.due_on >= start && p.due_on <= end)
        .collect();
    let count = |s: &str| due.iter().filter(|p| p.status == s).count() as i64;
    Ok(Measures {
        requests,
        security_events: refusals,
        jobs,
        jobs_failed,
        cpu_seconds: cpu_ms as f64 / 1000.0,
        rows_released: released,
        reports_on_time: count("submitted"),
        reports_late: count("submitted_late"),
        reports_missing: count("overdue") + count("due"),
    })
}

/// Records a re-evaluation over `[start, end]` with measures taken now.
#[allow(clippy::too_many_arguments)]
pub async fn evaluate(
    store: &Store,
    institution_id: &InstitutionId,
    start: NaiveDate,
    end: NaiveDate,
    conclusion: &str,
    note: &str,
    rules: ReportSchedule,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<Evaluation, ReportError> {
    if end < start {
        return Err(invalid(
            "period_end",
            Said::new(
                "the window ends before it starts",
                "评估期间的结束日早于开始日。",
            ),
        ));
    }
    if end > storage::store::china_today() {
        return Err(invalid(
            "period_end",
            Said::new(
                "the window may not end in the future",
                "评估期间不能结束在今天之后。",
            ),
        ));
    }
    if !["good", "adequate", "poor"].contains(&conclusion) {
        return Err(invalid(
            "conclusion",
            Said::new(
                "one of good, adequate, poor",
                "请选择评估结论：良好、合格或较差。",
            ),
        ));
    }
    if note.trim().chars().count() < 5 {
        return Err(invalid(
            "note",
            Said::new(
                "explain the conclusion (at least 5 characters)",
                "请说明评估结论的依据（至少 5 个字）。",
            ),
        ));
    }
    let measures = measure(store, institution_id, start, end, rules).await?;
    let id = new_id();
    let at = now();
    let mut tx = store.write().await?;
    store
        .insert_evaluation(
            &mut tx,
            &NewEvaluation {
                id: &id,
                institution_id,
                period_start: start,
                period_end: end,
                measures: &measures,
                conclusion,
                note: note.trim(),
                evaluated_by: actor,
                evaluated_at: &at,
            },
        )
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "institution.evaluated",
            subject: institution_id,
            detail: serde_json::json!({
                "evaluation_id": id,
                "period_start": start,
                "period_end": end,
                "measures": measures,
                "conclusion": conclusion,
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    store
        .evaluations(institution_id)
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or(ReportError::NotFound)
}

/// An institution's re-evaluations, oldest first.
pub async fn evaluations(
    store: &Store,
    institution_id: &InstitutionId,
) -> Result<Vec<Evaluation>, ReportError> {
    Ok(store.evaluations(institution_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::progress::fixtures;

    #[tokio::test]
    async fn usage_is_counted_in_memory_and_written_in_one_go() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = storage::store::Store::open(&dir.path().join("creditpool.db"))
            .await
            .expect("database");
        fixtures::execute(
            &store,
            "INSERT INTO institutions (id, name, uscc, status, created_at) \
             VALUES ('inst-1', '浙江示例征信有限公司', '91330100MA2B3C4D5E', 'active', '2026-11-01T00:00:00Z')",
        )
        .await
        .expect("institution");
        let usage = std::sync::Arc::new(Usage::default());
        let read = || async {
            fixtures::day_counts(
                &store,
                "SELECT day, requests, refusals FROM usage_daily WHERE institution_id = 'inst-1'",
            )
            .await
            .expect("read")
        };
        usage.count(&"inst-1".into(), false);
        usage.count(&"inst-1".into(), false);
        usage.count(&"inst-1".into(), true);
        // An institution the database does not know is dropped, not a failed write.
        usage.count(&"no-such-institution".into(), false);
        assert!(read().await.is_empty(), "nothing is written before a flush");
        usage.flush(&store).await.expect("flush");
        let today = storage::store::china_today().to_string();
        assert_eq!(read().await, [(today.clone(), 2, 1)]);
        usage.flush(&store).await.expect("nothing to flush");
        usage.count(&"inst-1".into(), false);
        usage.flush(&store).await.expect("flush");
        assert_eq!(read().await, [(today.clone(), 3, 1)]);
        // A failed write keeps its counts for the next flush.
        let alter = |sql: &'static str| {
            let store = &store;
            async move {
                fixtures::execute(store, sql).await.expect("alter");
            }
        };
        usage.count(&"inst-1".into(), false);
        usage.count(&"inst-1".into(), true);
        alter("ALTER TABLE usage_daily RENAME TO usage_daily_away").await;
        assert!(usage.flush(&store).await.is_err());
        alter("ALTER TABLE usage_daily_away RENAME TO usage_daily").await;
        usage.count(&"inst-1".into(), false);
        usage.flush(&store).await.expect("flush");
        assert_eq!(read().await, [(today, 5, 2)]);
    }
}
