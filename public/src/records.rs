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
use datafusion::scalar::ScalarValue;
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

fn date(batch: &RecordBatch, name: &str, row: usize) -> Option<NaiveDate> {
    let column = batch.column_by_name(name)?;
    if column.is_null(row) || column.data_type() != &DataType::Date32 {
        return None;
    }
    column.as_primitive::<Date32Type>().value_as_date(row)
}

fn text(batch: &RecordBatch, name: &str, row: usize) -> Option<String> {
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

/// The records of subject `subject_id` disclosed on `today`, by section of 附录A, with
/// what objections did to them (`objected`). Every table is listed, empty or not.
pub async fn disclosed(
    catalog: &catalog::Catalog,
    subject_id: &str,
    today: NaiveDate,
    rules: &Rules,
    objected: &Objected,
) -> Result<Vec<Value>, RecordsError> {
    let ctx = SessionContext::new();
    catalog.register_all(&ctx).await?;
    let param = || vec![ScalarValue::Utf8(Some(subject_id.to_owned()))];
    let listings: Vec<Listing> = ctx
        .sql("SELECT decision_date, removed_date FROM dishonesty_list WHERE subject_id = $1 AND status = 'active'")
        .await?
        .with_param_values(param())?
        .collect()
        .await?
        .iter()
        .flat_map(|b| {
            (0..b.num_rows()).filter_map(move |r| {
                Some(Listing { listed_on: date(b, "decision_date", r)?, removed_on: date(b, "removed_date", r) })
            })
        })
        .collect();
    let mut sections = Vec::new();
    for table in &Manifest::builtin().tables {
        // The identity register is a person's own basic information only.
        let person = subject_id.starts_with('P');
        if table.column("subject_id").is_none() || (table.id == "persons" && !person) {
            continue;
        }
        let batches = ctx
            .sql(&format!(
                "SELECT * FROM {} WHERE subject_id = $1 ORDER BY decision_date DESC",
                table.id
            ))
            .await?
            .with_param_values(param())?
            .collect()
            .await?;
        let mut records = Vec::new();
        for batch in &batches {
            for row in 0..batch.num_rows() {
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
                    records.push(Value::Object(shown));
                }
            }
        }
        sections.push(json!({
            "section": table.section,
            "table": table.id,
            "name_zh": table.name_zh,
            "source_unit": table.source_unit,
            "count": records.len(),
            "records": records,
        }));
    }
    Ok(sections)
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

/// The record with this id, in whichever record table holds it.
pub async fn locate(
    catalog: &catalog::Catalog,
    record_id: &str,
) -> Result<Option<Located>, RecordsError> {
    let ctx = SessionContext::new();
    catalog.register_all(&ctx).await?;
    for table in &Manifest::builtin().tables {
        if table.column("record_id").is_none() || table.column("source_unit").is_none() {
            continue;
        }
        let batches = ctx
            .sql(&format!(
                "SELECT subject_id, subject_type, source_unit FROM {} WHERE record_id = $1 LIMIT 1",
                table.id
            ))
            .await?
            .with_param_values(vec![ScalarValue::Utf8(Some(record_id.to_owned()))])?
            .collect()
            .await?;
        if let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) {
            return Ok(Some(Located {
                table: table.id.clone(),
                subject_id: text(batch, "subject_id", 0).unwrap_or_default(),
                subject_type: text(batch, "subject_type", 0).unwrap_or_default(),
                source_unit: text(batch, "source_unit", 0).unwrap_or_default(),
            }));
        }
    }
    Ok(None)
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

/// The person with exactly this name and ID number, if the register has them; or, with
/// `id_number` only (`name` = None), whoever holds that number.
pub async fn person(
    catalog: &catalog::Catalog,
    name: Option<&str>,
    id_number: &str,
) -> Result<Option<Person>, RecordsError> {
    person_where(catalog, "id_number", id_number)
        .await
        .map(|p| p.filter(|p| name.is_none_or(|n| n == p.name)))
}

/// The person with this subject id.
pub async fn person_by_subject(
    catalog: &catalog::Catalog,
    subject_id: &str,
) -> Result<Option<Person>, RecordsError> {
    person_where(catalog, "subject_id", subject_id).await
}

async fn person_where(
    catalog: &catalog::Catalog,
    column: &str,
    value: &str,
) -> Result<Option<Person>, RecordsError> {
    let ctx = SessionContext::new();
    catalog.register_all(&ctx).await?;
    let batches = ctx
        .sql(&format!(
            "SELECT subject_id, name, id_number FROM persons WHERE {column} = $1 LIMIT 1"
        ))
        .await?
        .with_param_values(vec![ScalarValue::Utf8(Some(value.to_owned()))])?
        .collect()
        .await?;
    Ok(batches.iter().find(|b| b.num_rows() > 0).map(|b| Person {
        subject_id: text(b, "subject_id", 0).unwrap_or_default(),
        name: text(b, "name", 0).unwrap_or_default(),
        id_number_masked: Mask::IdNumber.apply(&text(b, "id_number", 0).unwrap_or_default()),
    }))
}
