//! What the generated data contains: references that resolve, the edge cases placed
//! on purpose, and real signal for models.

use samples::edge;

use crate::{count, session, strings};

#[tokio::test]
async fn every_record_points_at_an_existing_subject() {
    let ctx = session().await;
    for t in &catalog::Manifest::builtin().tables {
        if t.id == "enterprises" || t.id == "persons" {
            continue;
        }
        let orphans = count(
            &ctx,
            &format!(
                "SELECT COUNT(*) FROM {0} r WHERE NOT EXISTS (SELECT 1 FROM enterprises e WHERE e.subject_id = r.subject_id) \
                 AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.subject_id = r.subject_id)",
                t.id
            ),
        )
        .await;
        assert_eq!(orphans, 0, "{} has records of unknown subjects", t.id);
        let bad = count(
            &ctx,
            &format!(
                "SELECT COUNT(*) FROM {} WHERE info_class NOT IN ('basic','negative','positive','other') \
                 OR status NOT IN ('active','withdrawn') OR (status = 'withdrawn') <> (withdrawn_date IS NOT NULL) \
                 OR decision_date > DATE '2026-11-01' OR withdrawn_date < decision_date",
                t.id
            ),
        )
        .await;
        assert_eq!(bad, 0, "{} has malformed record columns", t.id);
    }
    let unique = count(
        &ctx,
        "SELECT COUNT(*) - COUNT(DISTINCT record_id) FROM admin_penalties",
    )
    .await;
    assert_eq!(unique, 0);
    let officers = count(&ctx, "SELECT COUNT(*) FROM officers o LEFT JOIN persons p ON o.person_id = p.subject_id WHERE p.subject_id IS NULL").await;
    assert_eq!(officers, 0, "officers refer to unknown persons");
}

/// Every public-credit table except the two registries, for "no records" checks.
const RECORD_TABLES: &[&str] = &[
    "officers",
    "admin_licences",
    "admin_penalties",
    "admin_actions",
    "honours",
    "red_list",
    "dishonesty_list",
    "abnormal_operations",
    "credit_commitments",
    "credit_evaluations",
    "judicial_records",
    "qualifications",
    "other_information",
];

#[tokio::test]
async fn the_fixed_edge_cases_are_present() {
    let ctx = session().await;
    for subject in [edge::NO_RECORDS, edge::PERSON_NO_RECORDS] {
        for t in RECORD_TABLES {
            let n = count(
                &ctx,
                &format!("SELECT COUNT(*) FROM {t} WHERE subject_id = '{subject}'"),
            )
            .await;
            assert_eq!(n, 0, "{subject} has records in {t}");
        }
    }
    let name = &strings(
        &ctx,
        &format!(
            "SELECT name FROM enterprises WHERE subject_id = '{}'",
            edge::FULL_WIDTH_BRACKETS
        ),
    )
    .await[0];
    assert!(name.contains('（') && name.contains('）'), "{name}");
    let name = &strings(
        &ctx,
        &format!(
            "SELECT name FROM enterprises WHERE subject_id = '{}'",
            edge::LONG_NAME
        ),
    )
    .await[0];
    assert!(name.chars().count() > 40, "{name}");

    // Five years before 2026-11-01, one day either side.
    let dates = strings(&ctx, &format!(
        "SELECT CAST(decision_date AS VARCHAR) AS d FROM admin_penalties WHERE subject_id = '{}' AND severity = 'serious' ORDER BY decision_date",
        edge::WINDOW_BOUNDARY
    )).await;
    assert_eq!(
        dates,
        [
            "2021-10-31",
            "2021-11-01",
            "2021-11-02",
            "2023-10-31",
            "2023-11-01",
            "2023-11-02"
        ]
    );
    let honours = strings(&ctx, &format!("SELECT CAST(decision_date AS VARCHAR) AS d FROM honours WHERE subject_id = '{}' ORDER BY 1", edge::WINDOW_BOUNDARY)).await;
    assert_eq!(honours, ["2021-10-31", "2021-11-01", "2021-11-02"]);

    let still = strings(&ctx, &format!(
        "SELECT CAST(decision_date AS VARCHAR) || '/' || COALESCE(CAST(removed_date AS VARCHAR), 'listed') FROM dishonesty_list WHERE subject_id IN ('{}', '{}') ORDER BY subject_id",
        edge::STILL_LISTED_AFTER_FIVE_YEARS, edge::PERSON_LISTED
    )).await;
    assert_eq!(still, ["2020-11-01/listed", "2020-11-01/listed"]);
    let removed = strings(
        &ctx,
        &format!(
            "SELECT CAST(removed_date AS VARCHAR) FROM dishonesty_list WHERE subject_id = '{}'",
            edge::REMOVED_FROM_LIST
        ),
    )
    .await;
    assert_eq!(removed, ["2022-11-01"]);

    let withdrawn = strings(&ctx, &format!(
        "SELECT status || '/' || COALESCE(CAST(withdrawn_date AS VARCHAR), '-') AS s FROM admin_penalties WHERE subject_id = '{}' ORDER BY decision_date",
        edge::WITHDRAWN_RECORD
    )).await;
    assert_eq!(withdrawn, ["withdrawn/2026-10-30", "active/-"]);

    let young = strings(
        &ctx,
        &format!(
            "SELECT CAST(establishment_date AS VARCHAR) FROM enterprises WHERE subject_id = '{}'",
            edge::YOUNG
        ),
    )
    .await;
    assert_eq!(young, ["2026-04-15"]);
    let officer = strings(&ctx, &format!("SELECT person_id FROM officers WHERE subject_id = '{}' AND role = 'legal_representative'", edge::BLACKLISTED_OFFICER)).await;
    assert_eq!(officer, [edge::PERSON_LISTED]);
    let grades = strings(&ctx, &format!(
        "SELECT grade FROM credit_evaluations WHERE evaluation_system = '公共信用综合评价' AND subject_id IN ('{}', '{}') ORDER BY subject_id",
        edge::POOR_EVALUATION, edge::MODEL_APPLICANT
    )).await;
    assert_eq!(grades, ["差", "优"]);
    let applicant_negatives = count(&ctx, &format!(
        "SELECT (SELECT COUNT(*) FROM admin_penalties WHERE subject_id = '{0}') + (SELECT COUNT(*) FROM dishonesty_list WHERE subject_id = '{0}') \
         + (SELECT COUNT(*) FROM abnormal_operations WHERE subject_id = '{0}') + (SELECT COUNT(*) FROM judicial_records WHERE subject_id = '{0}')",
        edge::MODEL_APPLICANT
    )).await;
    assert_eq!(applicant_negatives, 0);
    let licence = count(&ctx, &format!("SELECT COUNT(*) FROM admin_licences WHERE subject_id = '{}' AND licence_name LIKE '%征信%'", edge::MODEL_APPLICANT)).await;
    assert_eq!(licence, 1);
}

#[tokio::test]
async fn random_edge_cases_occur_too() {
    let ctx = session().await;
    let withdrawn = count(
        &ctx,
        "SELECT COUNT(*) FROM admin_licences WHERE status = 'withdrawn'",
    )
    .await;
    assert!(withdrawn > 0);
    let brackets = count(
        &ctx,
        "SELECT COUNT(*) FROM enterprises WHERE name LIKE '%（%）%'",
    )
    .await;
    assert!(brackets > 20, "{brackets}");
    // Subjects with no records in any table beyond registration.
    let union = RECORD_TABLES
        .iter()
        .map(|t| format!("SELECT subject_id FROM {t}"))
        .collect::<Vec<_>>()
        .join(" UNION ");
    let silent = count(
        &ctx,
        &format!("SELECT COUNT(*) FROM enterprises WHERE subject_id NOT IN ({union})"),
    )
    .await;
    assert!(silent >= 20, "{silent}");
    let names = count(&ctx, "SELECT COUNT(DISTINCT name) FROM enterprises").await;
    assert_eq!(names, 2000, "enterprise names are unique");
    // Every section of 附录A has records at this scale.
    for t in RECORD_TABLES {
        assert!(
            count(&ctx, &format!("SELECT COUNT(*) FROM {t}")).await > 0,
            "{t} is empty"
        );
    }
}

#[tokio::test]
async fn negative_records_predict_loan_default() {
    // The latent risk drives both public-credit events and the lender's defaults, so a
    // model finds signal: borrowers with negative records default more often.
    let ctx = session().await;
    let sql = "WITH negatives AS ( \
            SELECT subject_id, COUNT(*) AS n FROM ( \
              SELECT subject_id FROM admin_penalties UNION ALL SELECT subject_id FROM abnormal_operations \
              UNION ALL SELECT subject_id FROM judicial_records WHERE info_class = 'negative' \
              UNION ALL SELECT subject_id FROM dishonesty_list) GROUP BY subject_id) \
        SELECT CASE WHEN COALESCE(n.n, 0) > 0 THEN 'with' ELSE 'without' END AS grp, \
               CAST(AVG(CASE WHEN l.defaulted THEN 1.0 ELSE 0.0 END) * 1000 AS BIGINT) AS per_mille, COUNT(*) AS loans \
        FROM demo_loan_outcomes l JOIN enterprises e ON l.uscc = e.uscc \
        LEFT JOIN negatives n ON n.subject_id = e.subject_id GROUP BY 1 ORDER BY 1";
    let rows = strings(&ctx, &format!("SELECT grp || ':' || CAST(per_mille AS VARCHAR) || ':' || CAST(loans AS VARCHAR) FROM ({sql})")).await;
    let parse = |s: &str| -> (f64, i64) {
        let parts: Vec<&str> = s.split(':').collect();
        (
            parts[1].parse().expect("rate"),
            parts[2].parse().expect("loans"),
        )
    };
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (with, n_with) = parse(&rows[0]);
    let (without, n_without) = parse(&rows[1]);
    assert!(n_with > 50 && n_without > 50, "{rows:?}");
    assert!(
        with > 1.5 * without,
        "default rates with/without negative records: {rows:?}"
    );
}
