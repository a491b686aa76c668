//! The public credit information report of an enterprise or organisation (BRIEF Q5,
//! standard 附录A) as data: the cover (report name, subject, code, issuer, generation
//! time, report number, verification code, version), the overview (basic information and
//! the number of records per section), the notes (disclaimer, use, data sources, how to
//! verify, how to object) and the twelve body sections of 附录A, each stated empty when
//! it is. The verification code covers the canonical JSON of everything but itself.

use chrono::{DateTime, FixedOffset};
use serde_json::{Value, json};

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

/// Builds a report from the subject's disclosed records (`records::disclosed`, by
/// catalog table); returns it with its number and verification code filled in.
pub fn build(
    subject: Subject<'_>,
    disclosed: &[Value],
    issuer: &Issuer,
    at: DateTime<FixedOffset>,
    number: &str,
    key: &[u8],
) -> Value {
    let table = |id: &str| disclosed.iter().find(|s| s["table"] == id);
    let mut sections = Vec::new();
    let mut overview = Vec::new();
    // Negative records shown: penalties, serious-dishonesty and abnormal-operation listings.
    let negative: u64 = ["admin_penalties", "dishonesty_list", "abnormal_operations"]
        .iter()
        .filter_map(|t| table(t))
        .map(|s| s["count"].as_u64().unwrap_or(0))
        .sum();
    for (i, (title, tables)) in SECTIONS.iter().enumerate() {
        let mut records = Vec::new();
        for id in tables.iter() {
            if let Some(s) = table(id) {
                for r in s["records"].as_array().into_iter().flatten() {
                    let mut r = r.clone();
                    r["source_table"] = json!(s["name_zh"]);
                    records.push(r);
                }
            }
        }
        let body = match i {
            10 => json!([advice(negative)]),
            11 => json!([]),
            _ => json!(records),
        };
        let count = body.as_array().map_or(0, Vec::len);
        overview.push(json!({ "section": title, "count": count }));
        sections.push(json!({
            "section": title,
            "count": count,
            "records": body,
            "statement": if count == 0 { json!("本部分无记录。") } else { Value::Null },
        }));
    }
    let (report_name, code_field, basic) = match subject {
        Subject::Organisation(e) => (
            REPORT_NAME,
            "uscc",
            json!({
                "uscc": e.uscc,
                "name": e.name,
                "region": e.region_name,
                "industry_code": e.industry_code,
            }),
        ),
        Subject::Person(p) => (
            PERSON_REPORT_NAME,
            "id_number",
            json!({ "name": p.name, "id_number": p.id_number_masked }),
        ),
    };
    let mut report = json!({
        "cover": {
            "report_name": report_name,
            "subject_name": subject.name(),
            code_field: subject.code(),
            "issuer": issuer.name,
            "generated_at": at.to_rfc3339(),
            "report_number": number,
            "verification_code": Value::Null,
            "version": VERSION,
        },
        "overview": {
            "basic": basic,
            "counts": overview,
        },
        "notes": {
            "disclaimer": "本报告依据报告生成时平台归集的公共信用信息生成，客观反映该时点信用主体的公共信用状况，不构成对信用主体的任何评价或担保。",
            "use": "本报告仅供依法依规参考使用，使用者应妥善保管，不得用于违法用途。",
            "data_sources": "数据来源于各数源单位依法归集的公共信用信息；超过公示期的信息已转为归档，不予公示；依法撤销的信息不予公示。",
            "verification": format!("凭报告编号和验证码在 {} 验证报告真伪；报告内容任何改动都将无法通过验证。", issuer.verify_url),
            "objection": format!("信用主体认为信息有误的，可提出异议：{}。异议处理期间相关信息标注“异议处理中”。", issuer.objection_contact),
        },
        "sections": sections,
    });
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

/// A report time as printed: `2026年11月20日 09:30:00`.
pub fn display_time(value: &Value) -> String {
    let text = value.as_str().unwrap_or_default();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.format("%Y年%m月%d日 %H:%M:%S").to_string())
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
    fn every_section_is_there_and_empty_ones_say_so() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T10:00:00+08:00").expect("time");
        let disclosed = vec![json!({
            "table": "admin_penalties", "name_zh": "行政处罚信息", "count": 1,
            "records": [{ "record_id": "R1", "decision_date": "2025-01-01" }]
        })];
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
