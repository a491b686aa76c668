//! 二、行政管理信息: licences, penalties and other administrative actions.

use chrono::{Datelike, Days, NaiveDate};

use super::{
    Head, SubjectType, event_date, fen, for_each_enterprise, for_each_person, head, is_edge,
    local_unit, maybe_withdrawn, stream,
};
use crate::rng::Rng;
use crate::subjects::{EnterpriseProfile, days_before, years_before};
use crate::writer::TableWriter;
use crate::{SampleError, World, edge};

/// (licence name, type, content, document prefix, department, industry sections it fits; empty = any).
const LICENCES: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "食品经营许可证",
        "普通",
        "预包装食品销售、热食类食品制售",
        "JY",
        "市场监督管理局",
        "FH",
    ),
    (
        "食品生产许可证",
        "普通",
        "糕点、速冻食品生产",
        "SC",
        "市场监督管理局",
        "CA",
    ),
    (
        "道路运输经营许可证",
        "普通",
        "道路普通货物运输",
        "浙交运管许可",
        "交通运输局",
        "G",
    ),
    (
        "建筑工程施工许可证",
        "普通",
        "住宅房屋建筑工程施工",
        "JZ",
        "住房和城乡建设局",
        "EK",
    ),
    (
        "排污许可证",
        "普通",
        "废水、废气污染物排放",
        "PW",
        "生态环境局",
        "C",
    ),
    (
        "增值电信业务经营许可证",
        "特许",
        "第二类增值电信业务中的信息服务业务",
        "浙B2-",
        "通信管理局",
        "IL",
    ),
    (
        "公共场所卫生许可证",
        "普通",
        "住宿、餐饮场所卫生",
        "WS",
        "卫生健康委员会",
        "HO",
    ),
    (
        "养老机构备案",
        "登记",
        "养老机构设立备案",
        "YL",
        "民政局",
        "Q",
    ),
    (
        "人力资源服务许可证",
        "普通",
        "职业中介活动",
        "RL",
        "人力资源和社会保障局",
        "LO",
    ),
    ("取水许可证", "普通", "地表水取水", "QS", "水利局", "AC"),
    (
        "公众聚集场所投入使用、营业前消防安全检查合格证",
        "核准",
        "公众聚集场所消防安全检查",
        "XF",
        "消防救援支队",
        "FHQ",
    ),
    (
        "城镇污水排入排水管网许可证",
        "普通",
        "污水排入排水管网",
        "PS",
        "综合行政执法局",
        "",
    ),
    (
        "户外广告设置许可",
        "普通",
        "户外广告设施设置",
        "HW",
        "综合行政执法局",
        "LF",
    ),
];

/// (violation, legal basis, department).
const VIOLATIONS: &[(&str, &str, &str)] = &[
    (
        "销售不合格产品",
        "《中华人民共和国产品质量法》第四十九条",
        "市场监督管理局",
    ),
    (
        "虚假宣传",
        "《中华人民共和国反不正当竞争法》第二十条",
        "市场监督管理局",
    ),
    (
        "经营超过保质期的食品",
        "《中华人民共和国食品安全法》第一百二十四条",
        "市场监督管理局",
    ),
    (
        "不按规定明码标价",
        "《中华人民共和国价格法》第四十二条",
        "市场监督管理局",
    ),
    (
        "超标排放大气污染物",
        "《中华人民共和国大气污染防治法》第九十九条",
        "生态环境局",
    ),
    (
        "未批先建",
        "《中华人民共和国环境影响评价法》第三十一条",
        "生态环境局",
    ),
    (
        "未按期办理纳税申报",
        "《中华人民共和国税收征收管理法》第六十二条",
        "国家税务总局税务局",
    ),
    (
        "未按规定开具发票",
        "《中华人民共和国发票管理办法》第三十五条",
        "国家税务总局税务局",
    ),
    (
        "未落实安全生产主体责任",
        "《中华人民共和国安全生产法》第九十七条",
        "应急管理局",
    ),
    (
        "消防设施未保持完好有效",
        "《中华人民共和国消防法》第六十条",
        "消防救援支队",
    ),
    (
        "拖欠劳动者工资",
        "《保障农民工工资支付条例》第五十四条",
        "人力资源和社会保障局",
    ),
    (
        "违法建设",
        "《浙江省城乡规划条例》第五十五条",
        "综合行政执法局",
    ),
];

const DEPT_ABBREVIATIONS: &[(&str, &str)] = &[
    ("市场监督管理局", "市监"),
    ("生态环境局", "环"),
    ("国家税务总局税务局", "税"),
    ("应急管理局", "应急"),
    ("消防救援支队", "消"),
    ("人力资源和社会保障局", "人社"),
    ("综合行政执法局", "综执"),
];

fn abbreviation(dept: &str) -> &'static str {
    DEPT_ABBREVIATIONS
        .iter()
        .find(|(d, _)| *d == dept)
        .map(|(_, a)| *a)
        .unwrap_or("")
}

fn licence_row(
    w: &mut TableWriter,
    world: &World,
    r: &mut Rng,
    p: &EnterpriseProfile,
    date: NaiveDate,
    licence: (&str, &str, &str, &str, &str),
) -> Result<(), SampleError> {
    let (name, kind, content, prefix, dept) = licence;
    let unit = if dept.starts_with("中国人民银行") || dept.starts_with("浙江省") {
        dept.to_owned()
    } else if dept == "通信管理局" {
        "浙江省通信管理局".to_owned()
    } else {
        local_unit(p.region, dept, r.chance(0.7))
    };
    let number = format!(
        "{prefix}{}{}{:06}",
        p.region.code,
        date.year(),
        r.below(1_000_000)
    );
    let valid_to = if kind == "登记" {
        None
    } else {
        Some(date + Days::new(5 * 365))
    };
    head(
        w,
        Head {
            prefix: "LIC",
            subject_id: &p.subject_id,
            subject_type: SubjectType::Enterprise,
            class: "basic",
            date,
            source_unit: &unit,
            withdrawn: maybe_withdrawn(r, world, date),
        },
    )
    .text(&number)
    .text(name)
    .text(kind)
    .text(content)
    .date(date)
    .opt_date(valid_to);
    w.end_row()
}

/// `admin_licences`.
pub(crate) fn licences(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    for_each_enterprise(world, |p| {
        if p.quiet {
            return Ok(());
        }
        let mut r = stream(world, "admin_licences", p.index, false);
        let section = p.industry.code.chars().next().unwrap_or('Z');
        let fitting: Vec<_> = LICENCES
            .iter()
            .filter(|l| l.5.is_empty() || l.5.contains(section))
            .collect();
        for _ in 0..r.poisson(1.6) {
            let l = *r.pick(&fitting);
            let date = event_date(&mut r, world, p.established);
            licence_row(w, world, &mut r, p, date, (l.0, l.1, l.2, l.3, l.4))?;
        }
        if p.subject_id == edge::MODEL_APPLICANT {
            let date = years_before(world.as_of, 3);
            licence_row(
                w,
                world,
                &mut r,
                p,
                date,
                (
                    "企业征信机构备案证明",
                    "登记",
                    "企业征信业务经营备案",
                    "ZX",
                    "中国人民银行浙江省分行",
                ),
            )?;
        }
        Ok(())
    })
}

fn penalty_row(
    w: &mut TableWriter,
    r: &mut Rng,
    world: &World,
    subject: (&str, SubjectType, &crate::vocab::Region),
    date: NaiveDate,
    serious: bool,
    fixed_withdrawal: Option<Option<NaiveDate>>,
) -> Result<(), SampleError> {
    let (violation, basis, dept) = *r.pick(VIOLATIONS);
    let district_level = r.chance(0.75);
    let unit = local_unit(subject.2, dept, district_level);
    let place = if district_level {
        subject.2.district
    } else {
        subject.2.city
    };
    let place: String = place.chars().take(2).collect();
    let number = format!(
        "{place}{}罚〔{}〕{}号",
        abbreviation(dept),
        date.year(),
        r.between(1, 2999)
    );
    let (kind, amount) = if serious {
        let kind = *r.pick(&[
            "罚款",
            "没收违法所得、罚款",
            "责令停产停业、罚款",
            "吊销许可证件",
            "暂扣许可证件、罚款",
        ]);
        let amount = (kind != "吊销许可证件").then(|| fen(r.between(50, 2000) as f64 * 1000.0));
        (kind, amount)
    } else {
        let kind = *r.pick(&["警告", "罚款", "罚款", "罚款", "警告、罚款"]);
        let amount = (kind != "警告").then(|| fen(r.between(5, 500) as f64 * 100.0));
        (kind, amount)
    };
    let facts = format!("当事人存在{violation}的违法行为，经调查属实。");
    head(
        w,
        Head {
            prefix: "PEN",
            subject_id: subject.0,
            subject_type: subject.1,
            class: "negative",
            date,
            source_unit: &unit,
            withdrawn: fixed_withdrawal.unwrap_or_else(|| maybe_withdrawn(r, world, date)),
        },
    )
    .text(&number)
    .text(kind)
    .text(if serious { "serious" } else { "general" })
    .text(violation)
    .text(&facts)
    .text(basis)
    .opt_money_fen(amount);
    w.end_row()
}

/// `admin_penalties`.
pub(crate) fn penalties(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    for_each_enterprise(world, |p| {
        let mut r = stream(world, "admin_penalties", p.index, false);
        let subject = (p.subject_id.as_str(), SubjectType::Enterprise, p.region);
        if is_edge(p) {
            let five = years_before(world.as_of, 5);
            let mut fixed = Vec::new();
            if p.subject_id == edge::WINDOW_BOUNDARY {
                // Serious penalties at the five-year boundary, general ones at one year,
                // serious ones at three years: one day inside, on, and one day outside.
                for base in [
                    (five, true),
                    (years_before(world.as_of, 3), true),
                    (years_before(world.as_of, 1), false),
                ] {
                    for offset in [-1i64, 0, 1] {
                        let d = if offset < 0 {
                            base.0 - Days::new(1)
                        } else {
                            base.0 + Days::new(offset as u64)
                        };
                        fixed.push((d, base.1, None));
                    }
                }
            }
            if p.subject_id == edge::WITHDRAWN_RECORD {
                fixed.push((
                    days_before(world.as_of, 100),
                    false,
                    Some(days_before(world.as_of, 2)),
                ));
                fixed.push((days_before(world.as_of, 50), false, None));
            }
            for (date, serious, withdrawn) in fixed {
                // Fixed records are never withdrawn at random.
                penalty_row(w, &mut r, world, subject, date, serious, Some(withdrawn))?;
            }
            return Ok(());
        }
        if p.quiet {
            return Ok(());
        }
        for _ in 0..r.poisson(0.25 + 4.0 * p.risk * p.risk) {
            let date = event_date(&mut r, world, p.established);
            let serious = r.chance(0.08 + 0.4 * p.risk);
            penalty_row(w, &mut r, world, subject, date, serious, None)?;
        }
        Ok(())
    })?;
    for_each_person(world, |p| {
        if p.quiet || p.index < edge::PERSONS {
            return Ok(());
        }
        let mut r = stream(world, "admin_penalties", p.index, true);
        for _ in 0..r.poisson(0.02 + 0.3 * p.risk * p.risk) {
            let date = event_date(&mut r, world, p.birth_date + Days::new(18 * 366));
            let serious = r.chance(0.1);
            penalty_row(
                w,
                &mut r,
                world,
                (&p.subject_id, SubjectType::Person, p.region),
                date,
                serious,
                None,
            )?;
        }
        Ok(())
    })
}

/// (kind, Chinese name, contents, department).
const ACTIONS: &[(&str, &str, &[&str], &str)] = &[
    (
        "enforcement",
        "行政强制",
        &[
            "查封涉案场所、设施",
            "扣押涉案物品",
            "冻结存款",
            "强制拆除违法建筑",
        ],
        "市场监督管理局",
    ),
    (
        "confirmation",
        "行政确认",
        &[
            "高新技术企业认定",
            "科技型中小企业评价入库",
            "工伤认定",
            "安全生产标准化三级企业确认",
        ],
        "科学技术局",
    ),
    (
        "levy",
        "行政征收",
        &[
            "城市基础设施配套费征收",
            "污水处理费征收",
            "残疾人就业保障金征收",
        ],
        "综合行政执法局",
    ),
    (
        "payment",
        "行政给付",
        &["稳岗返还", "就业补贴发放", "社会保险补贴发放"],
        "人力资源和社会保障局",
    ),
    (
        "ruling",
        "行政裁决",
        &["专利侵权纠纷行政裁决", "土地权属争议裁决"],
        "市场监督管理局",
    ),
    (
        "compensation",
        "行政补偿",
        &["国有土地上房屋征收补偿", "行政征用补偿"],
        "住房和城乡建设局",
    ),
    (
        "reward",
        "行政奖励",
        &[
            "安全生产先进单位表彰",
            "科学技术进步奖",
            "外贸出口突出贡献奖励",
        ],
        "人民政府",
    ),
];

const INSPECTION_TOPICS: &[(&str, &str)] = &[
    ("产品质量", "市场监督管理局"),
    ("食品安全", "市场监督管理局"),
    ("安全生产", "应急管理局"),
    ("生态环境保护", "生态环境局"),
    ("消防安全", "消防救援支队"),
    ("劳动保障", "人力资源和社会保障局"),
];

/// `admin_actions`.
pub(crate) fn actions(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    for_each_enterprise(world, |p| {
        if p.quiet || is_edge(p) {
            return Ok(());
        }
        let mut r = stream(world, "admin_actions", p.index, false);
        let inspections = r.poisson(1.2);
        for _ in 0..inspections {
            let date = event_date(&mut r, world, p.established);
            let (topic, dept) = *r.pick(INSPECTION_TOPICS);
            let failed = r.chance(0.04 + 0.5 * p.risk);
            let unit = local_unit(p.region, dept, true);
            head(
                w,
                Head {
                    prefix: "ACT",
                    subject_id: &p.subject_id,
                    subject_type: SubjectType::Enterprise,
                    class: if failed { "negative" } else { "other" },
                    date,
                    source_unit: &unit,
                    withdrawn: maybe_withdrawn(&mut r, world, date),
                },
            )
            .text("inspection")
            .text("行政监督检查")
            .text(if failed { "不合格" } else { "合格" })
            .text(&format!("{}{topic}“双随机、一公开”抽查", unit));
            w.end_row()?;
        }
        let enforcement = r.poisson(0.02 + 0.8 * p.risk * p.risk);
        let others = r.poisson(0.9);
        let kinds = (0..enforcement)
            .map(|_| 0usize)
            .chain((0..others).map(|_| 1usize));
        let kinds: Vec<usize> = kinds.collect();
        for k in kinds {
            let action = if k == 0 {
                &ACTIONS[0]
            } else {
                &ACTIONS[1 + r.below(ACTIONS.len() as u64 - 1) as usize]
            };
            let date = event_date(&mut r, world, p.established);
            let class = match action.0 {
                "enforcement" => "negative",
                "reward" => "positive",
                _ => "other",
            };
            let unit = local_unit(p.region, action.3, action.3 != "人民政府");
            head(
                w,
                Head {
                    prefix: "ACT",
                    subject_id: &p.subject_id,
                    subject_type: SubjectType::Enterprise,
                    class,
                    date,
                    source_unit: &unit,
                    withdrawn: maybe_withdrawn(&mut r, world, date),
                },
            )
            .text(action.0)
            .text(action.1)
            .opt_text(None)
            .text(r.pick::<&str>(action.2));
            w.end_row()?;
        }
        Ok(())
    })
}
