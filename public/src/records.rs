//! What the public sees of an enterprise or organisation (BRIEF Q1–Q3): its records in
//! every catalog table, each decided by `policies::disclosure` (window, black-list
//! extension, withdrawn, archived, under objection) and shown only in the form the
//! catalog allows (masked columns masked with `policies::masking`, secret columns never),
//! grouped by the sections of 附录A.

use std::collections::HashSet;

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

/// The records of subject `subject_id` disclosed on `today`, by section of 附录A; records
/// in `under_objection` (record ids) are marked. Every table is listed, empty or not.
pub async fn disclosed(
    catalog: &catalog::Catalog,
    subject_id: &str,
    today: NaiveDate,
    rules: &Rules,
    under_objection: &HashSet<String>,
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
        if table.id == "persons" || table.column("subject_id").is_none() {
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
                let record = Record {
                    category: category(&table.id, &info_class),
                    severity: match text(batch, "severity", row).as_deref() {
                        Some("serious") => Some(Severity::Serious),
                        Some("general") => Some(Severity::General),
                        _ => None,
                    },
                    decision_date: decided,
                    withdrawn_on: withdrawn
                        .then(|| date(batch, "withdrawn_date", row).unwrap_or(decided)),
                    removed_on: date(batch, "removed_date", row),
                    under_objection: under_objection.contains(&record_id),
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
