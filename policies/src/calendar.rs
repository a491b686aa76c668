//! Working days (BRIEF Q8, Q9): the calendar of statutory holidays and worked weekend
//! days, kept as data with its sources (`policies/data/working-days.toml`). Deadlines
//! such as "five working days" are counted on it. A day in a year without data is an
//! error, never a guess.

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
    /// The calendar file is wrong.
    #[error("the working-day calendar is invalid: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    years: Vec<YearEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearEntry {
    year: i32,
    source: String,
    holidays: Vec<String>,
    working_weekends: Vec<String>,
}

/// One year's holidays and worked weekend days, with the notice they come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Year {
    /// The notice.
    pub source: String,
    holidays: BTreeSet<NaiveDate>,
    working_weekends: BTreeSet<NaiveDate>,
}

/// The working-day calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

fn date(text: &str) -> Result<NaiveDate, CalendarError> {
    text.trim()
        .parse()
        .map_err(|_| CalendarError::Invalid(format!("'{text}' is not a date (YYYY-MM-DD)")))
}

fn weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Calendar {
    /// The calendar shipped with the platform, parsed once.
    pub fn builtin() -> &'static Calendar {
        static CALENDAR: OnceLock<Calendar> = OnceLock::new();
        CALENDAR.get_or_init(|| Calendar::parse(BUILTIN).expect("the shipped calendar is valid"))
    }

    /// Parses and checks a calendar: dates in their year, ranges in order, worked days
    /// on weekends only and never also holidays, each year once.
    pub fn parse(text: &str) -> Result<Calendar, CalendarError> {
        let file: File = toml::from_str(text).map_err(|e| CalendarError::Invalid(e.to_string()))?;
        let mut years = BTreeMap::new();
        for entry in file.years {
            let y = entry.year;
            if entry.source.trim().is_empty() {
                return Err(CalendarError::Invalid(format!("{y} has no source")));
            }
            let mut holidays = BTreeSet::new();
            for item in &entry.holidays {
                let (first, last) = match item.split_once("..") {
                    Some((a, b)) => (date(a)?, date(b)?),
                    None => (date(item)?, date(item)?),
                };
                if last < first || first.year() != y || last.year() != y {
                    return Err(CalendarError::Invalid(format!(
                        "{y}: '{item}' is not a range within {y}"
                    )));
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
            for item in &entry.working_weekends {
                let d = date(item)?;
                if d.year() != y || !weekend(d) || holidays.contains(&d) {
                    return Err(CalendarError::Invalid(format!(
                        "{y}: worked day {d} must be a Saturday or Sunday of {y} that is not a holiday"
                    )));
                }
                working_weekends.insert(d);
            }
            let year = Year {
                source: entry.source,
                holidays,
                working_weekends,
            };
            if years.insert(y, year).is_some() {
                return Err(CalendarError::Invalid(format!("{y} is listed twice")));
            }
        }
        Ok(Calendar { years })
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

    /// The `n`th working day after `from` (`from` itself not counted): the deadline of
    /// "n working days" from a filing on `from`.
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
}
