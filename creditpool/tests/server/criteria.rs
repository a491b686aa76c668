//! BRIEF P2 against the sample data: each entry criterion fails when the data says so,
//! and shows the records that made it fail.

use chrono::NaiveDate;
use datafusion::arrow::array::AsArray;
use datafusion::prelude::SessionContext;
use governance::form::ApplicationForm;
use platform::criteria::{self, CriteriaReport};

use crate::helpers::sample_data;

fn today() -> NaiveDate {
    platform::store::china_today()
}

/// The first USCC a query over the sample data returns.
async fn uscc_where(sql: &str) -> String {
    let catalog = catalog::Catalog::open(sample_data()).expect("catalog");
    let ctx = SessionContext::new();
    catalog.register_all(&ctx).await.expect("register");
    let batches = ctx
        .sql(sql)
        .await
        .expect("sql")
        .collect()
        .await
        .expect("rows");
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .expect("a matching enterprise");
    batch.column(0).as_string_view_opt().map_or_else(
        || batch.column(0).as_string::<i32>().value(0).to_owned(),
        |c| c.value(0).to_owned(),
    )
}

async fn check(uscc: &str) -> CriteriaReport {
    let catalog = catalog::Catalog::open(sample_data()).expect("catalog");
    let form = ApplicationForm {
        uscc: Some(uscc.into()),
        ..ApplicationForm::default()
    };
    criteria::check(&catalog, &form, today())
        .await
        .expect("checks run")
}

fn outcome<'a>(report: &'a CriteriaReport, id: &str) -> &'a criteria::Criterion {
    report
        .criteria
        .iter()
        .find(|c| c.id == id)
        .expect("criterion")
}

#[tokio::test]
async fn an_officer_on_the_serious_dishonesty_list_fails_the_check_by_name() {
    let uscc = uscc_where(
        "SELECT e.uscc FROM enterprises e JOIN officers o ON o.subject_id = e.subject_id \
         JOIN dishonesty_list d ON d.subject_id = o.person_id \
         WHERE e.status = 'active' AND o.status = 'active' AND d.status = 'active' \
           AND d.removed_date IS NULL \
           AND o.role IN ('legal_representative', 'director', 'supervisor') \
         ORDER BY e.uscc LIMIT 1",
    )
    .await;
    let report = check(&uscc).await;
    let officers = outcome(&report, "officers_not_dishonest");
    assert_eq!(officers.outcome, "failed", "{officers:?}");
    assert!(
        officers.finding.contains("on the serious-dishonesty list"),
        "{officers:?}"
    );
    let listed = officers.evidence["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| !r["listing_record_id"].is_null())
        .count();
    assert!(listed >= 1, "{officers:?}");
    assert!(!report.all_required_passed);
}

#[tokio::test]
async fn a_public_evaluation_below_good_fails_the_check() {
    let uscc = uscc_where(&format!(
        "SELECT e.uscc FROM enterprises e JOIN credit_evaluations c ON c.subject_id = e.subject_id \
         WHERE e.status = 'active' AND c.status = 'active' \
           AND c.evaluation_system = '公共信用综合评价' AND c.grade IN ('中', '差') \
           AND c.valid_until >= DATE '{today}' \
           AND NOT EXISTS (SELECT 1 FROM credit_evaluations g WHERE g.subject_id = e.subject_id \
                AND g.evaluation_system = '公共信用综合评价' AND g.decision_date > c.decision_date) \
         ORDER BY e.uscc LIMIT 1",
        today = today()
    ))
    .await;
    let report = check(&uscc).await;
    let evaluation = outcome(&report, "credit_evaluation_good");
    assert_eq!(evaluation.outcome, "failed", "{evaluation:?}");
    assert!(
        evaluation.finding.contains("grade 中") || evaluation.finding.contains("grade 差"),
        "{evaluation:?}"
    );
    assert!(!report.all_required_passed);
}

#[tokio::test]
async fn an_organisation_younger_than_a_year_fails_the_check() {
    let year_ago = today()
        .checked_sub_months(chrono::Months::new(12))
        .expect("date");
    let uscc = uscc_where(&format!(
        "SELECT uscc FROM enterprises WHERE status = 'active' \
           AND establishment_date > DATE '{year_ago}' ORDER BY uscc LIMIT 1"
    ))
    .await;
    let report = check(&uscc).await;
    let established = outcome(&report, "established_one_year");
    assert_eq!(established.outcome, "failed", "{established:?}");
    assert!(
        established.finding.contains("0 full year"),
        "{established:?}"
    );
}
