//! Special and sector queries (BRIEF Q4, standard 6.2): who is on the red list, the
//! serious-dishonesty (black) list or the abnormal-operation list, which organisations
//! hold which qualification certificates, and the enterprises of a sector (by GB/T 4754
//! industry code) with their list status. Enterprises and organisations only: natural
//! persons are never listed publicly.
//!
//! Loaded once into memory (these tables are small beside the register); what is shown
//! is decided on the day of the query by the same disclosure rules as everywhere.

use std::collections::HashMap;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use policies::disclosure::{self, Category, Disclosure, Record, Rules};
use serde::Serialize;

use crate::records::{date, text};
use crate::search::{Index, normalise};

/// The lists a special query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum List {
    /// 守信激励对象名单.
    RedList,
    /// 严重失信主体名单.
    BlackList,
    /// 经营（活动）异常名录.
    AbnormalOperations,
}

impl List {
    /// The list named in a query path.
    pub fn parse(name: &str) -> Option<List> {
        match name {
            "red_list" => Some(List::RedList),
            "black_list" => Some(List::BlackList),
            "abnormal_operations" => Some(List::AbnormalOperations),
            _ => None,
        }
    }

    fn table(self) -> &'static str {
        match self {
            List::RedList => "red_list",
            List::BlackList => "dishonesty_list",
            List::AbnormalOperations => "abnormal_operations",
        }
    }

    fn category(self) -> Category {
        match self {
            List::RedList => Category::RedList,
            List::BlackList => Category::BlackList,
            List::AbnormalOperations => Category::OtherNegative,
        }
    }
}

/// One listing of an enterprise.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = SpecialListing)]
pub struct Listing {
    /// The record.
    pub record_id: String,
    /// The enterprise.
    #[serde(skip)]
    pub subject_id: String,
    /// Listed on.
    pub listed_on: NaiveDate,
    /// Removed on, if removed.
    pub removed_on: Option<NaiveDate>,
    /// Why.
    pub reason: String,
    /// By whom.
    pub source_unit: String,
    #[serde(skip)]
    withdrawn_on: Option<NaiveDate>,
}

/// One qualification certificate of an organisation.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = QualificationCertificate)]
pub struct Qualification {
    /// The record.
    pub record_id: String,
    /// The organisation.
    #[serde(skip)]
    pub subject_id: String,
    /// Its name.
    pub qualification_name: String,
    /// Its level.
    pub level: Option<String>,
    /// Certificate number.
    pub certificate_number: String,
    /// Issued on.
    pub issued_on: NaiveDate,
    /// Valid until.
    pub valid_until: Option<NaiveDate>,
    #[serde(skip)]
    withdrawn_on: Option<NaiveDate>,
}

/// Named sectors of the public sector query, with their industry code prefixes.
pub const SECTORS: [(&str, &str, &str); 4] = [
    ("housekeeping", "O801", "家庭服务（家政）"),
    ("elderly_care", "Q8514", "老年人、残疾人养护服务（养老）"),
    ("property_management", "K702", "物业管理"),
    ("education_training", "P83", "教育培训"),
];

/// The lists and qualifications, loaded.
#[derive(Debug, Default)]
pub struct Special {
    lists: HashMap<List, Vec<Listing>>,
    qualifications: Vec<Qualification>,
}

fn withdrawn(batch: &RecordBatch, row: usize, decided: NaiveDate) -> Option<NaiveDate> {
    (text(batch, "status", row).as_deref() == Some("withdrawn"))
        .then(|| date(batch, "withdrawn_date", row).unwrap_or(decided))
}

impl Special {
    /// The lists and the organisations' qualifications, from the records already in
    /// memory.
    pub fn load(records: &crate::records::Records) -> Special {
        let mut special = Special::default();
        // The rows of an enterprise in `table`, with their decision dates.
        let rows = |table: &str| -> Option<(&RecordBatch, Vec<(usize, NaiveDate)>)> {
            let b = records.batch(table)?;
            let rows = (0..b.num_rows())
                .filter(|r| text(b, "subject_type", *r).as_deref() == Some("enterprise"))
                .filter_map(|r| Some((r, date(b, "decision_date", r)?)))
                .collect();
            Some((b, rows))
        };
        for list in [List::RedList, List::BlackList, List::AbnormalOperations] {
            let Some((b, rows)) = rows(list.table()) else {
                continue;
            };
            let mut listings: Vec<Listing> = rows
                .into_iter()
                .map(|(row, listed_on)| Listing {
                    record_id: text(b, "record_id", row).unwrap_or_default(),
                    subject_id: text(b, "subject_id", row).unwrap_or_default(),
                    listed_on,
                    removed_on: date(b, "removed_date", row),
                    reason: text(b, "reason", row).unwrap_or_default(),
                    source_unit: text(b, "source_unit", row).unwrap_or_default(),
                    withdrawn_on: withdrawn(b, row, listed_on),
                })
                .collect();
            listings.sort_by_key(|l| std::cmp::Reverse(l.listed_on));
            special.lists.insert(list, listings);
        }
        if let Some((b, rows)) = rows("qualifications") {
            special.qualifications = rows
                .into_iter()
                .map(|(row, issued_on)| Qualification {
                    record_id: text(b, "record_id", row).unwrap_or_default(),
                    subject_id: text(b, "subject_id", row).unwrap_or_default(),
                    qualification_name: text(b, "qualification_name", row).unwrap_or_default(),
                    level: text(b, "level", row),
                    certificate_number: text(b, "certificate_number", row).unwrap_or_default(),
                    issued_on,
                    valid_until: date(b, "valid_until", row),
                    withdrawn_on: withdrawn(b, row, issued_on),
                })
                .collect();
            special
                .qualifications
                .sort_by_key(|q| std::cmp::Reverse(q.issued_on));
        }
        special
    }

    /// The listings of `list` shown on `today`, newest first.
    pub fn listed(&self, list: List, today: NaiveDate, rules: &Rules) -> Vec<&Listing> {
        self.lists
            .get(&list)
            .into_iter()
            .flatten()
            .filter(|l| {
                let record = Record {
                    category: list.category(),
                    severity: None,
                    decision_date: l.listed_on,
                    withdrawn_on: l.withdrawn_on,
                    removed_on: l.removed_on,
                    under_objection: false,
                };
                matches!(
                    disclosure::decide(&record, &[], today, rules),
                    Disclosure::Shown { .. }
                ) && l.removed_on.is_none_or(|r| r > today)
            })
            .collect()
    }

    /// The lists `subject_id` is on, today.
    pub fn lists_of(&self, subject_id: &str, today: NaiveDate, rules: &Rules) -> Vec<List> {
        [List::RedList, List::BlackList, List::AbnormalOperations]
            .into_iter()
            .filter(|list| {
                self.listed(*list, today, rules)
                    .iter()
                    .any(|l| l.subject_id == subject_id)
            })
            .collect()
    }

    /// Qualification certificates of organisations valid on `today` whose name contains
    /// `name` (normalised), newest first.
    pub fn qualified(&self, name: &str, today: NaiveDate) -> Vec<&Qualification> {
        let wanted = normalise(name);
        self.qualifications
            .iter()
            .filter(|q| q.withdrawn_on.is_none_or(|w| w > today))
            .filter(|q| q.issued_on <= today && q.valid_until.is_none_or(|v| v >= today))
            .filter(|q| wanted.is_empty() || normalise(&q.qualification_name).contains(&wanted))
            .collect()
    }
}

/// Enterprises whose industry code starts with `prefix`, optionally only those whose
/// region contains `region`.
pub fn sector<'a>(
    index: &'a Index,
    prefix: &str,
    region: Option<&str>,
) -> Vec<&'a crate::search::Entry> {
    index
        .entries()
        .iter()
        .filter(|e| e.industry_code.starts_with(prefix))
        .filter(|e| region.is_none_or(|r| e.region_name.contains(r)))
        .collect()
}
