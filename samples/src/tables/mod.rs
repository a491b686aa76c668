//! One generator per catalog table, and the helpers they share.

mod administrative;
mod lists;
mod records;
mod registry;

use std::path::Path;

use catalog::{Manifest, TableDef};
use chrono::NaiveDate;

use crate::rng::{Rng, label};
use crate::subjects::{EnterpriseProfile, PersonProfile, days_before, years_before};
use crate::vocab::Region;
use crate::writer::TableWriter;
use crate::{SampleError, World};

/// A table to write and the function that writes it.
pub(crate) struct Job {
    pub def: TableDef,
    pub own_data: bool,
    pub run: fn(&World, &TableDef, &Path) -> Result<u64, SampleError>,
}

macro_rules! job {
    ($id:literal, $f:path) => {{
        fn run(world: &World, def: &TableDef, path: &Path) -> Result<u64, SampleError> {
            let mut w = TableWriter::create(def, path)?;
            $f(world, &mut w)?;
            w.finish()
        }
        (
            $id,
            run as fn(&World, &TableDef, &Path) -> Result<u64, SampleError>,
        )
    }};
}

/// Every catalog table with its generator, largest first so that two workers finish
/// together.
pub(crate) fn jobs() -> Vec<Job> {
    let generators = [
        job!("officers", registry::officers),
        job!("admin_licences", administrative::licences),
        job!("admin_actions", administrative::actions),
        job!("enterprises", registry::enterprises),
        job!("credit_evaluations", records::evaluations),
        job!("credit_commitments", records::commitments),
        job!("admin_penalties", administrative::penalties),
        job!("judicial_records", records::judicial),
        job!("persons", registry::persons),
        job!("qualifications", records::qualifications),
        job!("honours", lists::honours),
        job!("abnormal_operations", lists::abnormal_operations),
        job!("red_list", lists::red_list),
        job!("other_information", records::other_information),
        job!("dishonesty_list", lists::dishonesty_list),
    ];
    let manifest = Manifest::builtin();
    debug_assert_eq!(generators.len(), manifest.tables.len());
    generators
        .into_iter()
        .filter_map(|(id, run)| {
            manifest.table(id).map(|def| Job {
                def: def.clone(),
                own_data: false,
                run,
            })
        })
        .collect()
}

/// The ids of the tables that have generators, for the coverage test.
#[cfg(test)]
pub(crate) fn generated_ids() -> Vec<String> {
    jobs().into_iter().map(|j| j.def.id).collect()
}

/// Subject kinds, as the `subject_type` column spells them.
#[derive(Clone, Copy)]
pub(crate) enum SubjectType {
    Enterprise,
    Person,
}

impl SubjectType {
    fn as_str(self) -> &'static str {
        match self {
            SubjectType::Enterprise => "enterprise",
            SubjectType::Person => "person",
        }
    }
}

/// The common record columns of one row.
pub(crate) struct Head<'a> {
    pub prefix: &'a str,
    pub subject_id: &'a str,
    pub subject_type: SubjectType,
    pub class: &'a str,
    pub date: NaiveDate,
    pub source_unit: &'a str,
    pub withdrawn: Option<NaiveDate>,
}

/// Pushes the common record columns; the record id numbers rows within the table.
pub(crate) fn head<'w>(w: &'w mut TableWriter, h: Head<'_>) -> &'w mut TableWriter {
    let record_id = format!("{}{:010}", h.prefix, w.rows() + 1);
    w.text(&record_id)
        .text(h.subject_id)
        .text(h.subject_type.as_str())
        .text(h.class)
        .date(h.date)
        .text(h.source_unit)
        .text(if h.withdrawn.is_some() {
            "withdrawn"
        } else {
            "active"
        })
        .opt_date(h.withdrawn)
}

/// A subject's stream for one table.
pub(crate) fn stream(world: &World, table: &str, subject_index: u64, person: bool) -> Rng {
    let salt = label(table) ^ if person { label("person") } else { 0 };
    Rng::stream(world.seed, salt, subject_index)
}

/// A decision date uniformly between `since` (or twelve years back, whichever is
/// later) and the snapshot date.
pub(crate) fn event_date(r: &mut Rng, world: &World, since: NaiveDate) -> NaiveDate {
    let floor = years_before(world.as_of, 12).max(since);
    let span = (world.as_of - floor).num_days().max(0);
    days_before(world.as_of, r.between(0, span))
}

/// About 1.5 % of records are withdrawn by their source unit some time after the
/// decision.
pub(crate) fn maybe_withdrawn(r: &mut Rng, world: &World, date: NaiveDate) -> Option<NaiveDate> {
    if !r.chance(0.015) {
        return None;
    }
    let latest = (world.as_of - date).num_days();
    if latest < 2 {
        return None;
    }
    Some(date + chrono::Days::new(r.between(1, latest.min(400)) as u64))
}

/// A local authority name: `杭州市西湖区市场监督管理局`.
pub(crate) fn local_unit(region: &Region, department: &str, district_level: bool) -> String {
    if let Some(rest) = department.strip_prefix("国家税务总局") {
        return if district_level {
            format!("国家税务总局{}{}{}", region.city, region.district, rest)
        } else {
            format!("国家税务总局{}{}", region.city, rest)
        };
    }
    if district_level {
        // Fire and rescue brigades are 支队 at city level and 大队 at county level.
        let department = if department == "消防救援支队" {
            "消防救援大队"
        } else {
            department
        };
        format!("{}{}{}", region.city, region.district, department)
    } else {
        format!("{}{}", region.city, department)
    }
}

/// Visits every enterprise in index order.
pub(crate) fn for_each_enterprise(
    world: &World,
    mut f: impl FnMut(&EnterpriseProfile) -> Result<(), SampleError>,
) -> Result<(), SampleError> {
    for i in 0..world.enterprises {
        f(&world.enterprise(i))?;
    }
    Ok(())
}

/// Visits every person in index order.
pub(crate) fn for_each_person(
    world: &World,
    mut f: impl FnMut(&PersonProfile) -> Result<(), SampleError>,
) -> Result<(), SampleError> {
    for i in 0..world.persons {
        f(&world.person(i))?;
    }
    Ok(())
}

/// Whether the enterprise is one of the fixed edge cases, whose records are written
/// explicitly rather than drawn.
pub(crate) fn is_edge(p: &EnterpriseProfile) -> bool {
    p.index < crate::edge::ENTERPRISES
}

/// Money in fen from yuan.
pub(crate) fn fen(yuan: f64) -> i64 {
    (yuan * 100.0).round() as i64
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_catalog_table_has_a_generator() {
        let mut generated = super::generated_ids();
        generated.sort();
        let mut declared: Vec<String> = catalog::Manifest::builtin()
            .tables
            .iter()
            .map(|t| t.id.clone())
            .collect();
        declared.sort();
        assert_eq!(generated, declared);
    }
}
