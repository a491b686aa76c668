//! Streams rows of one declared table into a Parquet file.
//!
//! Values are pushed column by column in declaration order; [`TableWriter::end_row`]
//! checks that each row filled exactly the declared columns with the declared types,
//! so a generator that drifts from `tables.toml` fails loudly in the tests instead of
//! writing a file the catalog would refuse.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder,
    Int32Builder, Int64Builder, StringBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use catalog::{ColumnType, TableDef};
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::SampleError;

/// Rows buffered before a record batch is handed to the Parquet writer.
const BATCH_ROWS: usize = 16 * 1024;
/// Rows per Parquet row group: small enough for parallel scans of scale-1 tables.
const ROW_GROUP_ROWS: usize = 128 * 1024;

enum Column {
    Utf8(StringBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Date32(Date32Builder),
    Decimal(Decimal128Builder, u8, i8),
}

impl Column {
    fn new(t: ColumnType) -> Column {
        match t {
            ColumnType::Utf8 => Column::Utf8(StringBuilder::new()),
            ColumnType::Int32 => Column::Int32(Int32Builder::new()),
            ColumnType::Int64 => Column::Int64(Int64Builder::new()),
            ColumnType::Float64 => Column::Float64(Float64Builder::new()),
            ColumnType::Boolean => Column::Boolean(BooleanBuilder::new()),
            ColumnType::Date32 => Column::Date32(Date32Builder::new()),
            ColumnType::Decimal { precision, scale } => {
                Column::Decimal(Decimal128Builder::new(), precision, scale)
            }
        }
    }

    fn finish(&mut self) -> Result<ArrayRef, arrow::error::ArrowError> {
        Ok(match self {
            Column::Utf8(b) => Arc::new(b.finish()),
            Column::Int32(b) => Arc::new(b.finish()),
            Column::Int64(b) => Arc::new(b.finish()),
            Column::Float64(b) => Arc::new(b.finish()),
            Column::Boolean(b) => Arc::new(b.finish()),
            Column::Date32(b) => Arc::new(b.finish()),
            Column::Decimal(b, p, s) => Arc::new(b.finish().with_precision_and_scale(*p, *s)?),
        })
    }

    fn len(&self) -> usize {
        match self {
            Column::Utf8(b) => b.len(),
            Column::Int32(b) => b.len(),
            Column::Int64(b) => b.len(),
            Column::Float64(b) => b.len(),
            Column::Boolean(b) => b.len(),
            Column::Date32(b) => b.len(),
            Column::Decimal(b, ..) => b.len(),
        }
    }
}

/// Days since 1970-01-01, Arrow's `Date32`.
pub fn date32(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from(d.signed_duration_since(epoch).num_days()).unwrap_or(i32::MAX)
}

/// Writer of one table. Push a row's values in declaration order, then `end_row`.
pub struct TableWriter {
    table: String,
    names: Vec<String>,
    nullable: Vec<bool>,
    schema: SchemaRef,
    columns: Vec<Column>,
    cursor: usize,
    fault: Option<String>,
    rows: u64,
    writer: ArrowWriter<BufWriter<File>>,
}

impl TableWriter {
    /// Creates `path` and prepares to write `def`'s rows into it.
    pub fn create(def: &TableDef, path: &Path) -> Result<TableWriter, SampleError> {
        let schema = def.arrow_schema();
        let file = File::create(path).map_err(|e| SampleError::io(path, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(1).map_err(SampleError::parquet)?,
            ))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("creditpool-samples {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            schema.clone(),
            Some(props),
        )
        .map_err(SampleError::parquet)?;
        Ok(TableWriter {
            table: def.id.clone(),
            names: def.columns.iter().map(|c| c.name.clone()).collect(),
            nullable: def.columns.iter().map(|c| c.nullable).collect(),
            schema,
            columns: def
                .columns
                .iter()
                .map(|c| Column::new(c.column_type))
                .collect(),
            cursor: 0,
            fault: None,
            rows: 0,
            writer,
        })
    }

    fn slot(&mut self, kind: &str, is_null: bool) -> Option<&mut Column> {
        if self.fault.is_some() {
            return None;
        }
        let i = self.cursor;
        self.cursor += 1;
        if i >= self.columns.len() {
            self.fault = Some(format!(
                "row has more than the {} declared columns",
                self.columns.len()
            ));
            return None;
        }
        if is_null && !self.nullable[i] {
            self.fault = Some(format!(
                "column '{}' is not nullable but got an empty value",
                self.names[i]
            ));
            return None;
        }
        let matches = matches!(
            (&self.columns[i], kind),
            (Column::Utf8(_), "utf8")
                | (Column::Int32(_), "int32")
                | (Column::Float64(_), "float64")
                | (Column::Boolean(_), "boolean")
                | (Column::Date32(_), "date32")
                | (Column::Decimal(..), "decimal")
        );
        if !matches {
            self.fault = Some(format!("column '{}' got a {kind} value", self.names[i]));
            return None;
        }
        Some(&mut self.columns[i])
    }

    /// Text value.
    pub fn text(&mut self, v: &str) -> &mut Self {
        if let Some(Column::Utf8(b)) = self.slot("utf8", false) {
            b.append_value(v);
        }
        self
    }

    /// Optional text value.
    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        if let Some(Column::Utf8(b)) = self.slot("utf8", v.is_none()) {
            b.append_option(v);
        }
        self
    }

    /// 32-bit integer.
    pub fn int32(&mut self, v: i32) -> &mut Self {
        if let Some(Column::Int32(b)) = self.slot("int32", false) {
            b.append_value(v);
        }
        self
    }

    /// Optional float.
    pub fn opt_float(&mut self, v: Option<f64>) -> &mut Self {
        if let Some(Column::Float64(b)) = self.slot("float64", v.is_none()) {
            b.append_option(v);
        }
        self
    }

    /// Float.
    pub fn float(&mut self, v: f64) -> &mut Self {
        self.opt_float(Some(v))
    }

    /// Boolean.
    pub fn boolean(&mut self, v: bool) -> &mut Self {
        self.opt_boolean(Some(v))
    }

    /// Optional boolean.
    pub fn opt_boolean(&mut self, v: Option<bool>) -> &mut Self {
        if let Some(Column::Boolean(b)) = self.slot("boolean", v.is_none()) {
            b.append_option(v);
        }
        self
    }

    /// Date.
    pub fn date(&mut self, v: NaiveDate) -> &mut Self {
        self.opt_date(Some(v))
    }

    /// Optional date.
    pub fn opt_date(&mut self, v: Option<NaiveDate>) -> &mut Self {
        if let Some(Column::Date32(b)) = self.slot("date32", v.is_none()) {
            b.append_option(v.map(date32));
        }
        self
    }

    /// Optional amount of money in fen (hundredths of a yuan), for a decimal(P,2)
    /// column.
    pub fn opt_money_fen(&mut self, v: Option<i64>) -> &mut Self {
        if let Some(Column::Decimal(b, ..)) = self.slot("decimal", v.is_none()) {
            b.append_option(v.map(i128::from));
        }
        self
    }

    /// Closes the current row, checking it is complete.
    pub fn end_row(&mut self) -> Result<(), SampleError> {
        if self.fault.is_none() && self.cursor != self.columns.len() {
            self.fault = Some(format!(
                "row filled {} of the {} declared columns",
                self.cursor,
                self.columns.len()
            ));
        }
        if let Some(fault) = self.fault.take() {
            return Err(SampleError::Generator {
                table: self.table.clone(),
                message: fault,
            });
        }
        self.cursor = 0;
        self.rows += 1;
        if self.columns[0].len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SampleError> {
        if self.columns[0].len() == 0 {
            return Ok(());
        }
        let arrays = self
            .columns
            .iter_mut()
            .map(Column::finish)
            .collect::<Result<Vec<_>, _>>()
            .map_err(SampleError::arrow)?;
        let batch =
            RecordBatch::try_new(self.schema.clone(), arrays).map_err(SampleError::arrow)?;
        self.writer.write(&batch).map_err(SampleError::parquet)
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and closes the file, returning the number of rows.
    pub fn finish(mut self) -> Result<u64, SampleError> {
        self.flush()?;
        self.writer.close().map_err(SampleError::parquet)?;
        Ok(self.rows)
    }
}
