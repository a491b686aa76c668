//! What the public sees of an enterprise or organisation (BRIEF Q1–Q3): its records in
//! every catalog table, each decided by `policies::disclosure` (window, black-list
//! extension, withdrawn, archived, under objection) and shown only in the form the
//! catalog allows (masked columns masked with `policies::masking`, secret columns never),
//! grouped by the sections of 附录A.

use std::collections::{HashMap, HashSet};

use catalog::{Manifest, Sensitivity, TableDef};
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Date32Type};
use datafusion::prelude::SessionContext;
use policies::disclosure::{
    self, Category, Disclosure, Listing, Record, Rules, Severity, UNDER_OBJECTION,
};
use policies::masking::Mask;
use serde_json::{Value, json};

/// Columns every record has that the public does not need to see.
const INTERNAL: [&str; 5] = [
    "subject_id",
    "subject_type",
    "status",
    "withdrawn_date",
    "info_class",
];

/// Why the records could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading the public-credit records: {0}")]
pub struct RecordsError(String);

impl From<datafusion::error::DataFusionError> for RecordsError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        RecordsError(e.to_string())
    }
}

impl From<catalog::CatalogError> for RecordsError {
    fn from(e: catalog::CatalogError) -> Self {
        RecordsError(e.to_string())
    }
}

/// The disclosure category of a record of `table` whose own class is `info_class`.
pub fn category(table: &str, info_class: &str) -> Category {
    match (table, info_class) {
        ("admin_licences" | "qualifications", _) => Category::Licence,
        ("admin_penalties", _) => Category::Penalty,
        ("red_list", _) => Category::RedList,
        ("dishonesty_list", _) => Category::BlackList,
        ("credit_commitments", c) if c != "negative" => Category::Commitment,
        (_, "negative") => Category::OtherNegative,
        (_, "positive") => Category::OtherPositive,
        _ => Category::Basic,
    }
}

pub(crate) fn date(batch: &RecordBatch, name: &str, row: usize) -> Option<NaiveDate> {
    let column = batch.column_by_name(name)?;
    if column.is_null(row) || column.data_type() != &DataType::Date32 {
        return None;
    }
    column.as_primitive::<Date32Type>().value_as_date(row)
}

pub(crate) fn text(batch: &RecordBatch, name: &str, row: usize) -> Option<String> {
    let column = batch.column_by_name(name)?;
    if column.is_null(row) {
        return None;
    }
    match column.data_type() {
        DataType::Utf8 => Some(column.as_string::<i32>().value(row).to_owned()),
        DataType::Utf8View => Some(column.as_string_view().value(row).to_owned()),
        _ => None,
    }
}

fn value(column: &dyn Array, row: usize) -> Value {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    if column.is_null(row) {
        return Value::Null;
    }
    match column.data_type() {
        DataType::Boolean => json!(column.as_boolean().value(row)),
        DataType::Int32 => json!(
            column
                .as_primitive::<datafusion::arrow::datatypes::Int32Type>()
                .value(row)
        ),
        DataType::Int64 => json!(
            column
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .value(row)
        ),
        DataType::Float64 => json!(
            column
                .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                .value(row)
        ),
        _ => ArrayFormatter::try_new(column, &FormatOptions::default())
            .map_or(Value::Null, |f| json!(f.value(row).to_string())),
    }
}

/// The record as the public sees it: public columns as they are, masked ones masked,
/// secret ones absent.
fn shown(table: &TableDef, batch: &RecordBatch, row: usize) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for (i, field) in batch.schema().fields().iter().enumerate() {
        let name = field.name().as_str();
        if INTERNAL.contains(&name) {
            continue;
        }
        let sensitivity = table
            .column(name)
            .map_or(Sensitivity::Secret, |c| c.sensitivity);
        let v = value(batch.column(i).as_ref(), row);
        match sensitivity {
            Sensitivity::Public => {
                out.insert(name.to_owned(), v);
            }
            Sensitivity::Masked => {
                let masked = v
                    .as_str()
                    .map_or(Value::Null, |s| json!(Mask::for_column(name).apply(s)));
                out.insert(name.to_owned(), masked);
            }
            Sensitivity::Secret => {}
        }
    }
    out
}

/// What objections (Q8) have done or are doing to records, by record id.
#[derive(Clone, Debug, Default)]
pub struct Objected {
    /// Records with an objection being handled: shown marked "异议处理中".
    pub open: HashSet<String>,
    /// Records their source unit withdrew on an objection, and when: gone from then on.
    pub withdrawn: HashMap<String, NaiveDate>,
    /// Records their source unit corrected on an objection, with what it said: shown
    /// with the correction until the corrected record arrives from the source.
    pub corrected: HashMap<String, String>,
}

/// Every record table held in memory, indexed by subject (and persons by ID number),
/// so that a subject's records are found without scanning (BRIEF Q4–Q7: a report in
/// milliseconds at scale 10). Loaded once at start from the catalog's Parquet files.
pub struct Records {
    tables: Vec<Table>,
    persons_by_id_number: HashMap<String, u32>,
    source_units: std::collections::BTreeSet<String>,
}

struct Table {
    def: &'static TableDef,
    /// The whole table as one batch.
    batch: RecordBatch,
    /// Rows of each subject.
    by_subject: HashMap<String, Vec<u32>>,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("tables", &self.tables.len())
            .field(
                "rows",
                &self
                    .tables
                    .iter()
                    .map(|t| t.batch.num_rows())
                    .sum::<usize>(),
            )
            .finish()
    }
}

/// The value of string column `name` at every row, as `&str` (nulls as "").
fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Vec<&'a str> {
    let Some(column) = batch.column_by_name(name) else {
        return Vec::new();
    };
    match column.data_type() {
        DataType::Utf8 => {
            let a = column.as_string::<i32>();
            (0..a.len())
                .map(|i| if a.is_null(i) { "" } else { a.value(i) })
                .collect()
        }
        DataType::Utf8View => {
            let a = column.as_string_view();
            (0..a.len())
                .map(|i| if a.is_null(i) { "" } else { a.value(i) })
                .collect()
        }
        _ => Vec::new(),
    }
}

impl Records {
    /// Reads every record table of the catalog into memory and indexes it.
    pub async fn load(catalog: &catalog::Catalog) -> Result<Records, RecordsError> {
        let ctx = SessionContext::new();
        catalog.register_all(&ctx).await?;
        let mut tables = Vec::new();
        let mut persons_by_id_number = HashMap::new();
        let mut source_units = std::collections::BTreeSet::new();
        for def in &Manifest::builtin().tables {
            if def.column("subject_id").is_none() {
                continue;
            }
            let frame = ctx.table(def.id.as_str()).await?;
            let schema = std::sync::Arc::new(frame.schema().as_arrow().clone());
            let batches = frame.collect().await?;
            let batch = datafusion::arrow::compute::concat_batches(&schema, &batches)
                .map_err(|e| RecordsError(e.to_string()))?;
            let mut by_subject: HashMap<String, Vec<u32>> = HashMap::new();
            for (row, subject) in strings(&batch, "subject_id").into_iter().enumerate() {
                by_subject
                    .entry(subject.to_owned())
                    .or_default()
                    .push(row as u32);
            }
            if def.column("source_unit").is_some() {
                for unit in strings(&batch, "source_unit") {
                    if !source_units.contains(unit) {
                        source_units.insert(unit.to_owned());
                    }
                }
            }
            if def.id == "persons" {
                for (row, id) in strings(&batch, "id_number").into_iter().enumerate() {
                    persons_by_id_number.insert(id.to_owned(), row as u32);
                }
            }
            tables.push(Table {
                def,
                batch,
                by_subject,
            });
        }
        Ok(Records {
            tables,
            persons_by_id_number,
            source_units,
        })
    }

    /// The source units (数据来源单位) the records name, in order: the units objections go
    /// to.
    pub fn source_units(&self) -> &std::collections::BTreeSet<String> {
        &self.source_units
    }

    fn table(&self, id: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.def.id == id)
    }

    /// The whole of record table `id`, as loaded.
    pub fn batch(&self, id: &str) -> Option<&RecordBatch> {
        self.table(id).map(|t| &t.batch)
    }

    /// The rows of `subject_id` in `table`, newest decision first, as one batch.
    fn rows_of(&self, table: &Table, subject_id: &str) -> Result<RecordBatch, RecordsError> {
        let mut rows: Vec<u32> = table
            .by_subject
            .get(subject_id)
            .cloned()
            .unwrap_or_default();
        rows.sort_by_key(|r| std::cmp::Reverse(date(&table.batch, "decision_date", *r as usize)));
        let indices = datafusion::arrow::array::UInt32Array::from(rows);
        datafusion::arrow::compute::take_record_batch(&table.batch, &indices)
            .map_err(|e| RecordsError(e.to_string()))
    }

    /// The records of subject `subject_id` disclosed on `today`, by section of 附录A,
    /// with what objections did to them (`objected`). Every table is listed, empty or
    /// not (the persons register only for a person).
    pub fn disclosed(
        &self,
        subject_id: &str,
        today: NaiveDate,
        rules: &Rules,
        objected: &Objected,
    ) -> Result<Vec<Section>, RecordsError> {
        let listings: Vec<Listing> = match self.table("dishonesty_list") {
            Some(t) => {
                let b = self.rows_of(t, subject_id)?;
                (0..b.num_rows())
                    .filter(|r| text(&b, "status", *r).as_deref() == Some("active"))
                    .filter_map(|r| {
                        Some(Listing {
                            listed_on: date(&b, "decision_date", r)?,
                            removed_on: date(&b, "removed_date", r),
                        })
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        // The identity register is a person's own basic information only.
        let person = subject_id.starts_with('P');
        let mut sections = Vec::new();
        for t in &self.tables {
            let table = t.def;
            if table.id == "persons" && !person {
                continue;
            }
            let batch = self.rows_of(t, subject_id)?;
            let mut records = Vec::new();
            for row in 0..batch.num_rows() {
                let batch = &batch;
                let Some(decided) = date(batch, "decision_date", row) else {
                    continue;
                };
                let record_id = text(batch, "record_id", row).unwrap_or_default();
                let info_class = text(batch, "info_class", row).unwrap_or_default();
                let withdrawn = text(batch, "status", row).as_deref() == Some("withdrawn");
                let withdrawn_on = if withdrawn {
                    Some(date(batch, "withdrawn_date", row).unwrap_or(decided))
                } else {
                    objected.withdrawn.get(&record_id).copied()
                };
                let record = Record {
                    category: category(&table.id, &info_class),
                    severity: match text(batch, "severity", row).as_deref() {
                        Some("serious") => Some(Severity::Serious),
                        Some("general") => Some(Severity::General),
                        _ => None,
                    },
                    decision_date: decided,
                    withdrawn_on,
                    removed_on: date(batch, "removed_date", row),
                    under_objection: objected.open.contains(&record_id),
                };
                if let Disclosure::Shown {
                    under_objection,
                    through,
                } = disclosure::decide(&record, &listings, today, rules)
                {
                    let mut shown = shown(table, batch, row);
                    shown.insert(
                        "disclosed_through".into(),
                        json!(through.map(|d| d.to_string())),
                    );
                    if under_objection {
                        shown.insert("mark".into(), json!(UNDER_OBJECTION));
                    }
                    if let Some(note) = objected.corrected.get(&record_id) {
                        shown.insert(
                            "correction".into(),
                            json!(format!("经异议核实已更正：{note}")),
                        );
                    }
                    records.push(shown);
                }
            }
            sections.push(Section {
                section: table.section,
                table: table.id.clone(),
                name_zh: table.name_zh.clone(),
                source_unit: table.source_unit.clone(),
                count: records.len(),
                records,
            });
        }
        Ok(sections)
    }

    /// The record with this id, in whichever record table holds it.
    pub fn locate(&self, record_id: &str) -> Option<Located> {
        for t in &self.tables {
            if t.def.column("record_id").is_none() || t.def.column("source_unit").is_none() {
                continue;
            }
            let ids = strings(&t.batch, "record_id");
            if let Some(row) = ids.iter().position(|id| *id == record_id) {
                return Some(Located {
                    table: t.def.id.clone(),
                    subject_id: text(&t.batch, "subject_id", row).unwrap_or_default(),
                    subject_type: text(&t.batch, "subject_type", row).unwrap_or_default(),
                    source_unit: text(&t.batch, "source_unit", row).unwrap_or_default(),
                });
            }
        }
        None
    }

    fn person_at(&self, row: u32) -> Option<Person> {
        let t = self.table("persons")?;
        let row = row as usize;
        Some(Person {
            subject_id: text(&t.batch, "subject_id", row).unwrap_or_default(),
            name: text(&t.batch, "name", row).unwrap_or_default(),
            id_number_masked: Mask::IdNumber
                .apply(&text(&t.batch, "id_number", row).unwrap_or_default()),
        })
    }

    /// The person with exactly this name and ID number, if the register has them; or,
    /// with `name` = None, whoever holds that number.
    pub fn person(&self, name: Option<&str>, id_number: &str) -> Option<Person> {
        let row = *self.persons_by_id_number.get(id_number)?;
        self.person_at(row)
            .filter(|p| name.is_none_or(|n| n == p.name))
    }

    /// The person with this subject id.
    pub fn person_by_subject(&self, subject_id: &str) -> Option<Person> {
        let row = *self.table("persons")?.by_subject.get(subject_id)?.first()?;
        self.person_at(row)
    }
}

/// The records of one catalog table disclosed about a subject, under its section of
/// 附录A.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Section {
    /// The body section of 附录A (1–12) the table reports under.
    pub section: u8,
    /// The catalog table.
    pub table: String,
    /// The table's Chinese name.
    pub name_zh: String,
    /// The unit that supplies it.
    pub source_unit: String,
    /// How many records are disclosed.
    pub count: usize,
    /// The records disclosed, each with the table's public columns, `disclosed_through`
    /// (the last day of its disclosure period, or null), and where they apply `mark`
    /// (异议处理中) and `correction`.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Map<String, Value>>,
}

/// Where a record is: its table, subject and source unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// Catalog table.
    pub table: String,
    /// The record's subject.
    pub subject_id: String,
    /// `enterprise` or `person`.
    pub subject_type: String,
    /// The unit that supplied it (数源单位), as the record names it.
    pub source_unit: String,
}

/// A natural person as the persons register knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Their subject id (P…).
    pub subject_id: String,
    /// Their name.
    pub name: String,
    /// Their ID number, masked (Q3).
    pub id_number_masked: String,
}
