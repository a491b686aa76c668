//! The entry criteria of BRIEF P2 (附件1), checked automatically from the platform's own
//! public-credit data when an application is submitted, and attached to it for the
//! reviewers. Each check says what it looked at: the records, their ids and dates.

use chrono::{Datelike, Months, NaiveDate};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use serde_json::json;

use governance::form::{ApplicationForm, QualificationKind};

/// The public evaluation whose grade P2 names (公共信用综合评价).
pub const PUBLIC_EVALUATION: &str = "公共信用综合评价";
/// Grades that meet "good or above" (良好以上).
pub const GOOD_GRADES: [&str; 2] = ["优", "良"];
/// Offices whose holders must not be on the serious-dishonesty list.
pub const CHECKED_OFFICES: [&str; 3] = ["legal_representative", "director", "supervisor"];

pub use governance::criteria::{CriteriaReport, Criterion};

/// Why the checks could not be made (the data, not the applicant, is at fault).
#[derive(Debug, thiserror::Error)]
#[error("checking the entry criteria: {0}")]
pub struct CriteriaError(String);

impl From<datafusion::error::DataFusionError> for CriteriaError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        CriteriaError(e.to_string())
    }
}

impl From<catalog::CatalogError> for CriteriaError {
    fn from(e: catalog::CatalogError) -> Self {
        CriteriaError(e.to_string())
    }
}

/// Checks every criterion for the application's USCC on `today`.
pub async fn check(
    catalog: &catalog::Catalog,
    form: &ApplicationForm,
    today: NaiveDate,
) -> Result<CriteriaReport, CriteriaError> {
    let uscc = policies::Uscc::canonical(form.uscc.as_deref().unwrap_or_default());
    let ctx = SessionContext::new();
    catalog
        .register(
            &ctx,
            &[
                "enterprises",
                "credit_evaluations",
                "officers",
                "dishonesty_list",
            ],
        )
        .await?;
    let registration = query(
        &ctx,
        "SELECT subject_id, uscc, name, establishment_date, registration_status, record_id \
         FROM enterprises WHERE uscc = $1 AND status = 'active'",
        &uscc,
    )
    .await?;
    let mut criteria = Vec::new();
    let Some(enterprise) = registration.first() else {
        let finding = format!(
            "no active registration with unified social credit code {uscc} in the enterprise register (法人和非法人组织登记信息)"
        );
        let evidence = json!({ "table": "enterprises", "uscc": uscc, "records": [] });
        for (id, title) in TITLES.iter().take(3) {
            criteria.push(Criterion {
                id: (*id).into(),
                title_zh: (*title).into(),
                outcome: "failed".into(),
                finding: finding.clone(),
                evidence: evidence.clone(),
            });
        }
        criteria.push(licence(form));
        return Ok(report(uscc, today, criteria));
    };
    let subject = enterprise["subject_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // 机构成立 1 年及以上.
    let established = enterprise["establishment_date"]
        .as_str()
        .and_then(|d| d.parse::<NaiveDate>().ok());
    let old_enough = established.is_some_and(|d| established_one_year(d, today));
    criteria.push(Criterion {
        id: TITLES[0].0.into(),
        title_zh: TITLES[0].1.into(),
        outcome: outcome(old_enough),
        finding: match established {
            Some(d) => format!(
                "established on {d}, {} full year(s) before {today}",
                full_years(d, today)
            ),
            None => "the register gives no establishment date".into(),
        },
        evidence: json!({ "table": "enterprises", "records": [enterprise] }),
    });

    // 机构公共信用评价良好以上等级: the newest public evaluation still valid.
    let evaluations = query(
        &ctx,
        "SELECT record_id, grade, score, decision_date, valid_until FROM credit_evaluations \
         WHERE subject_id = $1 AND status = 'active' \
           AND evaluation_system = '公共信用综合评价' \
         ORDER BY decision_date DESC",
        &subject,
    )
    .await?;
    let current = evaluations.iter().find(|e| {
        e["valid_until"]
            .as_str()
            .and_then(|d| d.parse::<NaiveDate>().ok())
            .is_some_and(|d| d >= today)
    });
    let good = current
        .and_then(|e| e["grade"].as_str())
        .is_some_and(|g| GOOD_GRADES.contains(&g));
    criteria.push(Criterion {
        id: TITLES[1].0.into(),
        title_zh: TITLES[1].1.into(),
        outcome: outcome(good),
        finding: match current {
            Some(e) => format!(
                "current {PUBLIC_EVALUATION} grade {} (decided {}, valid until {}); good or above means 优 or 良",
                e["grade"].as_str().unwrap_or("?"),
                e["decision_date"].as_str().unwrap_or("?"),
                e["valid_until"].as_str().unwrap_or("?"),
            ),
            None => format!("no {PUBLIC_EVALUATION} result valid on {today}"),
        },
        evidence: json!({ "table": "credit_evaluations", "records": evaluations }),
    });

    // 机构法定代表人、董事、监事未纳入黑名单记录.
    let officers = query(
        &ctx,
        "SELECT o.record_id, o.person_id, o.person_name, o.role, o.role_zh, \
                d.record_id AS listing_record_id, d.list_name, d.decision_date AS listed_on \
         FROM officers o LEFT JOIN dishonesty_list d \
           ON d.subject_id = o.person_id AND d.status = 'active' AND d.removed_date IS NULL \
         WHERE o.subject_id = $1 AND o.status = 'active' \
           AND o.role IN ('legal_representative', 'director', 'supervisor') \
         ORDER BY o.role, o.person_id",
        &subject,
    )
    .await?;
    let listed: Vec<&serde_json::Value> = officers
        .iter()
        .filter(|o| !o["listing_record_id"].is_null())
        .collect();
    let clean = !officers.is_empty() && listed.is_empty();
    criteria.push(Criterion {
        id: TITLES[2].0.into(),
        title_zh: TITLES[2].1.into(),
        outcome: outcome(clean),
        finding: if officers.is_empty() {
            "the register lists no legal representative, director or supervisor".into()
        } else if listed.is_empty() {
            format!(
                "none of the {} legal representative(s), director(s) and supervisor(s) is on the serious-dishonesty list",
                officers.len()
            )
        } else {
            format!(
                "on the serious-dishonesty list: {}",
                listed
                    .iter()
                    .map(|o| format!(
                        "{} ({}, {}, listed {})",
                        o["person_name"].as_str().unwrap_or("?"),
                        o["role_zh"].as_str().unwrap_or("?"),
                        o["list_name"].as_str().unwrap_or("?"),
                        o["listed_on"].as_str().unwrap_or("?"),
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
        evidence: json!({ "tables": ["officers", "dishonesty_list"], "records": officers }),
    });
    criteria.push(licence(form));
    Ok(report(uscc, today, criteria))
}

/// Whether an organisation established on `established` has existed for at least one
/// year on `today` (its first anniversary counts; one born on 29 February has its
/// anniversary on 1 March in other years).
pub fn established_one_year(established: NaiveDate, today: NaiveDate) -> bool {
    today
        .checked_sub_months(Months::new(12))
        .is_some_and(|year_ago| established <= year_ago)
}

const TITLES: [(&str, &str); 4] = [
    ("established_one_year", "机构成立1年及以上"),
    ("credit_evaluation_good", "机构公共信用评价良好以上等级"),
    (
        "officers_not_dishonest",
        "机构法定代表人、董事、监事未纳入黑名单记录",
    ),
    (
        "credit_reporting_licence",
        "具备个人或企业征信业务资格（优先）",
    ),
];

fn outcome(passed: bool) -> String {
    if passed { "passed" } else { "failed" }.into()
}

fn report(uscc: String, today: NaiveDate, criteria: Vec<Criterion>) -> CriteriaReport {
    CriteriaReport {
        uscc,
        checked_on: today,
        all_required_passed: criteria[..3].iter().all(|c| c.outcome == "passed"),
        criteria,
    }
}

/// The licence is declared by the applicant with evidence; the platform holds no
/// register of licences, so the check reports the declaration for the reviewers.
fn licence(form: &ApplicationForm) -> Criterion {
    let declared = form
        .qualifications
        .iter()
        .find(|q| q.kind == QualificationKind::CreditReportingLicence);
    Criterion {
        id: TITLES[3].0.into(),
        title_zh: TITLES[3].1.into(),
        outcome: if declared.is_some() {
            "declared"
        } else {
            "not_declared"
        }
        .into(),
        finding: match declared {
            Some(q) => format!(
                "declared by the applicant with {} evidence file(s); the reviewers judge the evidence",
                q.evidence.len()
            ),
            None => "not declared (preferred, not required)".into(),
        },
        evidence: json!({ "declared": declared }),
    }
}

fn full_years(from: NaiveDate, to: NaiveDate) -> i32 {
    let mut years = to.year() - from.year();
    if (to.month(), to.day()) < (from.month(), from.day()) {
        years -= 1;
    }
    years.max(0)
}

/// Runs `sql` with `$1` bound to `value` and returns the rows as JSON objects.
async fn query(
    ctx: &SessionContext,
    sql: &str,
    value: &str,
) -> Result<Vec<serde_json::Value>, CriteriaError> {
    let batches = ctx
        .sql(sql)
        .await?
        .with_param_values(vec![ScalarValue::Utf8(Some(value.to_owned()))])?
        .collect()
        .await?;
    Ok(batches.iter().flat_map(workbench::cells::objects).collect())
}

/// Up to `limit` registered enterprises that pass every required criterion on `today`
/// (USCC and name): for the demo and for tests that need a real eligible applicant.
pub async fn eligible(
    catalog: &catalog::Catalog,
    today: NaiveDate,
    limit: usize,
) -> Result<Vec<(String, String)>, CriteriaError> {
    let ctx = SessionContext::new();
    catalog
        .register(&ctx, &["enterprises", "credit_evaluations"])
        .await?;
    let year_ago = today.checked_sub_months(Months::new(12)).unwrap_or(today);
    let batches = ctx
        .sql(&format!(
            "SELECT DISTINCT e.uscc, e.name FROM enterprises e JOIN credit_evaluations c \
             ON c.subject_id = e.subject_id \
             WHERE e.status = 'active' AND e.establishment_date <= DATE '{year_ago}' \
               AND c.status = 'active' AND c.evaluation_system = '{PUBLIC_EVALUATION}' \
               AND c.grade IN ('优', '良') AND c.valid_until >= DATE '{today}' \
             ORDER BY e.uscc LIMIT {}",
            limit * 10
        ))
        .await?
        .collect()
        .await?;
    let mut out = Vec::new();
    for row in batches.iter().flat_map(workbench::cells::objects) {
        let form = ApplicationForm {
            uscc: row["uscc"].as_str().map(str::to_owned),
            ..ApplicationForm::default()
        };
        if check(catalog, &form, today).await?.all_required_passed {
            out.push((
                row["uscc"].as_str().unwrap_or_default().to_owned(),
                row["name"].as_str().unwrap_or_default().to_owned(),
            ));
            if out.len() == limit {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn one_year_counts_from_the_first_anniversary() {
        // P2: 成立1年及以上.
        assert!(established_one_year(date("2025-11-22"), date("2026-11-22")));
        assert!(!established_one_year(
            date("2025-11-23"),
            date("2026-11-22")
        ));
        assert!(established_one_year(date("2000-01-01"), date("2026-11-22")));
        assert!(!established_one_year(
            date("2026-11-22"),
            date("2026-11-22")
        ));
        assert!(!established_one_year(
            date("2024-02-29"),
            date("2025-02-28")
        ));
        assert!(established_one_year(date("2024-02-29"), date("2025-03-01")));
    }

    #[test]
    fn full_years_are_counted_as_people_count_them() {
        assert_eq!(full_years(date("2010-10-21"), date("2026-11-22")), 16);
        assert_eq!(full_years(date("2010-11-23"), date("2026-11-22")), 15);
        assert_eq!(full_years(date("2026-12-01"), date("2026-11-22")), 0);
    }
}
