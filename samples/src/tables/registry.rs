//! 一、基础信息: enterprises, persons and officers.

use std::collections::HashSet;

use chrono::NaiveDate;
use policies::IdNumber;

use super::{
    Head, SubjectType, event_date, fen, for_each_enterprise, for_each_person, head, local_unit,
    stream,
};
use crate::rng::Rng;
use crate::subjects::{EnterpriseProfile, OrgKind, days_before};
use crate::vocab::{BRAND_FIRST, BRAND_SECOND, BUILDINGS, MOBILE_PREFIXES, Region, STREETS};
use crate::writer::TableWriter;
use crate::{SampleError, World, edge};

fn short(name: &str) -> &str {
    // 杭州市 → 杭州, 西湖区 → 西湖; one-character stems such as 县 keep their suffix.
    let mut chars = name.char_indices();
    match chars.nth_back(0) {
        Some((i, _)) if name.chars().count() > 2 => &name[..i],
        _ => name,
    }
}

fn brand(r: &mut Rng) -> String {
    let mut s = String::from(*r.pick(BRAND_FIRST));
    let second = *r.pick(BRAND_SECOND);
    if !s.ends_with(second) {
        s.push_str(second);
    } else {
        s.push_str(BRAND_SECOND[0]);
    }
    s
}

fn enterprise_name(r: &mut Rng, p: &EnterpriseProfile) -> String {
    let city = short(p.region.city);
    let district = short(p.region.district);
    let word = p.industry.word;
    let b = brand(r);
    match p.index {
        1 => return format!("{city}{b}（集团）{word}有限公司"),
        2 => {
            let b2 = brand(r);
            return format!(
                "浙江省{}{}{b}{b2}{word}数字化转型与综合技术咨询服务有限公司（自然人投资或控股的法人独资）",
                p.region.city, p.region.district
            );
        }
        10 => return "浙江数衡征信服务有限公司".to_owned(),
        _ => {}
    }
    if r.chance(0.002) {
        let b2 = brand(r);
        return format!(
            "{}{}{b}{b2}{word}技术开发与综合服务有限公司",
            p.region.city, p.region.district
        );
    }
    match p.kind {
        OrgKind::LimitedCompany => {
            let x = r.unit();
            if x < 0.55 {
                format!("{city}{b}{word}有限公司")
            } else if x < 0.8 {
                format!("浙江{b}{word}有限公司")
            } else if x < 0.9 {
                format!("{district}{b}{word}有限公司")
            } else if x < 0.95 {
                format!("{b}（{city}）{word}有限公司")
            } else {
                format!("{city}{b}{word}有限公司{district}分公司")
            }
        }
        OrgKind::JointStock => format!("浙江{b}{word}股份有限公司"),
        OrgKind::SoleProprietorship => format!("{city}{district}{b}{word}经营部"),
        OrgKind::Partnership => format!("{city}{b}{word}合伙企业（有限合伙）"),
        OrgKind::IndividualBusiness => format!("{}{}{b}{word}店", p.region.city, p.region.district),
        OrgKind::Cooperative => format!("{}{b}果蔬专业合作社", p.region.district),
        OrgKind::SocialServiceOrganisation => {
            format!("{}{}{b}{word}中心", p.region.city, p.region.district)
        }
        OrgKind::Association => format!("{}{b}{word}协会", p.region.city),
    }
}

fn business_address(r: &mut Rng, region: &Region) -> String {
    let street = r.pick(STREETS);
    let number = r.between(1, 999);
    if r.chance(0.6) {
        format!(
            "浙江省{}{}{street}{number}号{}{}层{}室",
            region.city,
            region.district,
            r.pick(BUILDINGS),
            r.between(1, 28),
            r.between(1, 30)
        )
    } else {
        format!("浙江省{}{}{street}{number}号", region.city, region.district)
    }
}

fn home_address(r: &mut Rng, region: &Region) -> String {
    format!(
        "浙江省{}{}{}{}号{}幢{}单元{}室",
        region.city,
        region.district,
        r.pick(STREETS),
        r.between(1, 500),
        r.between(1, 30),
        r.between(1, 4),
        r.between(101, 2803)
    )
}

fn registration_unit(p: &EnterpriseProfile) -> String {
    match p.kind {
        OrgKind::SocialServiceOrganisation | OrgKind::Association => {
            local_unit(p.region, "民政局", false)
        }
        _ => local_unit(p.region, "市场监督管理局", true),
    }
}

/// `enterprises`: one row per enterprise or organisation.
pub(crate) fn enterprises(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    let mut names: HashSet<String> = HashSet::with_capacity(world.enterprises as usize);
    for_each_enterprise(world, |p| {
        let mut r = stream(world, "enterprises", p.index, false);
        let mut name = enterprise_name(&mut r, p);
        let mut attempts = 0;
        while names.contains(&name) && attempts < 8 {
            name = enterprise_name(&mut r, p);
            attempts += 1;
        }
        if names.contains(&name) {
            name = format!("{}{name}", p.region.district);
        }
        names.insert(name.clone());
        let representative = world.person(p.legal_representative);
        let yuan = match p.kind {
            OrgKind::IndividualBusiness => None,
            OrgKind::JointStock => Some(10f64.powf(7.0 + 2.0 * r.unit())),
            OrgKind::SoleProprietorship => Some(10f64.powf(4.0 + 1.5 * r.unit())),
            OrgKind::Cooperative => Some(10f64.powf(5.0 + r.unit())),
            OrgKind::SocialServiceOrganisation | OrgKind::Association => {
                Some(r.between(3, 200) as f64 * 10_000.0)
            }
            _ => Some(10f64.powf(5.0 + 2.5 * r.unit())),
        }
        .map(|y| fen((y / 10_000.0).round().max(1.0) * 10_000.0));
        let status = if crate::tables::is_edge(p) {
            "存续"
        } else if p.risk > 0.7 && r.chance(0.25) {
            "吊销"
        } else if r.chance(0.03) {
            "注销"
        } else if r.chance(0.01) {
            "迁出"
        } else if r.chance(0.85) {
            "存续"
        } else {
            "在业"
        };
        let unit = registration_unit(p);
        head(
            w,
            Head {
                prefix: "ENT",
                subject_id: &p.subject_id,
                subject_type: SubjectType::Enterprise,
                class: "basic",
                date: p.established,
                source_unit: &unit,
                withdrawn: None,
            },
        )
        .text(p.uscc.as_str())
        .text(&name)
        .text(p.kind.name_zh())
        .text(&representative.name)
        .text(&representative.subject_id)
        .date(p.established)
        .text(&business_address(&mut r, p.region))
        .opt_money_fen(yuan)
        .text(p.industry.code)
        .text(p.industry.name)
        .text(p.region.code)
        .text(&format!("{}{}", p.region.city, p.region.district))
        .text(status);
        w.end_row()
    })
}

/// `persons`: one row per natural person. ID numbers are unique: a collision moves
/// the sequence code on by two, which keeps the gender.
pub(crate) fn persons(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    let mut seen: HashSet<String> = HashSet::with_capacity(world.persons as usize);
    for_each_person(world, |p| {
        let mut r = stream(world, "persons", p.index, true);
        let mut sequence = (r.below(499) * 2 + u64::from(p.male)) as u16;
        let id = loop {
            let id = IdNumber::from_parts(p.region.code, p.birth_date, sequence).map_err(|e| {
                SampleError::Generator {
                    table: "persons".into(),
                    message: e.to_string(),
                }
            })?;
            if seen.insert(id.as_str().to_owned()) {
                break id;
            }
            sequence = (sequence + 2) % 1000;
        };
        let mobile = format!("{}{:08}", r.pick(MOBILE_PREFIXES), r.below(100_000_000));
        // The public decision date is the ID card's issue date, never the birth date.
        let issued = days_before(world.as_of, r.between(30, 3650))
            .max(p.birth_date + chrono::Days::new(16 * 366));
        let issued = issued.min(world.as_of);
        let unit = local_unit(p.region, "公安局", true);
        head(
            w,
            Head {
                prefix: "PER",
                subject_id: &p.subject_id,
                subject_type: SubjectType::Person,
                class: "basic",
                date: issued,
                source_unit: &unit,
                withdrawn: None,
            },
        )
        .text(&p.name)
        .text(id.as_str())
        .text(if p.male { "男" } else { "女" })
        .date(p.birth_date)
        .text(&mobile)
        .text(&home_address(&mut r, p.region))
        .text(p.region.code);
        w.end_row()
    })
}

fn officer_row(
    w: &mut TableWriter,
    p: &EnterpriseProfile,
    person_index: u64,
    world: &World,
    role: (&str, &str),
    appointed: NaiveDate,
    unit: &str,
) -> Result<(), SampleError> {
    let person = world.person(person_index);
    head(
        w,
        Head {
            prefix: "OFF",
            subject_id: &p.subject_id,
            subject_type: SubjectType::Enterprise,
            class: "basic",
            date: appointed,
            source_unit: unit,
            withdrawn: None,
        },
    )
    .text(&person.subject_id)
    .text(&person.name)
    .text(role.0)
    .text(role.1);
    w.end_row()
}

/// `officers`: legal representative, directors, supervisors and managers.
pub(crate) fn officers(world: &World, w: &mut TableWriter) -> Result<(), SampleError> {
    let others = world.persons.saturating_sub(edge::PERSONS).max(1);
    for_each_enterprise(world, |p| {
        if p.quiet {
            return Ok(());
        }
        let mut r = stream(world, "officers", p.index, false);
        let unit = registration_unit(p);
        let representative_title = match p.kind {
            OrgKind::Partnership => "执行事务合伙人",
            OrgKind::IndividualBusiness => "经营者",
            OrgKind::SocialServiceOrganisation | OrgKind::Association => "负责人",
            _ => "法定代表人",
        };
        officer_row(
            w,
            p,
            p.legal_representative,
            world,
            ("legal_representative", representative_title),
            p.established,
            &unit,
        )?;
        if p.kind.has_board() {
            let directors = if p.kind == OrgKind::JointStock {
                r.between(3, 6)
            } else {
                r.between(0, 3)
            };
            for _ in 0..directors {
                let date = event_date(&mut r, world, p.established);
                let person = edge::PERSONS + r.below(others);
                officer_row(w, p, person, world, ("director", "董事"), date, &unit)?;
            }
            for _ in 0..r.between(1, 2) {
                let date = event_date(&mut r, world, p.established);
                let person = edge::PERSONS + r.below(others);
                officer_row(w, p, person, world, ("supervisor", "监事"), date, &unit)?;
            }
            if r.chance(0.5) {
                let date = event_date(&mut r, world, p.established);
                let person = edge::PERSONS + r.below(others);
                officer_row(w, p, person, world, ("manager", "经理"), date, &unit)?;
            }
        }
        Ok(())
    })
}
