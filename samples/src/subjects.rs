//! Credit subjects: the enterprises, organisations and natural persons every record
//! hangs on.
//!
//! A subject's profile is a pure function of (seed, index), so any table can recompute
//! it: in particular the latent risk that drives correlated events (penalties,
//! abnormal listings, judgements, poor evaluations, loan defaults) in every table.

use chrono::{Days, NaiveDate};
use policies::Uscc;

use crate::World;
use crate::rng::{Rng, label};
use crate::vocab::{INDUSTRIES, Industry, REGIONS, Region};

/// Subjects placed on purpose to exercise disclosure windows, withdrawals, objections
/// and the entry criteria (P2). Their records are fixed; documented in
/// `docs/sample-data.md`.
pub mod edge {
    /// An enterprise with no records at all beyond its registration.
    pub const NO_RECORDS: &str = "E00000001";
    /// A name with full-width brackets（）.
    pub const FULL_WIDTH_BRACKETS: &str = "E00000002";
    /// A very long name (over 40 characters).
    pub const LONG_NAME: &str = "E00000003";
    /// Serious penalties and honours dated five years before the snapshot date, one
    /// day after, and one day before: inside, on and outside the default window.
    pub const WINDOW_BOUNDARY: &str = "E00000004";
    /// On the serious-dishonesty list for six years and never removed: stays disclosed.
    pub const STILL_LISTED_AFTER_FIVE_YEARS: &str = "E00000005";
    /// Listed six years ago and removed four years ago.
    pub const REMOVED_FROM_LIST: &str = "E00000006";
    /// Has a penalty withdrawn by its source unit two days before the snapshot.
    pub const WITHDRAWN_RECORD: &str = "E00000007";
    /// Established 200 days before the snapshot: fails "established at least one year".
    pub const YOUNG: &str = "E00000008";
    /// Its legal representative (P00000002) is on the serious-dishonesty list.
    pub const BLACKLISTED_OFFICER: &str = "E00000009";
    /// Public credit evaluation 差: fails "evaluation good or above".
    pub const POOR_EVALUATION: &str = "E00000010";
    /// A credit-service institution that meets every entry criterion: the demo applicant.
    pub const MODEL_APPLICANT: &str = "E00000011";
    /// Number of enterprises reserved for the cases above.
    pub const ENTERPRISES: u64 = 11;

    /// A natural person with no records at all.
    pub const PERSON_NO_RECORDS: &str = "P00000001";
    /// A natural person on the serious-dishonesty list for six years, still listed.
    pub const PERSON_LISTED: &str = "P00000002";
    /// Number of persons reserved for the cases above.
    pub const PERSONS: u64 = 2;
}

/// The legal form of an organisation, which fixes the USCC's first two characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgKind {
    /// 有限责任公司.
    LimitedCompany,
    /// 股份有限公司.
    JointStock,
    /// 个人独资企业.
    SoleProprietorship,
    /// 合伙企业.
    Partnership,
    /// 个体工商户.
    IndividualBusiness,
    /// 农民专业合作社.
    Cooperative,
    /// 民办非企业单位 (社会服务机构).
    SocialServiceOrganisation,
    /// 社会团体.
    Association,
}

impl OrgKind {
    /// The registered organisation type, in Chinese.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::LimitedCompany => "有限责任公司",
            Self::JointStock => "股份有限公司",
            Self::SoleProprietorship => "个人独资企业",
            Self::Partnership => "合伙企业",
            Self::IndividualBusiness => "个体工商户",
            Self::Cooperative => "农民专业合作社",
            Self::SocialServiceOrganisation => "社会服务机构",
            Self::Association => "社会团体",
        }
    }

    fn uscc_prefix(self) -> (char, char) {
        match self {
            Self::IndividualBusiness => ('9', '2'),
            Self::Cooperative => ('9', '3'),
            Self::SocialServiceOrganisation => ('5', '2'),
            Self::Association => ('5', '1'),
            _ => ('9', '1'),
        }
    }

    /// Whether the organisation has directors and supervisors.
    pub fn has_board(self) -> bool {
        matches!(self, Self::LimitedCompany | Self::JointStock)
    }
}

/// Everything about an enterprise that tables other than `enterprises` need.
#[derive(Clone, Debug)]
pub struct EnterpriseProfile {
    /// 0-based index.
    pub index: u64,
    /// `E` and eight digits.
    pub subject_id: String,
    /// Latent risk in (0, 1); drives negative events. Not in the data.
    pub risk: f64,
    /// Has no records at all beyond registration.
    pub quiet: bool,
    /// Legal form.
    pub kind: OrgKind,
    /// Registering region.
    pub region: &'static Region,
    /// Industry class.
    pub industry: &'static Industry,
    /// Establishment date.
    pub established: NaiveDate,
    /// Unified social credit code.
    pub uscc: Uscc,
    /// Index of the legal representative in persons.
    pub legal_representative: u64,
}

/// Everything about a natural person that other tables need.
#[derive(Clone, Debug)]
pub struct PersonProfile {
    /// 0-based index.
    pub index: u64,
    /// `P` and eight digits.
    pub subject_id: String,
    /// Latent risk in (0, 1).
    pub risk: f64,
    /// Has no records of their own.
    pub quiet: bool,
    /// Full name.
    pub name: String,
    /// True for male.
    pub male: bool,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Region of household registration.
    pub region: &'static Region,
}

/// The `E…` id of the enterprise at `index`.
pub fn enterprise_id(index: u64) -> String {
    format!("E{:08}", index + 1)
}

/// The `P…` id of the person at `index`.
pub fn person_id(index: u64) -> String {
    format!("P{:08}", index + 1)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Picks one item of a non-empty table by its weight.
fn pick_by_weight<T>(r: &mut Rng, items: &'static [T], weight: fn(&T) -> u32) -> &'static T {
    let total: u64 = items.iter().map(|x| u64::from(weight(x))).sum();
    let mut x = r.below(total);
    for item in items {
        if x < u64::from(weight(item)) {
            return item;
        }
        x -= u64::from(weight(item));
    }
    &items[0]
}

/// Picks a region by its number of registrations.
pub fn pick_region(r: &mut Rng) -> &'static Region {
    pick_by_weight(r, REGIONS, |x| x.weight)
}

fn pick_industry(r: &mut Rng) -> &'static Industry {
    pick_by_weight(r, INDUSTRIES, |x| x.weight)
}

fn industry(code: &str) -> &'static Industry {
    INDUSTRIES
        .iter()
        .find(|i| i.code == code)
        .unwrap_or(&INDUSTRIES[0])
}

/// A date `days` before `d`, clamped at 1970.
pub fn days_before(d: NaiveDate, days: i64) -> NaiveDate {
    d.checked_sub_days(Days::new(days.max(0) as u64))
        .unwrap_or_default()
}

/// A date `years` calendar years before `d` (29 February becomes 28 February).
pub fn years_before(d: NaiveDate, years: i32) -> NaiveDate {
    use chrono::Datelike;
    d.with_year(d.year() - years)
        .or_else(|| d.with_day(28).and_then(|x| x.with_year(d.year() - years)))
        .unwrap_or(d)
}

/// Multipliers coprime with 10^8 and 31^6, so `index → code` is a bijection and codes
/// never repeat.
const OLD_CODE_MULTIPLIER: u64 = 2_654_435_761;
const NEW_CODE_MULTIPLIER: u64 = 1_000_003;
const NEW_CODE_SPACE: u64 = 31u64.pow(6);

/// Date from which new organisations got `MA…` organisation codes.
fn new_code_era() -> NaiveDate {
    NaiveDate::from_ymd_opt(2015, 10, 1).unwrap_or_default()
}

fn organisation_body(world: &World, index: u64, established: NaiveDate) -> String {
    if established < new_code_era() {
        let offset = world.seed % 100_000_000;
        let n = (index.wrapping_mul(OLD_CODE_MULTIPLIER) + offset) % 100_000_000;
        format!("{n:08}")
    } else {
        let alphabet = policies::USCC_ALPHABET.as_bytes();
        let offset = world.seed % NEW_CODE_SPACE;
        let mut n = (index % NEW_CODE_SPACE * NEW_CODE_MULTIPLIER + offset) % NEW_CODE_SPACE;
        let mut body = String::from("MA");
        let mut tail = [0u8; 6];
        for slot in tail.iter_mut().rev() {
            *slot = alphabet[(n % 31) as usize];
            n /= 31;
        }
        body.push_str(std::str::from_utf8(&tail).unwrap_or("000000"));
        body
    }
}

impl World {
    /// The enterprise at `index`.
    pub fn enterprise(&self, index: u64) -> EnterpriseProfile {
        let mut r = Rng::stream(self.seed, label("enterprise"), index);
        let mut risk = sigmoid(1.3 * r.normal() - 1.4);
        let kind = *r.weighted(&[
            (OrgKind::LimitedCompany, 62),
            (OrgKind::JointStock, 3),
            (OrgKind::SoleProprietorship, 4),
            (OrgKind::Partnership, 4),
            (OrgKind::IndividualBusiness, 17),
            (OrgKind::Cooperative, 3),
            (OrgKind::SocialServiceOrganisation, 4),
            (OrgKind::Association, 3),
        ]);
        let region = pick_region(&mut r);
        let mut industry = match kind {
            OrgKind::Cooperative => industry("A0141"),
            OrgKind::SocialServiceOrganisation => {
                industry(r.pick::<&str>(&["O8010", "Q8514", "Q8521", "M7320"]))
            }
            OrgKind::Association => industry(r.pick::<&str>(&["M7320", "O8010", "L7295"])),
            OrgKind::Partnership => industry(r.pick::<&str>(&["L7212", "L7212", "M7320"])),
            _ => pick_industry(&mut r),
        };
        let age_days = if r.chance(0.08) {
            r.between(20, 364)
        } else {
            let years = (1.0 + -r.unit().max(1e-9).ln() * 6.0).min(30.0);
            (years * 365.25) as i64
        };
        let mut established = days_before(self.as_of, age_days);
        // Young enterprises fail more often.
        if age_days < 3 * 365 {
            risk = (risk * 1.3).min(0.99);
        }
        let mut quiet = r.chance(0.03);
        let mut legal_representative =
            edge::PERSONS + r.below(self.persons.saturating_sub(edge::PERSONS).max(1));

        // Fixed subjects for the edge cases.
        if index < edge::ENTERPRISES {
            risk = 0.05;
            quiet = index == 0;
            if index == 7 {
                established = days_before(self.as_of, 200);
            } else {
                established = years_before(self.as_of, 12);
            }
            if index == 8 {
                legal_representative = 1;
            }
            if index == 10 {
                industry = self::industry("L7295");
            }
        }
        // The edge cases are all companies; the USCC must agree with the type.
        let kind = if index < edge::ENTERPRISES {
            OrgKind::LimitedCompany
        } else {
            kind
        };
        let (authority, category) = kind.uscc_prefix();
        let body = organisation_body(self, index, established);
        let uscc = Uscc::from_parts(authority, category, region.code, &body)
            .expect("organisation bodies are built from the USCC alphabet");
        EnterpriseProfile {
            index,
            subject_id: enterprise_id(index),
            risk,
            quiet,
            kind,
            region,
            industry,
            established,
            uscc,
            legal_representative,
        }
    }

    /// The person at `index`.
    pub fn person(&self, index: u64) -> PersonProfile {
        let mut r = Rng::stream(self.seed, label("person"), index);
        let mut risk = sigmoid(1.2 * r.normal() - 1.8);
        let male = r.chance(0.55);
        let birth_date = days_before(self.as_of, r.between(20 * 365, 80 * 365));
        let region = pick_region(&mut r);
        let surname = *r.weighted(crate::vocab::SURNAMES);
        let given = if male {
            crate::vocab::GIVEN_MALE
        } else {
            crate::vocab::GIVEN_FEMALE
        };
        let mut name = String::from(surname);
        name.push_str(r.pick::<&str>(given));
        if r.chance(0.7) {
            name.push_str(r.pick::<&str>(given));
        }
        let mut quiet = r.chance(0.6);
        if index < edge::PERSONS {
            quiet = index == 0;
            risk = if index == 1 { 0.95 } else { 0.05 };
        }
        PersonProfile {
            index,
            subject_id: person_id(index),
            risk,
            quiet,
            name,
            male,
            birth_date,
            region,
        }
    }
}
