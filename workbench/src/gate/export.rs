//! A released sample as the file a data scientist opens: CSV (UTF-8, RFC 4180) or
//! Parquet. Exactly the released rows and columns, as the JSON answer carries them:
//! converting them releases nothing more, so a download costs nothing a release did
//! not (asking for the same sample again is a repeat, not a new release).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use serde_json::Value;

use super::{GateError, Sample};

/// The sample as CSV: a header of the column names, then one line per released row;
/// NULL as an empty field, text quoted where it must be and never a spreadsheet's
/// formula ([`storage::csv::cell`]).
pub fn csv(sample: &Sample) -> Vec<u8> {
    let mut out = String::new();
    let header: Vec<String> = sample
        .columns
        .iter()
        .map(|c| storage::csv::cell(&c.name))
        .collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in &sample.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                Value::String(s) => storage::csv::cell(s),
                other => other.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The sample as a Parquet file: whole numbers as BIGINT, other numbers as DOUBLE,
/// booleans as BOOLEAN, everything else (text, dates, decimals) as text, as the JSON
/// carries them.
pub fn parquet(sample: &Sample) -> Result<Vec<u8>, GateError> {
    let mut fields = Vec::with_capacity(sample.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(sample.columns.len());
    for (i, column) in sample.columns.iter().enumerate() {
        let values: Vec<&Value> = sample
            .rows
            .iter()
            .map(|r| r.get(i).unwrap_or(&Value::Null))
            .collect();
        let present = || values.iter().filter(|v| !v.is_null());
        let (data_type, array): (DataType, ArrayRef) = if present().all(|v| v.is_i64()) {
            (
                DataType::Int64,
                Arc::new(values.iter().map(|v| v.as_i64()).collect::<Int64Array>()),
            )
        } else if present().all(|v| v.is_number()) {
            (
                DataType::Float64,
                Arc::new(values.iter().map(|v| v.as_f64()).collect::<Float64Array>()),
            )
        } else if present().all(|v| v.is_boolean()) {
            (
                DataType::Boolean,
                Arc::new(values.iter().map(|v| v.as_bool()).collect::<BooleanArray>()),
            )
        } else {
            let text = values.iter().map(|v| match v {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            });
            (DataType::Utf8, Arc::new(text.collect::<StringArray>()))
        };
        fields.push(Field::new(&column.name, data_type, true));
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let failed = |e: &dyn std::fmt::Display| {
        GateError::Internal(format!("writing a sample as Parquet: {e}"))
    };
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| failed(&e))?;
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, None).map_err(|e| failed(&e))?;
    writer.write(&batch).map_err(|e| failed(&e))?;
    writer.close().map_err(|e| failed(&e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Budget, ColumnTreatment};
    use super::*;

    fn sample() -> Sample {
        let column = |name: &str| ColumnTreatment {
            name: name.into(),
            data_type: "VARCHAR".into(),
            treatment: "released".into(),
            sources: Vec::new(),
        };
        Sample {
            release_id: "r".into(),
            job_id: "j".into(),
            result_rows: 100,
            rows_released: 2,
            columns: vec![column("name"), column("n"), column("score"), column("ok")],
            rows: vec![
                vec![
                    json!("杭州\"示例\",有限公司"),
                    json!(3),
                    json!(0.5),
                    json!(true),
                ],
                vec![Value::Null, json!(4), json!(1), json!(false)],
            ],
            fingerprint: "f".into(),
            repeated: false,
            budget: Budget::default(),
        }
    }

    #[test]
    fn csv_quotes_what_it_must_and_leaves_null_empty() {
        let text = String::from_utf8(csv(&sample())).expect("utf-8");
        assert_eq!(
            text,
            "name,n,score,ok\r\n\"杭州\"\"示例\"\",有限公司\",3,0.5,true\r\n,4,1,false\r\n"
        );
    }

    #[test]
    fn parquet_keeps_the_rows_and_types_them() {
        use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let bytes = parquet(&sample()).expect("parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .expect("a parquet file")
            .build()
            .expect("reader");
        let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("rows");
        let batch = &batches[0];
        assert_eq!(batch.num_rows(), 2);
        let types: Vec<DataType> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            [
                DataType::Utf8,
                DataType::Int64,
                DataType::Float64,
                DataType::Boolean
            ]
        );
        assert!(batch.column(0).is_null(1));
    }
}
