//! The verification service (BRIEF Q7, standard 6.3): an agency lists subjects; each is
//! looked up by its code (and its name checked), and what the public rules disclose about
//! it on the cut-off day is summed up for the feedback letter of 附录B.

use chrono::NaiveDate;
use policies::disclosure::Rules;
use serde::{Deserialize, Serialize};

use crate::records::{self, Objected, RecordsError};
use crate::search::{Index, normalise};

/// Most subjects one request may list.
pub const MAX_SUBJECTS: usize = 50;

/// A subject as the agency's letter lists it.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Listed {
    /// Its name.
    pub name: String,
    /// Its unified social credit code, or a person's citizen ID number.
    pub code: String,
}

/// What was found about one listed subject.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Finding {
    /// Its name as listed.
    pub name: String,
    /// Its code as listed (an ID number masked).
    pub code: String,
    /// Whether the register has a subject with this code and name.
    pub found: bool,
    /// Serious-dishonesty listings disclosed.
    pub serious_dishonesty: usize,
    /// Administrative penalties disclosed.
    pub penalties: usize,
    /// Abnormal-operation listings disclosed.
    pub abnormal_operations: usize,
    /// Judgements and enforcement records disclosed.
    pub judicial: usize,
    /// Red-list listings and honours disclosed.
    pub commendations: usize,
    /// The result in words, as the letter prints it.
    pub conclusion: String,
}

fn count(sections: &[records::Section], table: &str) -> usize {
    sections
        .iter()
        .find(|s| s.table == table)
        .map_or(0, |s| s.count)
}

/// Looks every listed subject up and sums up its disclosed records on `today`.
pub fn check(
    records: &records::Records,
    index: &Index,
    listed: &[Listed],
    today: NaiveDate,
    rules: &Rules,
    objected: &Objected,
) -> Result<Vec<Finding>, RecordsError> {
    let mut findings = Vec::with_capacity(listed.len());
    for subject in listed {
        let code = subject.code.trim();
        let (subject_id, shown_code) = if let Some(entry) = index.by_uscc(code) {
            let same = normalise(&entry.name) == normalise(&subject.name);
            (same.then(|| entry.subject_id.clone()), entry.uscc.clone())
        } else if let Ok(id) = policies::IdNumber::parse(code) {
            let person = records.person(Some(subject.name.trim()), id.as_str());
            (
                person.map(|p| p.subject_id),
                policies::masking::Mask::IdNumber.apply(id.as_str()),
            )
        } else {
            (None, code.to_owned())
        };
        let Some(subject_id) = subject_id else {
            findings.push(Finding {
                name: subject.name.clone(),
                code: shown_code,
                found: false,
                serious_dishonesty: 0,
                penalties: 0,
                abnormal_operations: 0,
                judicial: 0,
                commendations: 0,
                conclusion: "未查询到名称与代码一致的信用主体，请核对后重新提交。".into(),
            });
            continue;
        };
        let sections = records.disclosed(&subject_id, today, rules, objected)?;
        let mut finding = Finding {
            name: subject.name.clone(),
            code: shown_code,
            found: true,
            serious_dishonesty: count(&sections, "dishonesty_list"),
            penalties: count(&sections, "admin_penalties"),
            abnormal_operations: count(&sections, "abnormal_operations"),
            judicial: count(&sections, "judicial_records"),
            commendations: count(&sections, "red_list") + count(&sections, "honours"),
            conclusion: String::new(),
        };
        finding.conclusion = conclusion(&finding);
        findings.push(finding);
    }
    Ok(findings)
}

fn conclusion(f: &Finding) -> String {
    let mut parts = Vec::new();
    if f.serious_dishonesty > 0 {
        parts.push(format!("严重失信主体名单信息{}条", f.serious_dishonesty));
    }
    if f.penalties > 0 {
        parts.push(format!("行政处罚信息{}条", f.penalties));
    }
    if f.abnormal_operations > 0 {
        parts.push(format!("经营异常名录信息{}条", f.abnormal_operations));
    }
    if f.judicial > 0 {
        parts.push(format!("司法判决及执行信息{}条", f.judicial));
    }
    let mut text = if parts.is_empty() {
        "未发现严重失信、行政处罚、经营异常及司法判决执行信息".to_owned()
    } else {
        format!("存在{}", parts.join("、"))
    };
    if f.commendations > 0 {
        text.push_str(&format!("；有守信激励或荣誉信息{}条", f.commendations));
    }
    text.push('。');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> Finding {
        Finding {
            name: "甲".into(),
            code: "x".into(),
            found: true,
            serious_dishonesty: 0,
            penalties: 0,
            abnormal_operations: 0,
            judicial: 0,
            commendations: 0,
            conclusion: String::new(),
        }
    }

    #[test]
    fn the_conclusion_names_every_kind_found() {
        assert_eq!(
            conclusion(&finding()),
            "未发现严重失信、行政处罚、经营异常及司法判决执行信息。"
        );
        let f = Finding {
            serious_dishonesty: 1,
            penalties: 2,
            commendations: 3,
            ..finding()
        };
        assert_eq!(
            conclusion(&f),
            "存在严重失信主体名单信息1条、行政处罚信息2条；有守信激励或荣誉信息3条。"
        );
    }
}
