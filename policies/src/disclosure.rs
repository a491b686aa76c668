//! Whether a public-credit record is disclosed on a given day (BRIEF Q1, Q2; standard
//! 6.1.3–6.1.7), as a pure function of the record, its subject's serious-dishonesty
//! listings, the day and the province's rules.
//!
//! - Negative (不良) and positive (守信) information is disclosed for five years by
//!   default, configurable per category and severity (national rules set shorter maxima
//!   for penalties, e.g. one year general, three years serious).
//! - A period "of N years" is counted as the civil code counts periods (第二百零一、二百零二
//!   条): from the day after the decision, ending on the corresponding day N years later
//!   (the last day of that month when there is none, so 29 February ends on 28 February).
//!   The record is shown through that day and archived from the next.
//! - If the window of a negative record ends while its subject is still on the
//!   serious-dishonesty list, disclosure extends to the day the subject is removed.
//! - A serious-dishonesty (black) list record is shown while the subject is listed; a
//!   red list record while listed and within its window.
//! - Withdrawn records are gone from disclosure at once (the standard allows three
//!   working days); expired ones are archived and never shown; records under objection
//!   are shown marked "异议处理中".
//! - Basic information (registration, licences) has no window.

use chrono::{Months, NaiveDate};

/// The categories of 6.1.3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// Registration and other basic information.
    Basic,
    /// 行政许可 (双公示).
    Licence,
    /// 行政处罚 (双公示).
    Penalty,
    /// 守信激励名单 (red list).
    RedList,
    /// 严重失信名单 (black list).
    BlackList,
    /// 信用承诺.
    Commitment,
    /// Other negative information (abnormal operations, judgements, unkept commitments…).
    OtherNegative,
    /// Other positive information (honours, good evaluations…).
    OtherPositive,
}

impl Category {
    /// Whether the category is negative information, whose window the subject's
    /// serious-dishonesty listing extends.
    pub fn is_negative(self) -> bool {
        matches!(self, Category::Penalty | Category::OtherNegative)
    }
}

/// How serious a penalty is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// 一般.
    General,
    /// 情节严重.
    Serious,
}

/// One record, as far as disclosure is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its category.
    pub category: Category,
    /// For penalties: how serious.
    pub severity: Option<Severity>,
    /// The day of the decision or listing; windows run from it.
    pub decision_date: NaiveDate,
    /// The day the source unit withdrew it, if it did.
    pub withdrawn_on: Option<NaiveDate>,
    /// For red and black list records: the day the subject was removed from the list.
    pub removed_on: Option<NaiveDate>,
    /// Whether an objection against it is being handled.
    pub under_objection: bool,
}

/// One listing of the subject on the serious-dishonesty list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Listed on.
    pub listed_on: NaiveDate,
    /// Removed on, if removed.
    pub removed_on: Option<NaiveDate>,
}

/// The province's disclosure windows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Years for negative and positive information without a rule of its own (5).
    pub default_years: u32,
    /// Rules of their own: by category, and for penalties by severity (`None` applies to
    /// every severity of the category).
    pub overrides: Vec<(Category, Option<Severity>, u32)>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            default_years: 5,
            overrides: Vec::new(),
        }
    }
}

impl Rules {
    /// The national maxima for administrative penalties: one year for general, three for
    /// serious ones; five for everything else.
    pub fn national_penalty_maxima() -> Rules {
        Rules {
            default_years: 5,
            overrides: vec![
                (Category::Penalty, Some(Severity::General), 1),
                (Category::Penalty, Some(Severity::Serious), 3),
            ],
        }
    }

    /// The window in years for a record.
    pub fn years(&self, category: Category, severity: Option<Severity>) -> u32 {
        self.overrides
            .iter()
            .find(|(c, s, _)| *c == category && s.is_some() && *s == severity)
            .or_else(|| {
                self.overrides
                    .iter()
                    .find(|(c, s, _)| *c == category && s.is_none())
            })
            .map_or(self.default_years, |(_, _, years)| *years)
    }
}

/// What the public sees of a record on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disclosure {
    /// Shown; marked "异议处理中" while an objection is handled; `through` is its last
    /// day of disclosure as known today (`None`: open-ended).
    Shown {
        /// Mark it "异议处理中".
        under_objection: bool,
        /// Last day shown, if known.
        through: Option<NaiveDate>,
    },
    /// Its window has passed: archived, never shown.
    Archived {
        /// First day archived.
        since: NaiveDate,
    },
    /// Withdrawn by its source unit: not shown.
    Withdrawn,
    /// Decided after the day asked about: not shown yet.
    NotYet,
}

impl Disclosure {
    /// Whether the public sees it.
    pub fn is_shown(self) -> bool {
        matches!(self, Disclosure::Shown { .. })
    }
}

/// The mark of a record under objection (6.4.3).
pub const UNDER_OBJECTION: &str = "异议处理中";

/// The last day of a period of `years` years from `from` (civil code: counted from the
/// next day; ends on the corresponding day, or the month's last day if there is none).
pub fn last_day(from: NaiveDate, years: u32) -> Option<NaiveDate> {
    from.checked_add_months(Months::new(years.checked_mul(12)?))
}

/// Whether the subject is on the serious-dishonesty list on `day`, and if so until when
/// (`Some(None)`: still listed).
fn listed_on(listings: &[Listing], day: NaiveDate) -> Option<Option<NaiveDate>> {
    listings
        .iter()
        .filter(|l| l.listed_on <= day && l.removed_on.is_none_or(|r| r >= day))
        .map(|l| l.removed_on)
        .max_by_key(|r| r.unwrap_or(NaiveDate::MAX))
}

/// Decides the disclosure of `record` on `today`.
pub fn decide(
    record: &Record,
    listings: &[Listing],
    today: NaiveDate,
    rules: &Rules,
) -> Disclosure {
    if record.withdrawn_on.is_some_and(|d| d <= today) {
        return Disclosure::Withdrawn;
    }
    if record.decision_date > today {
        return Disclosure::NotYet;
    }
    let through: Option<NaiveDate> = match record.category {
        Category::Basic | Category::Licence => None,
        Category::BlackList => record.removed_on,
        category => {
            let years = rules.years(category, record.severity);
            let mut end = last_day(record.decision_date, years);
            if category == Category::RedList
                && let Some(removed) = record.removed_on
            {
                end = end.map(|e| e.min(removed));
            }
            // 6.1.4: a negative record whose window ends while the subject is on the
            // serious-dishonesty list is disclosed until the subject is removed.
            if category.is_negative()
                && let Some(e) = end
                && let Some(until) = listed_on(listings, e)
            {
                end = until.map(|u| u.max(e));
            }
            end
        }
    };
    match through {
        Some(last) if today > last => Disclosure::Archived {
            since: last.succ_opt().unwrap_or(last),
        },
        _ => Disclosure::Shown {
            under_objection: record.under_objection,
            through,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn record(category: Category, decided: &str) -> Record {
        Record {
            category,
            severity: None,
            decision_date: d(decided),
            withdrawn_on: None,
            removed_on: None,
            under_objection: false,
        }
    }

    fn shown(r: &Record, listings: &[Listing], day: &str, rules: &Rules) -> bool {
        decide(r, listings, d(day), rules).is_shown()
    }

    #[test]
    fn negative_and_positive_information_is_shown_five_years_to_the_day() {
        // Q2: decided 2021-03-10, shown through 2026-03-10, archived from 2026-03-11.
        let rules = Rules::default();
        for category in [
            Category::Penalty,
            Category::OtherNegative,
            Category::OtherPositive,
            Category::Commitment,
        ] {
            let r = record(category, "2021-03-10");
            assert!(shown(&r, &[], "2021-03-10", &rules), "{category:?}");
            assert!(shown(&r, &[], "2026-03-10", &rules), "{category:?}");
            assert_eq!(
                decide(&r, &[], d("2026-03-11"), &rules),
                Disclosure::Archived {
                    since: d("2026-03-11")
                },
                "{category:?}"
            );
        }
    }

    #[test]
    fn a_leap_day_period_ends_on_the_last_day_of_february() {
        let rules = Rules::default();
        let r = record(Category::Penalty, "2024-02-29");
        assert_eq!(last_day(d("2024-02-29"), 5), Some(d("2029-02-28")));
        assert!(shown(&r, &[], "2029-02-28", &rules));
        assert!(!shown(&r, &[], "2029-03-01", &rules));
        assert_eq!(last_day(d("2024-02-29"), 4), Some(d("2028-02-29")));
    }

    #[test]
    fn basic_information_and_licences_have_no_window() {
        let rules = Rules::default();
        for category in [Category::Basic, Category::Licence] {
            let r = record(category, "1995-01-01");
            assert_eq!(
                decide(&r, &[], d("2026-11-22"), &rules),
                Disclosure::Shown {
                    under_objection: false,
                    through: None
                }
            );
        }
    }

    #[test]
    fn the_black_list_is_shown_until_removal_day_and_archived_after() {
        let rules = Rules::default();
        let mut r = record(Category::BlackList, "2015-06-01");
        // Listed eleven years ago and never removed: still shown.
        assert!(shown(&r, &[], "2026-11-22", &rules));
        r.removed_on = Some(d("2026-11-20"));
        assert!(shown(&r, &[], "2026-11-20", &rules));
        assert_eq!(
            decide(&r, &[], d("2026-11-21"), &rules),
            Disclosure::Archived {
                since: d("2026-11-21")
            }
        );
    }

    #[test]
    fn a_negative_window_ending_while_listed_extends_to_the_removal_day() {
        // 6.1.4: 披露期限届满时尚未被移出严重失信名单的，披露期限延至被移出之日.
        let rules = Rules::default();
        let r = record(Category::Penalty, "2020-01-15");
        let still = [Listing {
            listed_on: d("2019-05-01"),
            removed_on: None,
        }];
        assert!(shown(&r, &still, "2026-11-22", &rules));
        let removed = [Listing {
            listed_on: d("2019-05-01"),
            removed_on: Some(d("2025-06-30")),
        }];
        assert!(shown(&r, &removed, "2025-06-30", &rules));
        assert_eq!(
            decide(&r, &removed, d("2025-07-01"), &rules),
            Disclosure::Archived {
                since: d("2025-07-01")
            }
        );
        // Removed before the window ended: the window stands.
        let early = [Listing {
            listed_on: d("2019-05-01"),
            removed_on: Some(d("2024-01-01")),
        }];
        assert!(shown(&r, &early, "2025-01-15", &rules));
        assert!(!shown(&r, &early, "2025-01-16", &rules));
        // Listed only after the window ended: no extension.
        let late = [Listing {
            listed_on: d("2025-02-01"),
            removed_on: None,
        }];
        assert!(!shown(&r, &late, "2025-01-16", &rules));
        // Positive information is never extended by a listing.
        let p = record(Category::OtherPositive, "2020-01-15");
        assert!(!shown(&p, &still, "2025-01-16", &rules));
    }

    #[test]
    fn red_list_records_end_at_removal_or_the_window() {
        let rules = Rules::default();
        let mut r = record(Category::RedList, "2022-04-01");
        assert!(shown(&r, &[], "2027-04-01", &rules));
        assert!(!shown(&r, &[], "2027-04-02", &rules));
        r.removed_on = Some(d("2023-01-10"));
        assert!(shown(&r, &[], "2023-01-10", &rules));
        assert!(!shown(&r, &[], "2023-01-11", &rules));
    }

    #[test]
    fn windows_are_configurable_per_category_and_severity() {
        let rules = Rules::national_penalty_maxima();
        let mut general = record(Category::Penalty, "2024-11-22");
        general.severity = Some(Severity::General);
        assert!(shown(&general, &[], "2025-11-22", &rules));
        assert!(!shown(&general, &[], "2025-11-23", &rules));
        let mut serious = general.clone();
        serious.severity = Some(Severity::Serious);
        assert!(shown(&serious, &[], "2027-11-22", &rules));
        assert!(!shown(&serious, &[], "2027-11-23", &rules));
        // Other categories keep the default; a category-wide override applies to every
        // severity unless a severity has its own.
        assert!(shown(
            &record(Category::OtherNegative, "2021-11-22"),
            &[],
            "2026-11-22",
            &rules
        ));
        let wide = Rules {
            default_years: 5,
            overrides: vec![
                (Category::Penalty, None, 2),
                (Category::Penalty, Some(Severity::Serious), 3),
            ],
        };
        assert_eq!(wide.years(Category::Penalty, Some(Severity::General)), 2);
        assert_eq!(wide.years(Category::Penalty, None), 2);
        assert_eq!(wide.years(Category::Penalty, Some(Severity::Serious)), 3);
        assert_eq!(wide.years(Category::Commitment, None), 5);
    }

    #[test]
    fn withdrawn_records_are_gone_at_once_and_future_ones_not_yet_shown() {
        let rules = Rules::default();
        let mut r = record(Category::Penalty, "2025-01-01");
        r.withdrawn_on = Some(d("2026-11-22"));
        assert!(shown(&r, &[], "2026-11-21", &rules));
        assert_eq!(
            decide(&r, &[], d("2026-11-22"), &rules),
            Disclosure::Withdrawn
        );
        // Withdrawal wins over a black-list extension and over an objection.
        r.under_objection = true;
        let listed = [Listing {
            listed_on: d("2024-01-01"),
            removed_on: None,
        }];
        assert_eq!(
            decide(&r, &listed, d("2030-01-01"), &rules),
            Disclosure::Withdrawn
        );
        let future = record(Category::Penalty, "2026-12-01");
        assert_eq!(
            decide(&future, &[], d("2026-11-22"), &rules),
            Disclosure::NotYet
        );
    }

    #[test]
    fn records_under_objection_are_shown_marked_and_expired_ones_stay_archived() {
        let rules = Rules::default();
        let mut r = record(Category::Penalty, "2023-05-05");
        r.under_objection = true;
        assert_eq!(
            decide(&r, &[], d("2026-11-22"), &rules),
            Disclosure::Shown {
                under_objection: true,
                through: Some(d("2028-05-05"))
            }
        );
        // An objection does not bring an archived record back.
        let mut old = record(Category::Penalty, "2015-05-05");
        old.under_objection = true;
        assert!(!shown(&old, &[], "2026-11-22", &rules));
        assert_eq!(UNDER_OBJECTION, "异议处理中");
    }
}
