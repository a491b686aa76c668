//! What the public finds without logging in (BRIEF Q1–Q4): subjects by code or by part of
//! their name, a subject's disclosed records, the special lists and the sector queries.
//! The JSON API and the web pages both ask these; each answers with the subjects as
//! found, marked 异议处理中 where a record is under objection (Q8), and leaves paging and
//! presentation to the front door.

use std::collections::HashSet;
use storage::said::Said;

use ::public::records::Section;
use ::public::search::{Entry, SearchError};
use ::public::special::{List, Listing, Qualification};
use chrono::NaiveDate;

use crate::{Platform, Refusal};

/// Longest query accepted (a name fragment, a code, a region).
pub const MAX_QUERY_CHARS: usize = 100;

/// Longest requester name printed on a report's watermark.
pub const MAX_REQUESTER_CHARS: usize = 50;

/// The requester printed on a report when none is given.
pub const ANONYMOUS_REQUESTER: &str = "社会公众";

/// An enterprise or organisation as the public sees it in any list.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// The register's entry.
    pub entry: &'a Entry,
    /// Whether a record of it is under objection (shown as 异议处理中).
    pub under_objection: bool,
}

impl Subject<'_> {
    /// The mark the public reads beside the subject, if any.
    pub fn mark(&self) -> Option<&'static str> {
        self.under_objection
            .then_some(policies::disclosure::UNDER_OBJECTION)
    }
}

/// The answer to a search.
#[derive(Debug)]
pub enum Found<'a> {
    /// The query is a code: the subject with it, if any.
    Code {
        /// What the code's checksum says, when it fails (early pilot codes do and are
        /// still valid, so a failure never rejects the query).
        warning: Option<Said>,
        /// The subject with this code.
        subject: Option<Subject<'a>>,
    },
    /// The query is part of a name: one page of the names containing it.
    Name {
        /// The page, best match first.
        page: Vec<Subject<'a>>,
        /// How many names match (at most [`::public::search::MAX_MATCHES`]).
        total: usize,
        /// Whether more names matched than are counted.
        truncated: bool,
    },
}

/// A subject on a special list, with its listing or its qualification certificate.
#[derive(Debug)]
pub struct Special<'a> {
    /// The subject.
    pub subject: Subject<'a>,
    /// The listing (every list but the qualifications).
    pub listing: Option<&'a Listing>,
    /// The certificate (the qualifications).
    pub qualification: Option<&'a Qualification>,
}

/// The special lists the public can open, by the name the API and the pages take, with
/// their Chinese titles.
pub const SPECIAL_LISTS: [(&str, &str); 4] = [
    ("red_list", "守信激励对象名单（红名单）"),
    ("black_list", "严重失信主体名单"),
    ("abnormal_operations", "经营异常名录"),
    ("qualifications", "资质资格证书"),
];

/// A subject of a sector, with the lists it is on today.
#[derive(Debug)]
pub struct InSector<'a> {
    /// The subject.
    pub subject: Subject<'a>,
    /// On the red list.
    pub red_list: bool,
    /// On the serious-dishonesty list.
    pub black_list: bool,
    /// In the abnormal-operations directory.
    pub abnormal_operations: bool,
}

/// Checks a query's length.
pub fn check_query(field: &str, value: Option<&str>) -> Result<(), Refusal> {
    if value.is_some_and(|v| v.chars().count() > MAX_QUERY_CHARS) {
        return Err(Refusal::Invalid {
            field: field.to_owned(),
            message: Said::new(
                format!("a query has at most {MAX_QUERY_CHARS} characters"),
                format!("查询内容最多 {MAX_QUERY_CHARS} 个字。"),
            ),
        });
    }
    Ok(())
}

/// The requester to print on a report: `requester` trimmed, or [`ANONYMOUS_REQUESTER`]
/// when empty; refused when too long or holding control characters.
pub fn requester(requester: Option<&str>) -> Result<String, Refusal> {
    match requester.map(str::trim) {
        None | Some("") => Ok(ANONYMOUS_REQUESTER.to_owned()),
        Some(r) if r.chars().count() > MAX_REQUESTER_CHARS || r.chars().any(char::is_control) => {
            Err(Refusal::Invalid {
                field: "requester".into(),
                message: Said::new(
                    format!(
                        "a requester's name has at most {MAX_REQUESTER_CHARS} characters, without control characters"
                    ),
                    format!("查询人最多 {MAX_REQUESTER_CHARS} 个字，不含控制字符。"),
                ),
            })
        }
        Some(r) => Ok(r.to_owned()),
    }
}

/// What a code's checksum says, as a warning.
pub fn code_warning(code: &str) -> Option<Said> {
    policies::Uscc::check(code)
        .ok()
        .and_then(|check| check.warnings.first().map(warning))
}

/// A code's checksum warning, said in both languages.
fn warning(w: &policies::UsccWarning) -> Said {
    Said::new(w.to_string(), w.zh())
}

impl Platform {
    /// The subjects with a record under objection now.
    async fn objected(&self) -> Result<std::sync::Arc<desk::objections::Marked>, Refusal> {
        Ok(self.marks.get(&self.store).await?)
    }

    /// Searches the register (Q4): exactly by code when `q` is a code, else the names
    /// containing `q` (normalised: full and half width, case and spaces alike), the
    /// `limit` from `offset`.
    pub async fn find_subjects(
        &self,
        q: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Found<'_>, Refusal> {
        check_query("q", Some(q))?;
        let marks = self.objected().await?;
        if let Ok(check) = policies::Uscc::check(q) {
            return Ok(Found::Code {
                warning: check.warnings.first().map(warning),
                subject: self.search.by_uscc(q).map(|e| marked(&marks, e)),
            });
        }
        let page = self.search.search(q, offset, limit).map_err(|e| match e {
            SearchError::Empty => Refusal::Invalid {
                field: "q".into(),
                message: Said::new(e.to_string(), "请输入要查询的代码或名称。"),
            },
            other => Refusal::Internal(other.to_string()),
        })?;
        Ok(Found::Name {
            page: page.items.into_iter().map(|e| marked(&marks, e)).collect(),
            total: page.total,
            truncated: page.truncated,
        })
    }

    /// The enterprise or organisation with this code, or not found.
    pub async fn public_subject(&self, uscc: &str) -> Result<Subject<'_>, Refusal> {
        let entry = self
            .search
            .by_uscc(uscc)
            .ok_or(Refusal::NotFound("enterprise or organisation"))?;
        let marks = self.objected().await?;
        Ok(marked(&marks, entry))
    }

    /// The records the public sees of a subject today (Q1–Q3), by section of 附录A;
    /// every section is listed, empty ones with a count of 0. Also the day the rules
    /// were applied for.
    pub async fn disclosed_records(
        &self,
        subject: &Subject<'_>,
    ) -> Result<(NaiveDate, Vec<Section>), Refusal> {
        self.disclosed_today(&subject.entry.subject_id).await
    }

    /// The records of the subject (an organisation or a person) with this id as the
    /// disclosure rules show them today (Q1–Q3), masked, records under objection marked.
    pub(crate) async fn disclosed_today(
        &self,
        subject_id: &str,
    ) -> Result<(NaiveDate, Vec<Section>), Refusal> {
        let today = storage::store::china_today();
        let marks = self.objected().await?;
        let sections = self
            .records
            .disclosed(subject_id, today, &self.settings.disclosure, &marks.records)
            .map_err(|e| Refusal::Internal(e.to_string()))?;
        Ok((today, sections))
    }

    /// Special queries (Q4): the subjects on the red list, the serious-dishonesty list
    /// or the abnormal-operations directory today, or holding a valid qualification
    /// certificate (`qualifications`), whose names contain `q` when given.
    pub async fn special_list(
        &self,
        list: &str,
        q: Option<&str>,
    ) -> Result<Vec<Special<'_>>, Refusal> {
        check_query("q", q)?;
        let today = storage::store::china_today();
        let marks = self.objected().await?;
        let subject = |subject_id: &str| {
            self.search
                .by_subject(subject_id)
                .map(|entry| marked(&marks, entry))
        };
        if list == "qualifications" {
            return Ok(self
                .special
                .qualified(q.unwrap_or_default(), today)
                .into_iter()
                .filter_map(|qualification| {
                    Some(Special {
                        subject: subject(&qualification.subject_id)?,
                        listing: None,
                        qualification: Some(qualification),
                    })
                })
                .collect());
        }
        let which = List::parse(list).ok_or(Refusal::NotFound(
            "special list (red_list, black_list, abnormal_operations, qualifications)",
        ))?;
        let wanted = q.map(::public::search::normalise).unwrap_or_default();
        Ok(self
            .special
            .listed(which, today, &self.settings.disclosure)
            .into_iter()
            .filter_map(|listing| {
                let found = subject(&listing.subject_id)?;
                if !wanted.is_empty()
                    && !::public::search::normalise(&found.entry.name).contains(&wanted)
                {
                    return None;
                }
                Some(Special {
                    subject: found,
                    listing: Some(listing),
                    qualification: None,
                })
            })
            .collect())
    }

    /// Sector queries (Q4): the subjects of a named sector ([`::public::special::SECTORS`])
    /// or of an industry code (GB/T 4754, a prefix such as `O801`), in `region` when
    /// given, each with the lists it is on today; also the code prefix queried.
    pub async fn sector(
        &self,
        sector: &str,
        region: Option<&str>,
    ) -> Result<(String, Vec<InSector<'_>>), Refusal> {
        check_query("region", region)?;
        let prefix = sector_prefix(sector).ok_or(Refusal::NotFound(
            "sector (a named sector of GET /public/sectors, or an industry code such as O801)",
        ))?;
        let today = storage::store::china_today();
        let rules = &self.settings.disclosure;
        let on = |list| -> HashSet<&str> {
            self.special
                .listed(list, today, rules)
                .into_iter()
                .map(|l| l.subject_id.as_str())
                .collect()
        };
        let (red, black, abnormal) = (
            on(List::RedList),
            on(List::BlackList),
            on(List::AbnormalOperations),
        );
        let marks = self.objected().await?;
        let found = ::public::special::sector(&self.search, &prefix, region)
            .into_iter()
            .map(|entry| {
                let id = entry.subject_id.as_str();
                InSector {
                    subject: marked(&marks, entry),
                    red_list: red.contains(id),
                    black_list: black.contains(id),
                    abnormal_operations: abnormal.contains(id),
                }
            })
            .collect();
        Ok((prefix, found))
    }
}

/// `entry`, marked when a record of it is under objection.
fn marked<'a>(marks: &desk::objections::Marked, entry: &'a Entry) -> Subject<'a> {
    Subject {
        entry,
        under_objection: marks.subjects.contains(&entry.subject_id),
    }
}

/// The industry-code prefix a sector query names: a named sector's, or an industry code
/// itself (a letter and up to four digits).
pub fn sector_prefix(sector: &str) -> Option<String> {
    if let Some((_, code, _)) = ::public::special::SECTORS
        .iter()
        .find(|(id, _, _)| *id == sector)
    {
        return Some((*code).to_owned());
    }
    let code = sector.to_ascii_uppercase();
    let mut chars = code.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && code.len() <= 5
        && chars.all(|c| c.is_ascii_digit());
    valid.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sectors_are_named_or_industry_codes() {
        assert_eq!(sector_prefix("housekeeping").as_deref(), Some("O801"));
        assert_eq!(sector_prefix("o801").as_deref(), Some("O801"));
        assert_eq!(sector_prefix("K").as_deref(), Some("K"));
        for refused in ["", "801", "O80123", "O8a1", "家政"] {
            assert_eq!(sector_prefix(refused), None, "{refused}");
        }
    }

    #[test]
    fn requesters_are_trimmed_bounded_and_printable() {
        assert_eq!(requester(None).unwrap(), ANONYMOUS_REQUESTER);
        assert_eq!(requester(Some("  ")).unwrap(), ANONYMOUS_REQUESTER);
        assert_eq!(requester(Some(" 某银行 ")).unwrap(), "某银行");
        assert!(requester(Some(&"名".repeat(MAX_REQUESTER_CHARS + 1))).is_err());
        assert!(requester(Some("a\u{7}b")).is_err());
    }
}
