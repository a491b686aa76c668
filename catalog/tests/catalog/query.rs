//! Real questions answered with DataFusion SQL over the registered tables, checked
//! against an independent count made by reading the Parquet files directly.

use std::collections::HashMap;
use std::fs::File;

use catalog::Catalog;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Date32Type, Int64Type};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::SessionContext;

use crate::sample_data;

fn read_all(table: &str) -> Vec<RecordBatch> {
    let path = sample_data()
        .join(catalog::PUBLIC_CREDIT_DIR)
        .join(format!("{table}.parquet"));
    ParquetRecordBatchReaderBuilder::try_new(File::open(path).expect("open"))
        .expect("parquet")
        .build()
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("batches")
}

fn strings<'a>(b: &'a RecordBatch, column: &str) -> &'a datafusion::arrow::array::StringArray {
    b.column_by_name(column).expect(column).as_string::<i32>()
}

#[tokio::test]
async fn serious_penalties_per_region_in_the_last_five_years() {
    let catalog = Catalog::open(sample_data()).expect("open");
    let ctx = SessionContext::new();
    catalog
        .register(&ctx, &["enterprises", "admin_penalties"])
        .await
        .expect("register");
    let as_of = samples::default_as_of();
    let sql = format!(
        "SELECT e.region_code, COUNT(*) AS n FROM admin_penalties p \
         JOIN enterprises e ON p.subject_id = e.subject_id \
         WHERE p.severity = 'serious' AND p.status = 'active' \
           AND p.decision_date > DATE '{as_of}' - INTERVAL '5 years' \
         GROUP BY e.region_code"
    );
    let batches = ctx
        .sql(&sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let mut by_sql: HashMap<String, i64> = HashMap::new();
    for b in &batches {
        let regions = strings(b, "region_code");
        let counts = b
            .column_by_name("n")
            .expect("n")
            .as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            by_sql.insert(regions.value(i).to_owned(), counts.value(i));
        }
    }

    // The same count, by hand.
    let mut region_of: HashMap<String, String> = HashMap::new();
    for b in read_all("enterprises") {
        let ids = strings(&b, "subject_id");
        let regions = strings(&b, "region_code");
        for i in 0..b.num_rows() {
            region_of.insert(ids.value(i).to_owned(), regions.value(i).to_owned());
        }
    }
    let cutoff = chrono::NaiveDate::from_ymd_opt(2021, 11, 1).expect("date");
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("date");
    let cutoff_days = (cutoff - epoch).num_days() as i32;
    let mut by_hand: HashMap<String, i64> = HashMap::new();
    for b in read_all("admin_penalties") {
        let ids = strings(&b, "subject_id");
        let severity = strings(&b, "severity");
        let status = strings(&b, "status");
        let dates = b
            .column_by_name("decision_date")
            .expect("date")
            .as_primitive::<Date32Type>();
        for i in 0..b.num_rows() {
            if severity.value(i) == "serious"
                && status.value(i) == "active"
                && dates.value(i) > cutoff_days
                && let Some(region) = region_of.get(ids.value(i))
            {
                *by_hand.entry(region.clone()).or_default() += 1;
            }
        }
    }
    assert!(!by_hand.is_empty(), "the sample has serious penalties");
    assert_eq!(by_sql, by_hand);
}

#[tokio::test]
async fn every_registered_table_scans_with_its_declared_schema() {
    let catalog = Catalog::open(sample_data()).expect("open");
    let ctx = SessionContext::new();
    catalog.register_all(&ctx).await.expect("register");
    for t in catalog.tables() {
        let df = ctx.table(t.def.id.as_str()).await.expect("table");
        let schema = df.schema().as_arrow().clone();
        assert_eq!(schema.fields().len(), t.def.columns.len(), "{}", t.def.id);
        for (field, column) in schema.fields().iter().zip(&t.def.columns) {
            assert_eq!(field.name(), &column.name);
            assert_eq!(field.data_type(), &column.column_type.arrow_type());
        }
        let count = ctx
            .sql(&format!("SELECT COUNT(*) AS n FROM {}", t.def.id))
            .await
            .expect("plan")
            .collect()
            .await
            .expect("count");
        let n = count[0].column(0).as_primitive::<Int64Type>().value(0);
        assert_eq!(n as u64, t.row_count, "{}", t.def.id);
        assert_eq!(count[0].column(0).null_count(), 0);
    }
}
