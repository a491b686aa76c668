//! The outcome of the entry criteria of BRIEF P2 (附件1) as attached to an application
//! for its reviewers. The checks themselves read the platform's public-credit data and
//! live above this crate (`platform::criteria::check`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One criterion's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// Stable id: `established_one_year`, `credit_evaluation_good`,
    /// `officers_not_dishonest`, `credit_reporting_licence`.
    pub id: String,
    /// The criterion as 附件1 states it.
    pub title_zh: String,
    /// `passed`, `failed`, or for the licence `declared` / `not_declared`.
    pub outcome: String,
    /// What was found, in a sentence.
    pub finding: String,
    /// The records the check used.
    pub evidence: serde_json::Value,
}

/// Every criterion, as attached to an application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CriteriaReport {
    /// The code checked.
    pub uscc: String,
    /// The day the checks were made against.
    pub checked_on: NaiveDate,
    /// Whether every required criterion passed (the licence is preferred, not required).
    pub all_required_passed: bool,
    /// The checks, in the order of 附件1.
    pub criteria: Vec<Criterion>,
}
