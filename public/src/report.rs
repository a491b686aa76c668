//! The public credit information report of an enterprise or organisation (BRIEF Q5,
//! standard 附录A) as data: the cover (report name, subject, code, issuer, generation
//! time, report number, verification code, version), the overview (basic information and
//! the number of records per section), the notes (disclaimer, use, data sources, how to
//! verify, how to object) and the twelve body sections of 附录A, each stated empty when
//! it is. The verification code covers the canonical JSON of everything but itself.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use serde_json::{Value, json};

use crate::records::Section;
use crate::report_id;
use crate::search::Entry;

/// The report's name.
pub const REPORT_NAME: &str = "法人和非法人组织公共信用信息报告";
/// The report's name for a natural person.
pub const PERSON_REPORT_NAME: &str = "自然人公共信用信息报告";

/// Whom a report is about.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// An enterprise or organisation.
    Organisation(&'a Entry),
    /// A natural person (their ID number masked).
    Person(&'a crate::records::Person),
}

impl Subject<'_> {
    /// The code the report names the subject by: the USCC, or the masked ID number.
    pub fn code(&self) -> &str {
        match self {
            Subject::Organisation(e) => &e.uscc,
            Subject::Person(p) => &p.id_number_masked,
        }
    }

    /// The subject's name.
    pub fn name(&self) -> &str {
        match self {
            Subject::Organisation(e) => &e.name,
            Subject::Person(p) => &p.name,
        }
    }
}
/// Version of the report format.
pub const VERSION: &str = "1.0";

/// The twelve body sections of 附录A, with the catalog tables each reports.
pub const SECTIONS: [(&str, &[&str]); 12] = [
    (
        "一、登记注册基础信息",
        &["enterprises", "persons", "officers"],
    ),
    (
        "二、行政管理信息",
        &["admin_licences", "admin_penalties", "admin_actions"],
    ),
    ("三、诚实守信相关荣誉信息", &["honours", "red_list"]),
    ("四、严重失信主体名单信息", &["dishonesty_list"]),
    (
        "五、经营（活动）异常名录（状态）信息",
        &["abnormal_operations"],
    ),
    ("六、信用承诺及其履行情况信息", &["credit_commitments"]),
    ("七、信用评价信息", &["credit_evaluations"]),
    ("八、司法判决及执行信息", &["judicial_records"]),
    ("九、职称和职业资格信息", &["qualifications"]),
    ("十、其他信息", &["other_information"]),
    ("十一、信用状况提升建议", &[]),
    ("十二、地方信用网站公共信用信息报告补充内容", &[]),
];

/// What the issuer puts on every report.
#[derive(Clone, Debug, Default)]
pub struct Issuer {
    /// 报告出具单位.
    pub name: String,
    /// Where to verify a report.
    pub verify_url: String,
    /// How to object.
    pub objection_contact: String,
}

/// A public credit information report (附录A) as issued in JSON: the document the
/// HTML page and the PDF are rendered from.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = CreditReport)]
pub struct Report {
    /// 封面.
    pub cover: Cover,
    /// 信息概览.
    pub overview: Overview,
    /// 报告说明.
    pub notes: Notes,
    /// The twelve sections of the body, in order.
    pub sections: Vec<ReportSection>,
}

/// The cover of a report.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Cover {
    /// 报告名称.
    pub report_name: String,
    /// 信用主体名称.
    pub subject_name: String,
    /// 统一社会信用代码 (an enterprise's or organisation's report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uscc: Option<String>,
    /// 身份证号码, masked (a person's report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// 报告出具单位.
    pub issuer: String,
    /// 生成时间 (RFC 3339, Beijing time).
    pub generated_at: String,
    /// 报告编号.
    pub report_number: String,
    /// 验证码: checks the number against the content (null while it is computed).
    pub verification_code: Option<String>,
    /// The report format's version.
    pub version: String,
}

/// The overview of a report: the subject's basic information and each section's count.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// 基础信息.
    pub basic: Basic,
    /// How many entries each section holds.
    pub counts: Vec<SectionCount>,
}

/// The subject's basic information on the overview.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Basic {
    /// 名称.
    pub name: String,
    /// 统一社会信用代码 (an enterprise or organisation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uscc: Option<String>,
    /// 所在地区 (an enterprise or organisation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// 行业代码 (an enterprise or organisation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry_code: Option<String>,
    /// 身份证号码, masked (a person).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
}

/// A section's title and count, on the overview.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SectionCount {
    /// The section's title.
    pub section: String,
    /// How many entries it holds.
    pub count: usize,
}

/// The notes of a report (报告说明).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Notes {
    /// 免责条款.
    pub disclaimer: String,
    /// 报告使用要求.
    #[serde(rename = "use")]
    pub use_: String,
    /// 报告数据来源.
    pub data_sources: String,
    /// 报告验证方式.
    pub verification: String,
    /// 异议方式.
    pub objection: String,
}

/// One section of a report's body.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ReportSection {
    /// Its title.
    pub section: String,
    /// How many entries it holds.
    pub count: usize,
    /// Its entries: records (each with `source_table`, the Chinese name of its table),
    /// or the advice of section 11.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<Value>,
    /// 本部分无记录。 when the section is empty; else null.
    pub statement: Option<String>,
}

/// Builds a report from the subject's disclosed records (`records::disclosed`, by
/// catalog table); returns it with its number and verification code filled in, as the
/// JSON of a [`Report`].
pub fn build(
    subject: Subject<'_>,
    disclosed: &[Section],
    issuer: &Issuer,
    at: DateTime<FixedOffset>,
    number: &str,
    key: &[u8],
) -> Value {
    let table = |id: &str| disclosed.iter().find(|s| s.table == id);
    let mut sections = Vec::new();
    let mut counts = Vec::new();
    // Negative records shown: penalties, serious-dishonesty and abnormal-operation listings.
    let negative: u64 = ["admin_penalties", "dishonesty_list", "abnormal_operations"]
        .iter()
        .filter_map(|t| table(t))
        .map(|s| s.count as u64)
        .sum();
    for (i, (title, tables)) in SECTIONS.iter().enumerate() {
        let mut records = Vec::new();
        for id in tables.iter() {
            if let Some(s) = table(id) {
                for r in &s.records {
                    let mut r = r.clone();
                    r.insert("source_table".into(), json!(s.name_zh));
                    records.push(Value::Object(r));
                }
            }
        }
        let records = match i {
            10 => vec![advice(negative)],
            11 => Vec::new(),
            _ => records,
        };
        let count = records.len();
        counts.push(SectionCount {
            section: (*title).to_owned(),
            count,
        });
        sections.push(ReportSection {
            section: (*title).to_owned(),
            count,
            records,
            statement: (count == 0).then(|| "本部分无记录。".to_owned()),
        });
    }
    let (report_name, basic) = match subject {
        Subject::Organisation(e) => (
            REPORT_NAME,
            Basic {
                name: e.name.clone(),
                uscc: Some(e.uscc.clone()),
                region: Some(e.region_name.clone()),
                industry_code: Some(e.industry_code.clone()),
                id_number: None,
            },
        ),
        Subject::Person(p) => (
            PERSON_REPORT_NAME,
            Basic {
                name: p.name.clone(),
                uscc: None,
                region: None,
                industry_code: None,
                id_number: Some(p.id_number_masked.clone()),
            },
        ),
    };
    let person = matches!(subject, Subject::Person(_));
    let code = subject.code().to_owned();
    let report = Report {
        cover: Cover {
            report_name: report_name.to_owned(),
            subject_name: subject.name().to_owned(),
            uscc: (!person).then(|| code.clone()),
            id_number: person.then(|| code.clone()),
            issuer: issuer.name.clone(),
            generated_at: at.to_rfc3339(),
            report_number: number.to_owned(),
            verification_code: None,
            version: VERSION.to_owned(),
        },
        overview: Overview { basic, counts },
        notes: Notes {
            disclaimer: "本报告依据报告生成时平台归集的公共信用信息生成，客观反映该时点信用主体的公共信用状况，不构成对信用主体的任何评价或担保。".into(),
            use_: "本报告仅供依法依规参考使用，使用者应妥善保管，不得用于违法用途。".into(),
            data_sources: "数据来源于各数源单位依法归集的公共信用信息；超过公示期的信息已转为归档，不予公示；依法撤销的信息不予公示。".into(),
            verification: format!("凭报告编号和验证码在 {} 验证报告真伪；报告内容任何改动都将无法通过验证。", issuer.verify_url),
            objection: format!("信用主体认为信息有误的，可提出异议：{}。异议处理期间相关信息标注“异议处理中”。", issuer.objection_contact),
        },
        sections,
    };
    let mut report = serde_json::to_value(&report).unwrap_or(Value::Null);
    let code = report_id::verification_code(key, number, subject.code(), &canonical(&report));
    report["cover"]["verification_code"] = json!(code);
    report
}

/// The Chinese label of a record's field, from the columns of the record's own table
/// (named by its `source_table`) first, then of any table.
pub fn field_label(record: &Value, field: &str) -> String {
    match field {
        "disclosed_through" => return "公示截止日期".into(),
        "mark" => return "标注".into(),
        "correction" => return "更正说明".into(),
        "source_table" => return "信息类别".into(),
        "advice" => return "建议".into(),
        "negative_records" => return "不良信息条数".into(),
        _ => {}
    }
    let tables = &catalog::Manifest::builtin().tables;
    let own = tables
        .iter()
        .filter(|t| record["source_table"] == t.name_zh.as_str());
    own.chain(tables.iter())
        .flat_map(|t| t.columns.iter())
        .find(|c| c.name == field)
        .map(|c| c.name_zh.clone())
        .unwrap_or_else(|| field.to_owned())
}

/// A record's fields as a person reads them, in order: each under its Chinese label
/// ([`field_label`]), its value in words. A code column whose Chinese twin is in the
/// record (`role` beside `role_zh`) is left out, a code without one is translated
/// (`severity`), null reads "—", and `mark` is a row like any other (标注; the pages
/// take it out first and show a badge instead). The pages, the printable report and the PDF show records through
/// it, so none of them shows `legal_representative` where 法定代表人 is meant.
pub fn readable_fields(record: &Value) -> Vec<(String, String)> {
    let Some(fields) = record.as_object() else {
        return Vec::new();
    };
    fields
        .iter()
        .filter(|(k, _)| !fields.contains_key(&format!("{k}_zh")))
        .map(|(k, v)| (field_label(record, k), readable_value(k, v)))
        .collect()
}

/// A value as a person reads it: codes of the catalog in Chinese, null as "—".
pub fn readable_value(field: &str, value: &Value) -> String {
    match (field, value) {
        (_, Value::Null) => "—".into(),
        (_, Value::String(s)) if s.is_empty() => "—".into(),
        ("severity", Value::String(s)) => match s.as_str() {
            "general" => "一般".into(),
            "serious" => "情节严重".into(),
            other => other.to_owned(),
        },
        (_, Value::Bool(true)) => "是".into(),
        (_, Value::Bool(false)) => "否".into(),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// The Chinese label of a field of the overview's basic information.
pub fn basic_label(field: &str) -> &str {
    match field {
        "uscc" => "统一社会信用代码",
        "id_number" => "身份证号码",
        "name" => "名称",
        "region" => "所在地区",
        "industry_code" => "行业代码",
        other => other,
    }
}

/// The notes of the report (报告说明), by key, with their printed titles.
pub const NOTES: [(&str, &str); 5] = [
    ("disclaimer", "免责条款"),
    ("use", "报告使用要求"),
    ("data_sources", "报告数据来源"),
    ("verification", "报告验证方式"),
    ("objection", "异议方式"),
];

/// A report time as printed, in Beijing time whatever offset it was stored with:
/// `2026年11月20日 09:30:00`.
pub fn display_time(value: &Value) -> String {
    let text = value.as_str().unwrap_or_default();
    let beijing = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    DateTime::parse_from_rfc3339(text)
        .map(|t| {
            t.with_timezone(&beijing)
                .format("%Y年%m月%d日 %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| text.to_owned())
}

/// The bytes the verification code covers: the report's JSON with the code left out.
pub fn canonical(report: &Value) -> Vec<u8> {
    let mut copy = report.clone();
    copy["cover"]["verification_code"] = Value::Null;
    serde_json::to_vec(&copy).unwrap_or_default()
}

fn advice(negative: u64) -> Value {
    let text = if negative == 0 {
        "未发现不良信息。建议继续依法合规经营，保持良好信用记录。"
    } else {
        "存在不良信息。建议依法纠正失信行为，按规定申请信用修复，增强诚信守法意识。"
    };
    json!({ "advice": text, "negative_records": negative })
}

#[cfg(test)]
mod tests {

    #[test]
    fn records_read_in_chinese_without_their_codes() {
        let record = serde_json::json!({
            "role": "legal_representative",
            "role_zh": "法定代表人",
            "severity": "serious",
            "decision_date": null,
        });
        let fields = readable_fields(&record);
        let values: Vec<&str> = fields.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, ["法定代表人", "情节严重", "—"], "{fields:?}");
        assert!(
            fields.iter().all(|(label, _)| !label.is_ascii()),
            "{fields:?}"
        );
    }

    use super::*;

    fn entry() -> Entry {
        Entry {
            subject_id: "E1".into(),
            uscc: "91330106MA2B1C3D4E".into(),
            name: "杭州示例有限公司".into(),
            industry_code: "O8010".into(),
            region_name: "杭州市西湖区".into(),
        }
    }

    fn issuer() -> Issuer {
        Issuer {
            name: "浙江省公共信用信息平台".into(),
            verify_url: "/api/v1/public/reports/verify".into(),
            objection_contact: "/api/v1/public/objections".into(),
        }
    }

    #[test]
    fn times_are_shown_in_beijing_time_whatever_their_offset() {
        for stored in ["2026-12-04T21:50:49Z", "2026-12-05T05:50:49+08:00"] {
            assert_eq!(
                display_time(&json!(stored)),
                "2026年12月05日 05:50:49",
                "{stored}"
            );
        }
        assert_eq!(display_time(&json!("not a time")), "not a time");
    }

    #[test]
    fn every_section_is_there_and_empty_ones_say_so() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T10:00:00+08:00").expect("time");
        let record = json!({ "record_id": "R1", "decision_date": "2025-01-01" });
        let disclosed = vec![Section {
            section: 2,
            table: "admin_penalties".into(),
            name_zh: "行政处罚信息".into(),
            source_unit: String::new(),
            count: 1,
            records: vec![record.as_object().cloned().unwrap_or_default()],
        }];
        let r = build(
            Subject::Organisation(&entry()),
            &disclosed,
            &issuer(),
            at,
            "202611221000000042",
            b"key",
        );
        assert_eq!(r["sections"].as_array().map(Vec::len), Some(12));
        assert_eq!(r["sections"][1]["count"], 1);
        assert_eq!(r["sections"][0]["statement"], "本部分无记录。");
        assert_eq!(r["sections"][10]["records"][0]["negative_records"], 1);
        for field in [
            "report_name",
            "subject_name",
            "uscc",
            "issuer",
            "generated_at",
            "report_number",
            "verification_code",
            "version",
        ] {
            assert!(!r["cover"][field].is_null(), "{field}");
        }
        // The code verifies the report, and not a changed one.
        let code = r["cover"]["verification_code"].as_str().expect("code");
        assert!(report_id::verify(
            b"key",
            "202611221000000042",
            "91330106MA2B1C3D4E",
            &canonical(&r),
            code
        ));
        let mut changed = r.clone();
        changed["sections"][1]["records"][0]["decision_date"] = json!("2025-01-02");
        assert!(!report_id::verify(
            b"key",
            "202611221000000042",
            "91330106MA2B1C3D4E",
            &canonical(&changed),
            code
        ));
    }
}
