//! Arrow values as JSON, for everything the API returns from data: numbers and
//! booleans as JSON numbers and booleans, NULL as null, everything else (text, dates,
//! decimals, times) as its usual text form.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{self, DataType};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Value, json};

/// One value.
pub fn cell(column: &dyn Array, row: usize) -> Value {
    if column.is_null(row) {
        return Value::Null;
    }
    match column.data_type() {
        DataType::Boolean => json!(column.as_boolean().value(row)),
        DataType::Int8 => json!(column.as_primitive::<datatypes::Int8Type>().value(row)),
        DataType::Int16 => json!(column.as_primitive::<datatypes::Int16Type>().value(row)),
        DataType::Int32 => json!(column.as_primitive::<datatypes::Int32Type>().value(row)),
        DataType::Int64 => json!(column.as_primitive::<datatypes::Int64Type>().value(row)),
        DataType::UInt8 => json!(column.as_primitive::<datatypes::UInt8Type>().value(row)),
        DataType::UInt16 => json!(column.as_primitive::<datatypes::UInt16Type>().value(row)),
        DataType::UInt32 => json!(column.as_primitive::<datatypes::UInt32Type>().value(row)),
        DataType::UInt64 => json!(column.as_primitive::<datatypes::UInt64Type>().value(row)),
        DataType::Float32 => json!(column.as_primitive::<datatypes::Float32Type>().value(row)),
        DataType::Float64 => json!(column.as_primitive::<datatypes::Float64Type>().value(row)),
        _ => match ArrayFormatter::try_new(column, &FormatOptions::default()) {
            Ok(formatter) => json!(formatter.value(row).to_string()),
            Err(_) => Value::Null,
        },
    }
}

/// The text of a value, if it is text (for masking).
pub fn text(column: &dyn Array, row: usize) -> Option<String> {
    if column.is_null(row) {
        return None;
    }
    match column.data_type() {
        DataType::Utf8 => Some(column.as_string::<i32>().value(row).to_owned()),
        DataType::LargeUtf8 => Some(column.as_string::<i64>().value(row).to_owned()),
        DataType::Utf8View => Some(column.as_string_view().value(row).to_owned()),
        _ => None,
    }
}

/// Every row of a batch as a JSON object keyed by column name.
pub fn objects(batch: &RecordBatch) -> Vec<Value> {
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|row| {
            let mut object = serde_json::Map::new();
            for (i, field) in schema.fields().iter().enumerate() {
                object.insert(field.name().clone(), cell(batch.column(i).as_ref(), row));
            }
            Value::Object(object)
        })
        .collect()
}
