//! The application to join the product pool (BRIEF P1, 附件2 机构入驻申请表): the form,
//! its data supply list and own-data list, and the checks that a submission must pass.
//! Drafts may be incomplete; submission checks every field and names each one at fault.

use std::collections::HashSet;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// The qualifications of 附件2, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QualificationKind {
    /// 符合网络安全等级保护三级标准和商用密码安全性评估要求的系统开发和运维实践经验.
    SecurityPractice,
    /// 机构公共信用评价良好以上等级.
    CreditEvaluation,
    /// 机构法定代表人、董事、监事未纳入黑名单记录.
    NoBlacklistedOfficers,
    /// 机构成立 1 年及以上.
    EstablishedOneYear,
    /// 个人或企业征信业务资格 (preferred, 附件1 item 4).
    CreditReportingLicence,
    /// 其他资质证明材料.
    Other,
}

/// One declared qualification with its evidence files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Qualification {
    /// Which one.
    pub kind: QualificationKind,
    /// What the institution states.
    pub description: String,
    /// Ids of uploaded evidence files.
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// One step of the schedule (进度安排).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Milestone {
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// What happens.
    pub description: String,
}

/// A row of the own-data list (自有数据清单).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnDataItem {
    /// 数源单位.
    pub source_unit: String,
    /// 数据表名（中文）.
    pub table_name: String,
    /// 是否可共享.
    pub shareable: bool,
}

/// The signed credit commitment (信用承诺).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Commitment {
    /// The institution accepts the three commitments of 附件2.
    pub accepted: bool,
    /// Who signs for the institution.
    pub signed_by: String,
}

/// The form. Every field may be missing in a draft.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ApplicationForm {
    /// 服务对象名称.
    pub institution_name: Option<String>,
    /// 统一社会信用代码.
    pub uscc: Option<String>,
    /// 联系人.
    pub contact_name: Option<String>,
    /// 联系电话.
    pub contact_phone: Option<String>,
    /// 基本情况.
    pub basic_situation: Option<String>,
    /// 资质情况.
    pub qualifications: Vec<Qualification>,
    /// 信用产品名称.
    pub product_name: Option<String>,
    /// 创新点.
    pub innovation: Option<String>,
    /// 进度安排 (不超过1年).
    pub schedule: Vec<Milestone>,
    /// 应用场景.
    pub scenarios: Option<String>,
    /// 信用承诺.
    pub commitment: Option<Commitment>,
    /// 数据供给清单: catalog table ids requested.
    pub data_supply: Vec<String>,
    /// 自有数据清单.
    pub own_data: Vec<OwnDataItem>,
}

impl ApplicationForm {
    /// The form as stored: its unified social credit code in its one canonical form
    /// ([`policies::Uscc::canonical`]), so that the code the applicant typed in lower
    /// case or full width is the code every check compares (conflicts of interest, the
    /// register, duplicate institutions).
    pub fn normalised(&self) -> ApplicationForm {
        let mut form = self.clone();
        form.uscc = form.uscc.as_deref().map(policies::Uscc::canonical);
        form
    }
}

/// One field at fault and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, as a JSON path (`schedule[1].end`).
    pub field: String,
    /// What is wrong, and how to put it right.
    pub message: String,
    /// The same, in Chinese, for the pages (the API says the English).
    #[serde(skip)]
    pub zh: String,
}

/// Longest free-text field, in characters.
pub const MAX_TEXT_CHARS: usize = 5_000;

impl FieldError {
    /// `field` is at fault: `message` says why, `zh` the same in Chinese.
    pub fn new(
        field: impl Into<String>,
        message: impl Into<String>,
        zh: impl Into<String>,
    ) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
            zh: zh.into(),
        }
    }
}

fn err(field: impl Into<String>, message: impl Into<String>, zh: impl Into<String>) -> FieldError {
    FieldError::new(field, message, zh)
}

/// Checks a form for submission: every required field present and well-formed. Returns
/// every problem found, each naming its field.
pub fn check_for_submission(
    form: &ApplicationForm,
    catalog_tables: &HashSet<String>,
) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut text = |field: &str, value: &Option<String>, (what, what_zh): (&str, &str)| match value
        .as_deref()
        .map(str::trim)
    {
        None | Some("") => errors.push(err(
            field,
            format!("{what} is required"),
            format!("请填写{what_zh}。"),
        )),
        Some(v) if v.chars().count() > MAX_TEXT_CHARS => errors.push(err(
            field,
            format!("{what} is longer than {MAX_TEXT_CHARS} characters; attach the rest as a file"),
            format!("{what_zh}超过 {MAX_TEXT_CHARS} 字：其余部分请作为附件上传。"),
        )),
        Some(_) => {}
    };
    text(
        "institution_name",
        &form.institution_name,
        ("the institution's name (服务对象名称)", "服务对象名称"),
    );
    text(
        "contact_name",
        &form.contact_name,
        ("a contact person (联系人)", "联系人"),
    );
    text(
        "basic_situation",
        &form.basic_situation,
        ("the institution's basic situation (基本情况)", "基本情况"),
    );
    text(
        "product_name",
        &form.product_name,
        ("the credit product's name (信用产品名称)", "信用产品名称"),
    );
    text(
        "innovation",
        &form.innovation,
        ("the product's innovation (创新点)", "创新点"),
    );
    text(
        "scenarios",
        &form.scenarios,
        ("the application scenarios (应用场景)", "应用场景"),
    );

    match form.uscc.as_deref().map(str::trim) {
        None | Some("") => errors.push(err(
            "uscc",
            "the unified social credit code (统一社会信用代码) is required",
            "请填写统一社会信用代码。",
        )),
        // Strict: a code whose check character is wrong is almost always mistyped, and
        // the applicant can correct it now (a pilot-era code that genuinely fails its
        // check is resolved with the platform, not waved through).
        Some(code) => {
            if let Err(e) = policies::Uscc::parse_strict(code) {
                errors.push(err(
                    "uscc",
                    format!("the unified social credit code is not valid: {e}"),
                    "统一社会信用代码有误（18 位，末位为校验码）：请核对后重新填写。",
                ));
            }
        }
    }
    match form.contact_phone.as_deref().map(str::trim) {
        None | Some("") => errors.push(err(
            "contact_phone",
            "a contact phone number (联系电话) is required",
            "请填写联系电话。",
        )),
        Some(phone) if !policies::is_phone(phone) => errors.push(err(
            "contact_phone",
            format!("'{phone}' is not a phone number: give an 11-digit mobile number (13812345678) or a landline with area code (0571-87654321)"),
            format!("“{phone}”不是电话号码：请填写 11 位手机号（13812345678）或带区号的固定电话（0571-87654321）。"),
        )),
        Some(_) => {}
    }

    if form.qualifications.is_empty() {
        errors.push(err(
            "qualifications",
            "list the institution's qualifications (资质情况), with evidence",
            "请列出机构的资质情况，并附证明材料。",
        ));
    }
    for (i, q) in form.qualifications.iter().enumerate() {
        if q.description.trim().is_empty() {
            errors.push(err(
                format!("qualifications[{i}].description"),
                "describe the qualification",
                format!("请说明第 {} 项资质。", i + 1),
            ));
        }
        if q.evidence.is_empty() && q.kind != QualificationKind::Other {
            errors.push(err(
                format!("qualifications[{i}].evidence"),
                "attach at least one evidence file (证明材料)",
                format!("第 {} 项资质至少需要一份证明材料。", i + 1),
            ));
        }
    }

    if form.schedule.is_empty() {
        errors.push(err(
            "schedule",
            "give the schedule (进度安排) as one or more milestones",
            "请填写进度安排（至少一个阶段）。",
        ));
    }
    for (i, m) in form.schedule.iter().enumerate() {
        if m.end < m.start {
            errors.push(err(
                format!("schedule[{i}].end"),
                format!("ends ({}) before it starts ({})", m.end, m.start),
                format!(
                    "第 {} 个阶段的结束日（{}）早于开始日（{}）。",
                    i + 1,
                    m.end,
                    m.start
                ),
            ));
        }
        if m.description.trim().is_empty() {
            errors.push(err(
                format!("schedule[{i}].description"),
                "describe the milestone",
                format!("请说明第 {} 个阶段的工作内容。", i + 1),
            ));
        }
    }
    if let (Some(first), Some(last)) = (
        form.schedule.iter().map(|m| m.start).min(),
        form.schedule.iter().map(|m| m.end).max(),
    ) && first
        .checked_add_months(Months::new(12))
        .is_some_and(|limit| last > limit)
    {
        errors.push(err(
            "schedule",
            format!(
                "the schedule runs from {first} to {last}, longer than one year (进度安排不超过1年)"
            ),
            format!("进度安排从 {first} 到 {last}，超过 1 年：进度安排不超过 1 年。"),
        ));
    }

    match &form.commitment {
        None => errors.push(err(
            "commitment",
            "the credit commitment (信用承诺) must be accepted and signed",
            "请接受并签署信用承诺。",
        )),
        Some(c) if !c.accepted => errors.push(err(
            "commitment.accepted",
            "the credit commitment must be accepted to apply",
            "申请须接受信用承诺。",
        )),
        Some(c) if c.signed_by.trim().is_empty() => errors.push(err(
            "commitment.signed_by",
            "say who signs the commitment for the institution",
            "请填写代表机构签署承诺的人。",
        )),
        Some(_) => {}
    }

    if form.data_supply.is_empty() {
        errors.push(err(
            "data_supply",
            "choose at least one table of the data supply list (数据供给清单)",
            "请在数据供给清单中至少选择一张数据表。",
        ));
    }
    let mut seen = HashSet::new();
    for (i, table) in form.data_supply.iter().enumerate() {
        if !catalog_tables.contains(table) {
            errors.push(err(
                format!("data_supply[{i}]"),
                format!("'{table}' is not a table of the catalog (see GET /api/v1/catalog)"),
                format!("“{table}”不是数据目录中的表。"),
            ));
        } else if !seen.insert(table) {
            errors.push(err(
                format!("data_supply[{i}]"),
                format!("'{table}' is listed twice"),
                format!("数据表“{table}”选择了两次。"),
            ));
        }
    }
    for (i, item) in form.own_data.iter().enumerate() {
        if item.source_unit.trim().is_empty() {
            errors.push(err(
                format!("own_data[{i}].source_unit"),
                "name the data's source unit (数源单位)",
                format!("请填写第 {} 项自有数据的数源单位。", i + 1),
            ));
        }
        if item.table_name.trim().is_empty() {
            errors.push(err(
                format!("own_data[{i}].table_name"),
                "name the table (数据表名)",
                format!("请填写第 {} 项自有数据的数据表名。", i + 1),
            ));
        }
    }

    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn complete() -> ApplicationForm {
        ApplicationForm {
            institution_name: Some("浙江示例征信有限公司".into()),
            uscc: Some("91110000600037341L".into()),
            contact_name: Some("王敏".into()),
            contact_phone: Some("0571-87654321".into()),
            basic_situation: Some("成立于2015年的企业征信机构。".into()),
            qualifications: vec![Qualification {
                kind: QualificationKind::SecurityPractice,
                description: "等保三级".into(),
                evidence: vec!["file-1".into()],
            }],
            product_name: Some("小微企业信用评分".into()),
            innovation: Some("融合公共信用与经营数据".into()),
            schedule: vec![
                Milestone {
                    start: date("2027-01-01"),
                    end: date("2027-06-30"),
                    description: "建模".into(),
                },
                Milestone {
                    start: date("2027-07-01"),
                    end: date("2028-01-01"),
                    description: "验证".into(),
                },
            ],
            scenarios: Some("信贷审批".into()),
            commitment: Some(Commitment {
                accepted: true,
                signed_by: "李强".into(),
            }),
            data_supply: vec!["admin_penalties".into()],
            own_data: vec![OwnDataItem {
                source_unit: "本机构".into(),
                table_name: "贷款表现".into(),
                shareable: false,
            }],
        }
    }

    fn tables() -> HashSet<String> {
        ["admin_penalties", "enterprises"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn fields(form: &ApplicationForm) -> Vec<String> {
        match check_for_submission(form, &tables()) {
            Ok(()) => vec![],
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn a_complete_form_passes() {
        assert_eq!(fields(&complete()), Vec::<String>::new());
    }

    #[test]
    fn an_empty_form_names_every_required_field() {
        let missing = fields(&ApplicationForm::default());
        for field in [
            "institution_name",
            "uscc",
            "contact_name",
            "contact_phone",
            "basic_situation",
            "qualifications",
            "product_name",
            "innovation",
            "schedule",
            "scenarios",
            "commitment",
            "data_supply",
        ] {
            assert!(
                missing.contains(&field.to_string()),
                "{field} in {missing:?}"
            );
        }
    }

    #[test]
    fn each_malformed_field_is_named() {
        let mut f = complete();
        f.uscc = Some("91110000600037341M".into());
        assert_eq!(fields(&f), ["uscc"]);

        let mut f = complete();
        f.contact_phone = Some("12345".into());
        assert_eq!(fields(&f), ["contact_phone"]);

        let mut f = complete();
        f.schedule[1].end = date("2028-01-02");
        assert_eq!(fields(&f), ["schedule"], "one day over a year");

        let mut f = complete();
        f.schedule[0].end = date("2026-12-01");
        assert_eq!(fields(&f), ["schedule[0].end"]);

        let mut f = complete();
        f.commitment = Some(Commitment {
            accepted: false,
            signed_by: "李强".into(),
        });
        assert_eq!(fields(&f), ["commitment.accepted"]);

        let mut f = complete();
        f.data_supply = vec![
            "admin_penalties".into(),
            "no_such_table".into(),
            "admin_penalties".into(),
        ];
        assert_eq!(fields(&f), ["data_supply[1]", "data_supply[2]"]);

        let mut f = complete();
        f.qualifications[0].evidence.clear();
        assert_eq!(fields(&f), ["qualifications[0].evidence"]);

        let mut f = complete();
        f.basic_situation = Some("x".repeat(MAX_TEXT_CHARS + 1));
        assert_eq!(fields(&f), ["basic_situation"]);
    }
}
