//! 三、四、五: honours, the red list, the serious-dishonesty list and the
//! abnormal-operation list.

use chrono::{Days, NaiveDate};

use super::{
    Head, SubjectType, event_date, for_each_enterprise, for_each_person, head, is_edge, local_unit,
    maybe_withdrawn, stream,
};
use crate::rng::Rng;
use crate::subjects::years_before;
use crate::vocab::Region;
use crate::writer::TableWriter;
use crate::{SampleError, World, edge};

const ENTERPRISE_HONOURS: &[(&str, &str)] = &[
    ("浙江省诚信示范企业", "省级"),
    ("浙江省劳动关系和谐企业", "省级"),
    ("市级文明单位", "市级"),
    ("全国五一劳动奖状", "国家级"),
    ("浙江省优秀民营企业", "省级"),
    ("县级安全生产先进单位", "县级"),
    ("市级守法诚信示范单位", "市级"),
];

const PERSON_HONOURS: &[(&str, &str)] = &[
    ("浙江省五一劳动奖章", "省级"),
    ("全国劳动模范", "国家级"),
    ("浙江省道德模范", "省级"),
    ("市级优秀志愿者", "市级"),
    ("县级诚信之星", "县级"),
];

fn honour_row(
    w: &mut TableWriter,
    r: &mut Rng,
    world: &World,
    subject: (&str, SubjectType, &Region),
    date: NaiveDate,
    honour: (&str, &str),
    random_withdrawal: bool,
) -> Result<(), SampleError> {
    let unit = match honour.1 {
        "国家级" => "中华全国总工会".to_owned(),
        "省级" => "浙江省人民政府".to_owned(),
        "市级" => format!("{}人民政府", subject.2.city),
        _ => format!("{}{}人民政府", subject.2.city, subject.2.district),
    };
    let name = honour
        .0
        .replace("市级", subject.2.city)
        .replace("县级", subject.2.district);
    let withdrawn = if random_withdrawal {
        maybe_withdrawn(r, world, date)
    } else {
        None
    };
    head(
        w,
        Head {
            prefix: "HON",
            subject_id: subject.0,
            subject_type: subject.1,
            class: "positive",
            date,
            source_unit: &unit,
            withdrawn,
        },
    )
    .text(&name)
    .text(honour.1);
    w.end_row()
}

/// `honours`.
pub(crate) fn honours(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    for_each_enterprise(world, |p| {
        let mut r = stream(world, "honours", p.index, false);
        let subject = (p.subject_id.as_str(), SubjectType::Enterprise, p.region);
        if p.subject_id == edge::WINDOW_BOUNDARY {
            let five = years_before(world.as_of, 5);
            for date in [five - Days::new(1), five, five + Days::new(1)] {
                honour_row(
                    w,
                    &mut r,
                    world,
                    subject,
                    date,
                    ENTERPRISE_HONOURS[0],
                    false,
                )?;
            }
        }
        if p.quiet || is_edge(p) {
            return Ok(());
        }
        for _ in 0..r.poisson(0.8 * (1.0 - p.risk).powi(4)) {
            let date = event_date(&mut r, world, p.established);
            let honour = *r.pick(ENTERPRISE_HONOURS);
            honour_row(w, &mut r, world, subject, date, honour, true)?;
        }
        Ok(())
    })?;
    for_each_person(world, |p| {
        if p.quiet || p.index < edge::PERSONS {
            return Ok(());
        }
        let mut r = stream(world, "honours", p.index, true);
        for _ in 0..r.poisson(0.06 * (1.0 - p.risk)) {
            let date = event_date(&mut r, world, p.birth_date + Days::new(18 * 366));
            let honour = *r.pick(PERSON_HONOURS);
            honour_row(
                w,
                &mut r,
                world,
                (&p.subject_id, SubjectType::Person, p.region),
                date,
                honour,
                true,
            )?;
        }
        Ok(())
    })
}

/// (list, reason, authority).
const RED_LISTS: &[(&str, &str, &str)] = &[
    (
        "纳税信用A级纳税人",
        "年度纳税信用评价为A级",
        "国家税务总局浙江省税务局",
    ),
    ("海关高级认证企业", "通过海关高级认证", "杭州海关"),
    (
        "浙江省守合同重信用企业",
        "连续两年合同履约良好",
        "浙江省市场监督管理局",
    ),
    (
        "劳动保障守法诚信等级A级单位",
        "劳动保障守法诚信等级评价为A级",
        "浙江省人力资源和社会保障厅",
    ),
];

/// `red_list`.
pub(crate) fn red_list(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    for_each_enterprise(world, |p| {
        let mut r = stream(world, "red_list", p.index, false);
        let mut rows = Vec::new();
        if p.subject_id == edge::MODEL_APPLICANT {
            rows.push((
                RED_LISTS[0],
                years_before(world.as_of, 1) + Days::new(30),
                false,
            ));
        } else if !p.quiet
            && !is_edge(p)
            && p.established < years_before(world.as_of, 3)
            && r.chance(0.45 * (1.0 - p.risk).powi(6))
        {
            let list = *r.pick(RED_LISTS);
            let date = event_date(&mut r, world, years_before(p.established, -3));
            rows.push((list, date, true));
        }
        for ((list, reason, unit), date, random) in rows {
            let valid_until = date + Days::new(r.between(1, 3) as u64 * 365);
            let withdrawn = if random {
                maybe_withdrawn(&mut r, world, date)
            } else {
                None
            };
            head(
                w,
                Head {
                    prefix: "RED",
                    subject_id: &p.subject_id,
                    subject_type: SubjectType::Enterprise,
                    class: "positive",
                    date,
                    source_unit: unit,
                    withdrawn,
                },
            )
            .text(list)
            .text(reason)
            .opt_date(Some(valid_until));
            w.end_row()?;
        }
        Ok(())
    })
}

/// (list, reason, department, for persons too).
const BLACK_LISTS: &[(&str, &str, &str, bool)] = &[
    (
        "失信被执行人",
        "有履行能力而拒不履行生效法律文书确定义务",
        "人民法院",
        true,
    ),
    (
        "重大税收违法失信主体",
        "偷税、逃避追缴欠税",
        "国家税务总局税务局",
        false,
    ),
    (
        "严重违法失信企业名单",
        "被列入经营异常名录届满3年仍未履行相关义务",
        "市场监督管理局",
        false,
    ),
    (
        "拖欠农民工工资失信联合惩戒对象",
        "克扣、无故拖欠农民工工资数额较大",
        "人力资源和社会保障局",
        true,
    ),
    (
        "安全生产严重失信主体",
        "发生较大生产安全事故",
        "应急管理局",
        false,
    ),
];

struct Listing {
    list: usize,
    listed: NaiveDate,
    removed: Option<(NaiveDate, &'static str)>,
    random_withdrawal: bool,
}

fn listing_row(
    w: &mut TableWriter,
    r: &mut Rng,
    world: &World,
    subject: (&str, SubjectType, &Region),
    l: Listing,
) -> Result<(), SampleError> {
    let (list, reason, dept, _) = BLACK_LISTS[l.list];
    let unit = if dept == "人民法院" {
        format!("{}{}人民法院", subject.2.city, subject.2.district)
    } else {
        local_unit(subject.2, dept, false)
    };
    let withdrawn = if l.random_withdrawal {
        maybe_withdrawn(r, world, l.listed)
    } else {
        None
    };
    head(
        w,
        Head {
            prefix: "DIS",
            subject_id: subject.0,
            subject_type: subject.1,
            class: "negative",
            date: l.listed,
            source_unit: &unit,
            withdrawn,
        },
    )
    .text(list)
    .text(reason)
    .opt_date(l.removed.map(|x| x.0))
    .opt_text(l.removed.map(|x| x.1));
    w.end_row()
}

fn random_removal(
    r: &mut Rng,
    world: &World,
    listed: NaiveDate,
) -> Option<(NaiveDate, &'static str)> {
    if !r.chance(0.4) {
        return None;
    }
    let removed = listed + Days::new(r.between(180, 4 * 365) as u64);
    (removed < world.as_of).then(|| (removed, *r.pick(&["信用修复", "履行完毕", "有效期届满"])))
}

/// `dishonesty_list`.
pub(crate) fn dishonesty_list(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    let six = years_before(world.as_of, 6);
    let fixed = |list, removed| Listing {
        list,
        listed: six,
        removed,
        random_withdrawal: false,
    };
    for_each_enterprise(world, |p| {
        let mut r = stream(world, "dishonesty_list", p.index, false);
        let listing = match p.subject_id.as_str() {
            edge::STILL_LISTED_AFTER_FIVE_YEARS => Some(fixed(0, None)),
            edge::REMOVED_FROM_LIST => {
                Some(fixed(1, Some((years_before(world.as_of, 4), "信用修复"))))
            }
            _ if p.quiet || is_edge(p) || !r.chance(0.01 + 0.3 * p.risk.powi(3)) => None,
            _ => {
                let list = r.below(BLACK_LISTS.len() as u64) as usize;
                Some(random_listing(&mut r, world, p.established, list))
            }
        };
        match listing {
            Some(l) => listing_row(
                w,
                &mut r,
                world,
                (&p.subject_id, SubjectType::Enterprise, p.region),
                l,
            ),
            None => Ok(()),
        }
    })?;
    for_each_person(world, |p| {
        let mut r = stream(world, "dishonesty_list", p.index, true);
        let listing = match p.subject_id.as_str() {
            edge::PERSON_LISTED => Some(fixed(0, None)),
            _ if p.quiet || p.index < edge::PERSONS || !r.chance(0.02 + 0.3 * p.risk.powi(3)) => {
                None
            }
            _ => {
                let list = if r.chance(0.85) { 0 } else { 3 };
                Some(random_listing(
                    &mut r,
                    world,
                    p.birth_date + Days::new(18 * 366),
                    list,
                ))
            }
        };
        match listing {
            Some(l) => listing_row(
                w,
                &mut r,
                world,
                (&p.subject_id, SubjectType::Person, p.region),
                l,
            ),
            None => Ok(()),
        }
    })
}

fn random_listing(r: &mut Rng, world: &World, since: NaiveDate, list: usize) -> Listing {
    let listed = event_date(r, world, since);
    Listing {
        list,
        listed,
        removed: random_removal(r, world, listed),
        random_withdrawal: true,
    }
}

const ABNORMAL_REASONS: &[(&str, u32)] = &[
    ("未依照规定报送年度报告", 70),
    ("通过登记的住所或者经营场所无法联系", 20),
    ("公示企业信息隐瞒真实情况、弄虚作假", 5),
    ("未在责令的期限内公示有关企业信息", 5),
];

/// `abnormal_operations`.
pub(crate) fn abnormal_operations(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    for_each_enterprise(world, |p| {
        if p.quiet || is_edge(p) {
            return Ok(());
        }
        let mut r = stream(world, "abnormal_operations", p.index, false);
        for _ in 0..r.poisson(0.03 + 0.9 * p.risk * p.risk) {
            let listed = event_date(&mut r, world, p.established);
            let reason = *r.weighted(ABNORMAL_REASONS);
            let removed = if r.chance(0.55) {
                let d = listed + Days::new(r.between(30, 700) as u64);
                (d < world.as_of).then_some(d)
            } else {
                None
            };
            let removal_reason = removed.map(|_| {
                if reason.starts_with("未依照") {
                    "补报未报年份的年度报告并公示"
                } else {
                    "依法办理住所变更登记或者提出通过登记的住所可以重新取得联系"
                }
            });
            let unit = local_unit(p.region, "市场监督管理局", true);
            head(
                w,
                Head {
                    prefix: "ABN",
                    subject_id: &p.subject_id,
                    subject_type: SubjectType::Enterprise,
                    class: "negative",
                    date: listed,
                    source_unit: &unit,
                    withdrawn: maybe_withdrawn(&mut r, world, listed),
                },
            )
            .text(reason)
            .opt_date(removed)
            .opt_text(removal_reason);
            w.end_row()?;
        }
        Ok(())
    })
}
