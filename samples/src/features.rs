//! The example scorecard's public-credit features, as an institution would compute them
//! in SQL over the catalog's tables. Shared by the tests and the benchmarks.

/// The catalog tables the features read.
pub const TABLES: [&str; 5] = [
    "enterprises",
    "admin_penalties",
    "abnormal_operations",
    "judicial_records",
    "dishonesty_list",
];

/// The `FROM` clause: every enterprise (alias `e`) with its counts of active penalties
/// in the last five years (`p.n`), current abnormal-operation listings (`a.n`),
/// unfulfilled judgements (`j.n`) and a current dishonesty listing (`d.n`), NULL where
/// there are none.
pub const FROM: &str = "FROM enterprises e \
    LEFT JOIN (SELECT subject_id, CAST(COUNT(*) AS DOUBLE) AS n FROM admin_penalties \
               WHERE status = 'active' AND decision_date > DATE '2021-11-01' GROUP BY subject_id) p ON p.subject_id = e.subject_id \
    LEFT JOIN (SELECT subject_id, CAST(COUNT(*) AS DOUBLE) AS n FROM abnormal_operations \
               WHERE removed_date IS NULL GROUP BY subject_id) a ON a.subject_id = e.subject_id \
    LEFT JOIN (SELECT subject_id, CAST(COUNT(*) AS DOUBLE) AS n FROM judicial_records \
               WHERE fulfilled = false GROUP BY subject_id) j ON j.subject_id = e.subject_id \
    LEFT JOIN (SELECT subject_id, 1.0 AS n FROM dishonesty_list WHERE removed_date IS NULL GROUP BY subject_id) d \
               ON d.subject_id = e.subject_id";

/// The scorecard's five arguments over [`FROM`], in the model's input order.
pub const ARGUMENTS: &str = "COALESCE(p.n, 0), COALESCE(a.n, 0), COALESCE(j.n, 0), COALESCE(d.n, 0), \
     CAST(2026 - date_part('year', e.establishment_date) AS DOUBLE)";

/// A query of one row per enterprise: `uscc` and the five features as float64 columns
/// `penalties_5y`, `abnormal_listings`, `judgements_unfulfilled`, `dishonesty_listed`,
/// `years_established`.
pub fn table_query() -> String {
    format!(
        "SELECT e.uscc, COALESCE(p.n, 0) AS penalties_5y, COALESCE(a.n, 0) AS abnormal_listings, \
         COALESCE(j.n, 0) AS judgements_unfulfilled, COALESCE(d.n, 0) AS dishonesty_listed, \
         CAST(2026 - date_part('year', e.establishment_date) AS DOUBLE) AS years_established {FROM}"
    )
}
