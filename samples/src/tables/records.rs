//! 六至十: commitments, evaluations, judgements, qualifications and other information.

use chrono::{Datelike, Days, NaiveDate};

use super::{
    Head, SubjectType, event_date, fen, for_each_enterprise, for_each_person, head, is_edge,
    local_unit, maybe_withdrawn, stream,
};
use crate::rng::Rng;
use crate::subjects::days_before;
use crate::writer::TableWriter;
use crate::{SampleError, World, edge};

const COMMITMENTS: &[(&str, &str)] = &[
    ("证明事项告知承诺", "办理证明事项时承诺所提交材料真实、有效"),
    (
        "涉企经营许可事项告知承诺",
        "承诺已具备经营许可所需条件并按要求提交材料",
    ),
    (
        "信用修复承诺",
        "承诺纠正失信行为并在规定期限内不再发生同类违法行为",
    ),
    ("主动型信用承诺", "向社会公开承诺依法诚信经营"),
    ("校企合作承诺", "承诺支持职业学校师生实习实践"),
];

/// `credit_commitments`.
pub(crate) fn commitments(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    for_each_enterprise(world, |p| {
        if p.quiet {
            return Ok(());
        }
        let mut r = stream(world, "credit_commitments", p.index, false);
        for _ in 0..r.poisson(1.0) {
            let date = event_date(&mut r, world, p.established);
            let (kind, content) = *r.pick(COMMITMENTS);
            let due = (world.as_of - date).num_days() > 180 || r.chance(0.5);
            let fulfilled = due.then(|| is_edge(p) || !r.chance(0.02 + 0.35 * p.risk));
            let class = if fulfilled == Some(false) {
                "negative"
            } else {
                "other"
            };
            let unit = local_unit(p.region, "发展和改革委员会", r.chance(0.5));
            head(
                w,
                Head {
                    prefix: "COM",
                    subject_id: &p.subject_id,
                    subject_type: SubjectType::Enterprise,
                    class,
                    date,
                    source_unit: &unit,
                    withdrawn: if is_edge(p) {
                        None
                    } else {
                        maybe_withdrawn(&mut r, world, date)
                    },
                },
            )
            .text(kind)
            .text(content)
            .opt_boolean(fulfilled);
            w.end_row()?;
        }
        Ok(())
    })
}

fn public_grade(score: f64) -> &'static str {
    if score >= 850.0 {
        "优"
    } else if score >= 700.0 {
        "良"
    } else if score >= 550.0 {
        "中"
    } else {
        "差"
    }
}

/// `credit_evaluations`.
pub(crate) fn evaluations(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    for_each_enterprise(world, |p| {
        if p.quiet {
            return Ok(());
        }
        let mut r = stream(world, "credit_evaluations", p.index, false);
        let date = days_before(world.as_of, r.between(30, 300)).max(p.established);
        let mut score = (1000.0 * (0.93 - 0.7 * p.risk + 0.06 * r.normal()))
            .clamp(300.0, 990.0)
            .round();
        score = match p.subject_id.as_str() {
            edge::POOR_EVALUATION => 480.0,
            edge::MODEL_APPLICANT => 912.0,
            _ if is_edge(p) => 780.0,
            _ => score,
        };
        head(
            w,
            Head {
                prefix: "EVA",
                subject_id: &p.subject_id,
                subject_type: SubjectType::Enterprise,
                class: "other",
                date,
                source_unit: "浙江省信用中心",
                withdrawn: None,
            },
        )
        .text("公共信用综合评价")
        .text(public_grade(score))
        .opt_float(Some(score))
        .date(date + Days::new(365));
        w.end_row()?;

        if r.chance(0.55) {
            let year_end = chrono::NaiveDate::from_ymd_opt(world.as_of.year() - 1, 12, 31)
                .unwrap_or(world.as_of);
            let date = days_before(year_end, -r.between(90, 150)).min(world.as_of);
            let x = 1.0 - p.risk + 0.1 * r.normal();
            let grade = if x > 0.85 {
                "A"
            } else if x > 0.7 {
                "B"
            } else if x > 0.55 {
                "M"
            } else if x > 0.4 {
                "C"
            } else {
                "D"
            };
            head(
                w,
                Head {
                    prefix: "EVA",
                    subject_id: &p.subject_id,
                    subject_type: SubjectType::Enterprise,
                    class: "other",
                    date: date.max(p.established),
                    source_unit: "国家税务总局浙江省税务局",
                    withdrawn: None,
                },
            )
            .text("纳税信用等级")
            .text(if is_edge(p) { "A" } else { grade })
            .opt_float(None)
            .date(date + Days::new(365));
            w.end_row()?;
        }
        let sector = match p.industry.code.chars().next() {
            Some('E') => Some(("建筑市场主体信用评价", "住房和城乡建设厅")),
            Some('O') => Some(("家政服务机构信用评价", "商务厅")),
            Some('Q') => Some(("养老机构信用评价", "民政厅")),
            _ => None,
        };
        if let Some((system, dept)) = sector {
            let x = 1.0 - p.risk + 0.1 * r.normal();
            let grade = if x > 0.85 {
                "AAA"
            } else if x > 0.7 {
                "AA"
            } else if x > 0.55 {
                "A"
            } else if x > 0.4 {
                "B"
            } else {
                "C"
            };
            let date = days_before(world.as_of, r.between(30, 700)).max(p.established);
            head(
                w,
                Head {
                    prefix: "EVA",
                    subject_id: &p.subject_id,
                    subject_type: SubjectType::Enterprise,
                    class: "other",
                    date,
                    source_unit: &format!("浙江省{dept}"),
                    withdrawn: None,
                },
            )
            .text(system)
            .text(grade)
            .opt_float(None)
            .date(date + Days::new(2 * 365));
            w.end_row()?;
        }
        Ok(())
    })
}

const CIVIL_CAUSES: &[&str] = &[
    "买卖合同纠纷",
    "借款合同纠纷",
    "金融借款合同纠纷",
    "劳动争议",
    "租赁合同纠纷",
    "建设工程施工合同纠纷",
    "服务合同纠纷",
];
const CRIMINAL_CAUSES: &[&str] = &[
    "虚开增值税专用发票罪",
    "非法吸收公众存款罪",
    "合同诈骗罪",
    "污染环境罪",
    "重大责任事故罪",
];

#[derive(Clone, Copy)]
enum CaseKind {
    Criminal,
    Civil,
    Enforcement,
    Bankruptcy,
}

/// `judicial_records`.
pub(crate) fn judicial(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    let write = |w: &mut TableWriter,
                 r: &mut crate::Rng,
                 subject: (&str, SubjectType, &crate::vocab::Region),
                 kind: CaseKind,
                 date: chrono::NaiveDate,
                 risk: f64|
     -> Result<(), SampleError> {
        let court = format!("{}{}人民法院", subject.2.city, subject.2.district);
        let court_code = &subject.2.code[2..6];
        let (code, zh, mark, cause) = match kind {
            CaseKind::Criminal => ("criminal", "刑事判决", "刑初", *r.pick(CRIMINAL_CAUSES)),
            CaseKind::Civil => ("civil", "民事判决", "民初", *r.pick(CIVIL_CAUSES)),
            CaseKind::Enforcement => ("enforcement", "案件执行", "执", *r.pick(CIVIL_CAUSES)),
            CaseKind::Bankruptcy => (
                "bankruptcy",
                "破产状态",
                "破",
                *r.pick(&["破产清算", "破产重整"]),
            ),
        };
        let number = format!(
            "({}){}{court_code}{mark}{}号",
            date.year(),
            "浙",
            r.between(1, 19999)
        );
        let amount = matches!(kind, CaseKind::Civil | CaseKind::Enforcement)
            .then(|| fen(10f64.powf(4.0 + 2.5 * r.unit()).round()));
        let fulfilled = matches!(kind, CaseKind::Civil | CaseKind::Enforcement)
            .then(|| !r.chance(0.08 + 0.6 * risk));
        let class = if matches!(kind, CaseKind::Criminal) || fulfilled == Some(false) {
            "negative"
        } else {
            "other"
        };
        head(
            w,
            Head {
                prefix: "JUD",
                subject_id: subject.0,
                subject_type: subject.1,
                class,
                date,
                source_unit: &court,
                withdrawn: maybe_withdrawn(r, world, date),
            },
        )
        .text(&number)
        .text(code)
        .text(zh)
        .text(&court)
        .text(cause)
        .opt_money_fen(amount)
        .opt_boolean(fulfilled);
        w.end_row()
    };
    for_each_enterprise(world, |p| {
        if p.quiet || is_edge(p) {
            return Ok(());
        }
        let mut r = stream(world, "judicial_records", p.index, false);
        let rr = p.risk * p.risk;
        let mut kinds = Vec::new();
        kinds.extend((0..r.poisson(0.08 + 1.5 * rr)).map(|_| CaseKind::Civil));
        kinds.extend((0..r.poisson(0.03 + 1.0 * rr)).map(|_| CaseKind::Enforcement));
        if r.chance(0.003 + 0.04 * rr * p.risk) {
            kinds.push(CaseKind::Criminal);
        }
        if r.chance(0.12 * rr * rr) {
            kinds.push(CaseKind::Bankruptcy);
        }
        for kind in kinds {
            let date = event_date(&mut r, world, p.established);
            write(
                w,
                &mut r,
                (&p.subject_id, SubjectType::Enterprise, p.region),
                kind,
                date,
                p.risk,
            )?;
        }
        Ok(())
    })?;
    for_each_person(world, |p| {
        if p.quiet || p.index < edge::PERSONS {
            return Ok(());
        }
        let mut r = stream(world, "judicial_records", p.index, true);
        let rr = p.risk * p.risk;
        let mut kinds = Vec::new();
        kinds.extend((0..r.poisson(0.05 + 0.5 * rr)).map(|_| CaseKind::Civil));
        kinds.extend((0..r.poisson(0.02 + 0.6 * rr)).map(|_| CaseKind::Enforcement));
        if r.chance(0.002 + 0.03 * rr * p.risk) {
            kinds.push(CaseKind::Criminal);
        }
        for kind in kinds {
            let date = event_date(&mut r, world, p.birth_date + Days::new(18 * 366));
            write(
                w,
                &mut r,
                (&p.subject_id, SubjectType::Person, p.region),
                kind,
                date,
                p.risk,
            )?;
        }
        Ok(())
    })
}

const PERSON_QUALIFICATIONS: &[(&str, Option<&str>, &str, bool)] = &[
    ("注册会计师", None, "浙江省财政厅", true),
    ("一级建造师", None, "浙江省住房和城乡建设厅", true),
    ("执业医师", None, "浙江省卫生健康委员会", false),
    ("律师执业证", None, "浙江省司法厅", true),
    (
        "高级工程师",
        Some("高级"),
        "浙江省人力资源和社会保障厅",
        false,
    ),
    ("工程师", Some("中级"), "浙江省人力资源和社会保障厅", false),
    (
        "会计专业技术资格",
        Some("中级"),
        "浙江省人力资源和社会保障厅",
        false,
    ),
    (
        "电工",
        Some("高级工（三级）"),
        "浙江省职业技能鉴定指导中心",
        false,
    ),
    (
        "家政服务员",
        Some("中级工（四级）"),
        "浙江省职业技能鉴定指导中心",
        false,
    ),
    (
        "养老护理员",
        Some("初级工（五级）"),
        "浙江省职业技能鉴定指导中心",
        false,
    ),
];

const ORGANISATION_QUALIFICATIONS: &[(&str, Option<&str>, &str, &str)] = &[
    (
        "建筑业企业资质·施工总承包",
        Some("三级"),
        "浙江省住房和城乡建设厅",
        "E",
    ),
    (
        "信息系统建设和服务能力等级",
        Some("CS2"),
        "浙江省软件行业协会",
        "I",
    ),
    ("家政服务机构等级", Some("三星"), "浙江省商务厅", "O"),
    ("养老机构等级", Some("二级"), "浙江省民政厅", "Q"),
    ("道路运输企业等级", Some("二级"), "浙江省交通运输厅", "G"),
];

/// `qualifications`.
pub(crate) fn qualifications(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    for_each_person(world, |p| {
        if p.quiet || p.index < edge::PERSONS {
            return Ok(());
        }
        let mut r = stream(world, "qualifications", p.index, true);
        for _ in 0..r.poisson(0.5) {
            let (name, level, unit, expires) = *r.pick(PERSON_QUALIFICATIONS);
            let date = event_date(&mut r, world, p.birth_date + Days::new(22 * 366));
            let number = format!(
                "{}{}{:08}",
                date.year(),
                &p.region.code[..4],
                r.below(100_000_000)
            );
            head(
                w,
                Head {
                    prefix: "QUA",
                    subject_id: &p.subject_id,
                    subject_type: SubjectType::Person,
                    class: "basic",
                    date,
                    source_unit: unit,
                    withdrawn: maybe_withdrawn(&mut r, world, date),
                },
            )
            .text(name)
            .opt_text(level)
            .text(&number)
            .opt_date(expires.then(|| date + Days::new(5 * 365)));
            w.end_row()?;
        }
        Ok(())
    })?;
    for_each_enterprise(world, |p| {
        if p.quiet || is_edge(p) {
            return Ok(());
        }
        let section = p.industry.code.get(..1).unwrap_or("");
        let fitting: Vec<_> = ORGANISATION_QUALIFICATIONS
            .iter()
            .filter(|q| q.3 == section)
            .collect();
        if fitting.is_empty() {
            return Ok(());
        }
        let mut r = stream(world, "qualifications", p.index, false);
        if !r.chance(0.5) {
            return Ok(());
        }
        let (name, level, unit, _) = **r.pick(&fitting);
        let date = event_date(&mut r, world, p.established);
        let number = format!(
            "D{}{}{:06}",
            &p.region.code[..4],
            date.year(),
            r.below(1_000_000)
        );
        head(
            w,
            Head {
                prefix: "QUA",
                subject_id: &p.subject_id,
                subject_type: SubjectType::Enterprise,
                class: "basic",
                date,
                source_unit: unit,
                withdrawn: maybe_withdrawn(&mut r, world, date),
            },
        )
        .text(name)
        .opt_text(level)
        .text(&number)
        .opt_date(Some(date + Days::new(5 * 365)));
        w.end_row()
    })
}

const OTHER_ENTERPRISE: &[(&str, &str)] = &[
    ("自愿提供信息", "企业自愿公开年度社会责任报告"),
    ("校企合作", "与职业技术学院共建实习实训基地"),
    ("公益慈善", "向慈善总会捐赠款物"),
    ("自愿提供信息", "企业自愿提供近三年纳税证明"),
];

const OTHER_PERSON: &[(&str, &str)] = &[
    ("志愿服务", "累计志愿服务时长超过200小时"),
    ("公益慈善", "参与无偿献血"),
];

/// What one subject's other-information rows are drawn from.
struct OtherSource<'a> {
    subject: (&'a str, SubjectType),
    mean: f64,
    choices: &'static [(&'static str, &'static str)],
    since: NaiveDate,
    unit: String,
}

fn other_rows(
    w: &mut TableWriter,
    r: &mut Rng,
    world: &World,
    s: OtherSource<'_>,
) -> Result<(), SampleError> {
    for _ in 0..r.poisson(s.mean) {
        let (category, content) = *r.pick(s.choices);
        let date = event_date(r, world, s.since);
        head(
            w,
            Head {
                prefix: "OTH",
                subject_id: s.subject.0,
                subject_type: s.subject.1,
                class: "other",
                date,
                source_unit: &s.unit,
                withdrawn: maybe_withdrawn(r, world, date),
            },
        )
        .text(category)
        .text(content);
        w.end_row()?;
    }
    Ok(())
}

/// `other_information`.
pub(crate) fn other_information(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    for_each_enterprise(world, |p| {
        if p.quiet || is_edge(p) {
            return Ok(());
        }
        let mut r = stream(world, "other_information", p.index, false);
        let source = OtherSource {
            subject: (&p.subject_id, SubjectType::Enterprise),
            mean: 0.15,
            choices: OTHER_ENTERPRISE,
            since: p.established,
            unit: local_unit(p.region, "发展和改革委员会", false),
        };
        other_rows(w, &mut r, world, source)
    })?;
    for_each_person(world, |p| {
        if p.quiet || p.index < edge::PERSONS {
            return Ok(());
        }
        let mut r = stream(world, "other_information", p.index, true);
        let source = OtherSource {
            subject: (&p.subject_id, SubjectType::Person),
            mean: 0.05,
            choices: OTHER_PERSON,
            since: p.birth_date + Days::new(18 * 366),
            unit: format!("{}志愿者协会", p.region.city),
        };
        other_rows(w, &mut r, world, source)
    })
}
