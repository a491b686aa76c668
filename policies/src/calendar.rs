//! Working days (BRIEF Q8, Q9): the calendar of statutory holidays and worked weekend
//! days, kept as data with its sources. The years shipped with the platform are in
//! `policies/data/working-days.toml`; administrators add later ones from the State
//! Council's notice without a rebuild ([`Calendar::with_year`]). Deadlines such as
//! "five working days" are counted on it: [`Calendar::is_working_day`] and
//! [`Calendar::add_working_days`] refuse a year without data, while
//! [`Calendar::deadline`] counts such a year's Monday-to-Friday days and says the
//! deadline is provisional, so that a filing is never refused for want of a notice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

/// The calendar shipped with the platform.
pub const BUILTIN: &str = include_str!("../data/working-days.toml");

/// Why a calendar question has no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// No data for the year.
    #[error(
        "the working-day calendar has no data for {0}: add that year's State Council holiday notice to policies/data/working-days.toml"
    )]
    NoData(i32),
    /// The calendar file, or a year's notice, is wrong: `field` of the notice
    /// (`year`, `source`, `holidays`, `working_weekends`, or `years` for the file).
    #[error("the working-day calendar is invalid: {message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong, naming the value.
        message: String,
        /// The same, in Chinese, for the pages.
        zh: String,
    },
    /// A year added that the calendar already has.
    #[error("the working-day calendar already has {0}; a year is added once")]
    AlreadyListed(i32),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    years: Vec<YearNotice>,
}

/// One year's arrangement as the State Council's notice gives it: the form of an entry
/// of the calendar file, of `creditpool calendar add` and of the API.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YearNotice {
    /// The year.
    pub year: i32,
    /// The notice: its title, number and date of publication.
    pub source: String,
    /// Days off: single days `YYYY-MM-DD` or inclusive ranges `YYYY-MM-DD..YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// Saturdays and Sundays worked instead (调休上班), `YYYY-MM-DD`.
    pub working_weekends: Vec<String>,
}

/// One year's holidays and worked weekend days, with the notice they come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Year {
    /// The notice.
    pub source: String,
    holidays: BTreeSet<NaiveDate>,
    working_weekends: BTreeSet<NaiveDate>,
}

impl Year {
    /// Its days off, in order.
    pub fn holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays.iter().copied()
    }

    /// Its worked weekend days, in order.
    pub fn working_weekends(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.working_weekends.iter().copied()
    }
}

/// A deadline counted in working days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// The last day.
    pub day: NaiveDate,
    /// Part of it was counted on Monday-to-Friday days because a year it crosses has no
    /// data yet: it is recounted when that year is added.
    pub provisional: bool,
}

/// Years a notice may be for: the platform's own era, with room to spare.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;
/// More days off than any notice has given (2020 had 30 with the epidemic extension).
const MAX_HOLIDAYS: usize = 45;
/// More worked weekend days than any notice has given (usually five or six).
const MAX_WORKING_WEEKENDS: usize = 15;

/// The working-day calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

fn invalid(field: &'static str, message: String, zh: String) -> CalendarError {
    CalendarError::Invalid { field, message, zh }
}

impl CalendarError {
    /// What a page shows, in Chinese (the API and the command line say the English).
    pub fn zh(&self) -> String {
        match self {
            CalendarError::NoData(year) => format!("工作日历尚无 {year} 年的数据。"),
            CalendarError::Invalid { zh, .. } => zh.clone(),
            CalendarError::AlreadyListed(year) => {
                format!("工作日历已有 {year} 年；每年只添加一次。")
            }
        }
    }
}

fn date(text: &str, field: &'static str) -> Result<NaiveDate, CalendarError> {
    text.trim().parse().map_err(|_| {
        invalid(
            field,
            format!("'{text}' is not a date (YYYY-MM-DD)"),
            format!("“{text}”不是日期（YYYY-MM-DD）。"),
        )
    })
}

fn weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Year {
    /// Checks a notice: dates in their year, ranges in order, worked days on weekends
    /// only and never also holidays, a source named.
    fn from_notice(notice: YearNotice) -> Result<Year, CalendarError> {
        let y = notice.year;
        if notice.source.trim().is_empty() {
            return Err(invalid(
                "source",
                format!("{y} has no source"),
                format!("请填写 {y} 年安排所依据的通知（标题、文号、发布日期）。"),
            ));
        }
        let mut holidays = BTreeSet::new();
        for item in &notice.holidays {
            let (first, last) = match item.split_once("..") {
                Some((a, b)) => (date(a, "holidays")?, date(b, "holidays")?),
                None => (date(item, "holidays")?, date(item, "holidays")?),
            };
            if last < first || first.year() != y || last.year() != y {
                return Err(invalid(
                    "holidays",
                    format!("{y}: '{item}' is not a range within {y}"),
                    format!("“{item}”不是 {y} 年内的日期或日期范围。"),
                ));
            }
            let mut d = first;
            while d <= last {
                holidays.insert(d);
                match d.succ_opt() {
                    Some(next) => d = next,
                    None => break,
                }
            }
        }
        let mut working_weekends = BTreeSet::new();
        for item in &notice.working_weekends {
            let d = date(item, "working_weekends")?;
            if d.year() != y || !weekend(d) || holidays.contains(&d) {
                return Err(invalid(
                    "working_weekends",
                    format!(
                        "{y}: worked day {d} must be a Saturday or Sunday of {y} that is not a holiday"
                    ),
                    format!("调休上班日 {d} 须是 {y} 年的周六或周日，且不是放假日。"),
                ));
            }
            working_weekends.insert(d);
        }
        Ok(Year {
            source: notice.source.trim().to_owned(),
            holidays,
            working_weekends,
        })
    }
}

impl Calendar {
    /// The calendar shipped with the platform, parsed once.
    pub fn builtin() -> &'static Calendar {
        static CALENDAR: OnceLock<Calendar> = OnceLock::new();
        CALENDAR.get_or_init(|| Calendar::parse(BUILTIN).expect("the shipped calendar is valid"))
    }

    /// The notices of a calendar file (`[[years]]` entries), as written, unchecked:
    /// what `creditpool calendar add` reads before adding each with
    /// [`Calendar::with_year`].
    pub fn notices(text: &str) -> Result<Vec<YearNotice>, CalendarError> {
        let file: File = toml::from_str(text)
            .map_err(|e| invalid("years", e.to_string(), format!("日历文件无法读取：{e}")))?;
        Ok(file.years)
    }

    /// Parses and checks a calendar: dates in their year, ranges in order, worked days
    /// on weekends only and never also holidays, each year once.
    pub fn parse(text: &str) -> Result<Calendar, CalendarError> {
        let file: File = toml::from_str(text)
            .map_err(|e| invalid("years", e.to_string(), format!("日历文件无法读取：{e}")))?;
        let mut years = BTreeMap::new();
        for notice in file.years {
            let y = notice.year;
            if years.insert(y, Year::from_notice(notice)?).is_some() {
                return Err(invalid(
                    "years",
                    format!("{y} is listed twice"),
                    format!("{y} 年列了两次。"),
                ));
            }
        }
        Ok(Calendar { years })
    }

    /// This calendar with one more year, from the State Council's notice, checked as the
    /// file's years are and more strictly: a year of this century not already listed,
    /// New Year's Day (元旦) among its holidays (every notice has it, so a notice without
    /// it is a typing error), and no more days off or worked days than any notice gave.
    pub fn with_year(&self, notice: YearNotice) -> Result<Calendar, CalendarError> {
        let y = notice.year;
        if !YEARS.contains(&y) {
            return Err(invalid(
                "year",
                format!(
                    "{y} is not a year the platform can be in ({}–{})",
                    YEARS.start(),
                    YEARS.end()
                ),
                format!(
                    "{y} 不在平台可用的年份范围内（{}–{}）。",
                    YEARS.start(),
                    YEARS.end()
                ),
            ));
        }
        if self.years.contains_key(&y) {
            return Err(CalendarError::AlreadyListed(y));
        }
        let year = Year::from_notice(notice)?;
        let new_year = NaiveDate::from_ymd_opt(y, 1, 1).expect("1 January exists");
        if !year.holidays.contains(&new_year) {
            return Err(invalid(
                "holidays",
                format!(
                    "{y}: New Year's Day ({new_year}) is not among the holidays; every notice gives it: check the dates"
                ),
                format!("放假日中没有元旦（{new_year}），每年的通知都有元旦：请核对日期。"),
            ));
        }
        if year.holidays.len() > MAX_HOLIDAYS {
            return Err(invalid(
                "holidays",
                format!(
                    "{y}: {} days off is more than any notice has given (at most {MAX_HOLIDAYS}): check the ranges",
                    year.holidays.len()
                ),
                format!(
                    "放假日共 {} 天，多于以往任何通知（至多 {MAX_HOLIDAYS} 天）：请核对日期范围。",
                    year.holidays.len()
                ),
            ));
        }
        if year.working_weekends.len() > MAX_WORKING_WEEKENDS {
            return Err(invalid(
                "working_weekends",
                format!(
                    "{y}: {} worked weekend days is more than any notice has given (at most {MAX_WORKING_WEEKENDS})",
                    year.working_weekends.len()
                ),
                format!(
                    "调休上班日共 {} 天，多于以往任何通知（至多 {MAX_WORKING_WEEKENDS} 天）。",
                    year.working_weekends.len()
                ),
            ));
        }
        let mut years = self.years.clone();
        years.insert(y, year);
        Ok(Calendar { years })
    }

    /// Whether the calendar has data for `year`.
    pub fn has_year(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// The year whose data is missing and wanted by `today`: this year's at any time, and
    /// from 1 November next year's, when deadlines start to run into it.
    pub fn missing_year(&self, today: NaiveDate) -> Option<i32> {
        let year = today.year();
        if !self.has_year(year) {
            return Some(year);
        }
        (today.month() >= 11 && !self.has_year(year + 1)).then_some(year + 1)
    }

    /// The years with data, and their sources.
    pub fn years(&self) -> impl Iterator<Item = (i32, &Year)> {
        self.years.iter().map(|(y, data)| (*y, data))
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: NaiveDate) -> Result<bool, CalendarError> {
        let year = self
            .years
            .get(&day.year())
            .ok_or(CalendarError::NoData(day.year()))?;
        if year.holidays.contains(&day) {
            return Ok(false);
        }
        Ok(!weekend(day) || year.working_weekends.contains(&day))
    }

    /// The deadline of "n working days" from `from` (`from` itself not counted), counted
    /// on this calendar where it has data and on Monday-to-Friday days where it has not,
    /// which makes the deadline provisional.
    pub fn deadline(&self, from: NaiveDate, n: u32) -> Deadline {
        let mut day = from;
        let mut left = n;
        let mut provisional = false;
        while left > 0 {
            let Some(next) = day.succ_opt() else {
                break;
            };
            day = next;
            let working = match self.is_working_day(day) {
                Ok(working) => working,
                Err(_) => {
                    provisional = true;
                    !weekend(day)
                }
            };
            if working {
                left -= 1;
            }
        }
        Deadline { day, provisional }
    }

    /// The `n`th working day after `from` (`from` itself not counted): the deadline of
    /// "n working days" from a filing on `from`; an error where a year has no data.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut day = from;
        let mut left = n;
        while left > 0 {
            day = day
                .succ_opt()
                .ok_or(CalendarError::NoData(day.year() + 1))?;
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn the_shipped_calendar_knows_the_notices_of_2025_and_2026() {
        let c = Calendar::builtin();
        let years: Vec<i32> = c.years().map(|(y, _)| y).collect();
        assert_eq!(years, [2025, 2026]);
        assert!(c.years().all(|(_, y)| y.source.contains("国务院办公厅")));
        // Holidays, worked weekends, ordinary days.
        assert_eq!(c.is_working_day(d("2026-02-16")), Ok(false)); // 春节
        assert_eq!(c.is_working_day(d("2026-02-14")), Ok(true)); // 调休上班 (Saturday)
        assert_eq!(c.is_working_day(d("2026-11-21")), Ok(false)); // a Saturday
        assert_eq!(c.is_working_day(d("2026-11-23")), Ok(true)); // a Monday
        assert_eq!(c.is_working_day(d("2025-10-08")), Ok(false)); // 国庆中秋 2025
        assert_eq!(c.is_working_day(d("2025-10-11")), Ok(true));
    }

    #[test]
    fn five_working_days_skip_holidays_and_count_worked_weekends() {
        // Q8: filed Friday 2025-01-24: Sun 26 (worked), Mon 27, then the Spring
        // Festival to 4 February, then 5, 6, 7 February.
        let c = Calendar::builtin();
        assert_eq!(c.add_working_days(d("2025-01-24"), 5), Ok(d("2025-02-07")));
        // Filed Wednesday 2026-09-30: 1–7 October off, Thu 8, Fri 9, Sat 10 (worked),
        // Mon 12, Tue 13.
        assert_eq!(c.add_working_days(d("2026-09-30"), 5), Ok(d("2026-10-13")));
        // An ordinary week.
        assert_eq!(c.add_working_days(d("2026-11-20"), 5), Ok(d("2026-11-27")));
        // Twenty working days (the longest extension of Q9).
        assert_eq!(c.add_working_days(d("2026-11-20"), 20), Ok(d("2026-12-18")));
    }

    #[test]
    fn a_year_without_data_is_an_error_never_a_guess() {
        let c = Calendar::builtin();
        assert_eq!(
            c.is_working_day(d("2027-01-05")),
            Err(CalendarError::NoData(2027))
        );
        // A deadline that runs into 2027 is refused, not estimated.
        assert_eq!(
            c.add_working_days(d("2026-12-28"), 5),
            Err(CalendarError::NoData(2027))
        );
        assert_eq!(
            c.add_working_days(d("2024-12-30"), 1),
            Err(CalendarError::NoData(2024))
        );
    }

    #[test]
    fn a_malformed_calendar_is_refused_by_name() {
        let bad = |text: &str| Calendar::parse(text).expect_err("refused").to_string();
        let year = |holidays: &str, worked: &str| {
            format!(
                "[[years]]\nyear = 2026\nsource = \"notice\"\nholidays = [{holidays}]\nworking_weekends = [{worked}]\n"
            )
        };
        assert!(bad(&year("\"2026-13-01\"", "")).contains("2026-13-01"));
        assert!(bad(&year("\"2025-12-31\"", "")).contains("within 2026"));
        assert!(bad(&year("\"2026-02-23..2026-02-15\"", "")).contains("within 2026"));
        // A worked day must be a weekend day that is not also a holiday.
        assert!(bad(&year("", "\"2026-02-16\"")).contains("Saturday or Sunday"));
        assert!(bad(&year("\"2026-02-14\"", "\"2026-02-14\"")).contains("not a holiday"));
        let twice = format!("{}{}", year("", ""), year("", ""));
        assert!(bad(&twice).contains("listed twice"));
        assert!(
            bad("[[years]]\nyear = 2026\nsource = \" \"\nholidays = []\nworking_weekends = []\n")
                .contains("no source")
        );
    }

    fn notice(year: i32, holidays: &[&str], worked: &[&str]) -> YearNotice {
        YearNotice {
            year,
            source: format!("国务院办公厅关于{year}年部分节假日安排的通知"),
            holidays: holidays.iter().map(|s| (*s).to_owned()).collect(),
            working_weekends: worked.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_deadline_in_a_year_without_data_is_provisional_on_weekdays_and_recounted_once_added() {
        // Q8, Q9: filed Monday 2026-12-28, five working days run into 2027, which has no
        // data: counted Monday to Friday (Tue 29, Wed 30, Thu 31, Fri 1, Mon 4).
        let c = Calendar::builtin();
        let provisional = c.deadline(d("2026-12-28"), 5);
        assert_eq!(
            provisional,
            Deadline {
                day: d("2027-01-04"),
                provisional: true
            }
        );
        // Within known years it is the strict count, and final.
        assert_eq!(
            c.deadline(d("2026-11-20"), 20),
            Deadline {
                day: d("2026-12-18"),
                provisional: false
            }
        );
        // Once 2027 is added (a notice with 1–3 January off), the same filing is due
        // Tuesday 5 January, and no longer provisional.
        let added = c
            .with_year(notice(2027, &["2027-01-01..2027-01-03"], &[]))
            .expect("a valid year");
        assert_eq!(
            added.deadline(d("2026-12-28"), 5),
            Deadline {
                day: d("2027-01-05"),
                provisional: false
            }
        );
        assert_eq!(
            added.add_working_days(d("2026-12-28"), 5),
            Ok(d("2027-01-05"))
        );
        // The shipped calendar itself is unchanged.
        assert!(!c.has_year(2027));
    }

    #[test]
    fn an_added_year_is_checked_before_it_counts() {
        let c = Calendar::builtin();
        let refused = |n: YearNotice| c.with_year(n).expect_err("refused");
        assert_eq!(
            refused(notice(2026, &["2026-01-01"], &[])),
            CalendarError::AlreadyListed(2026)
        );
        let message = |n: YearNotice| refused(n).to_string();
        assert!(message(notice(2027, &["2027-02-10"], &[])).contains("New Year's Day"));
        assert!(message(notice(2027, &["2027-01-01", "2028-01-01"], &[])).contains("within 2027"));
        assert!(message(notice(2027, &["2027-01-01", "2027-13-40"], &[])).contains("2027-13-40"));
        assert!(
            message(notice(2027, &["2027-01-01..2027-03-31"], &[]))
                .contains("more than any notice")
        );
        assert!(
            message(notice(2027, &["2027-01-01"], &["2027-01-06"])).contains("Saturday or Sunday")
        );
        assert!(message(notice(1999, &["1999-01-01"], &[])).contains("not a year"));
        let mut nameless = notice(2027, &["2027-01-01"], &[]);
        nameless.source = "  ".into();
        assert!(message(nameless).contains("no source"));
    }

    #[test]
    fn the_missing_year_is_this_one_or_from_november_the_next() {
        let c = Calendar::builtin();
        assert_eq!(c.missing_year(d("2026-10-31")), None);
        assert_eq!(c.missing_year(d("2026-11-01")), Some(2027));
        assert_eq!(c.missing_year(d("2027-03-01")), Some(2027));
        assert_eq!(c.missing_year(d("2025-12-15")), None);
        let added = c
            .with_year(notice(2027, &["2027-01-01"], &[]))
            .expect("a valid year");
        assert_eq!(added.missing_year(d("2026-12-03")), None);
        assert_eq!(added.missing_year(d("2027-11-02")), Some(2028));
    }
}
