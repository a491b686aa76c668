//! Checking data files against the declaration: every mismatch is refused with an
//! error naming the file and column.

use std::fs;
use std::sync::Arc;

use catalog::{Catalog, CatalogError, Manifest, PUBLIC_CREDIT_DIR};
use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::SessionContext;

use crate::{sample_data, scratch_copy};

#[test]
fn generated_data_opens_with_every_table_and_its_row_count() {
    let catalog = Catalog::open(sample_data()).expect("generated data matches the catalog");
    assert_eq!(catalog.tables().len(), Manifest::builtin().tables.len());
    let manifest: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(sample_data().join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    for t in catalog.tables() {
        let file = manifest["files"]
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["table"] == t.def.id.as_str())
            .expect("table in manifest");
        assert_eq!(file["rows"].as_u64(), Some(t.row_count), "{}", t.def.id);
        assert!(t.row_count > 0, "{} is empty", t.def.id);
        assert!(t.size_bytes > 0);
    }
}

fn open_err(dir: &std::path::Path) -> CatalogError {
    Catalog::open(dir).expect_err("should be refused")
}

#[test]
fn a_missing_folder_says_how_to_make_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let e = open_err(dir.path());
    assert!(matches!(e, CatalogError::DataFolder { .. }), "{e:?}");
    assert!(e.to_string().contains("creditpool samples generate"), "{e}");
}

#[test]
fn a_missing_file_is_named() {
    let dir = scratch_copy();
    fs::remove_file(dir.path().join(PUBLIC_CREDIT_DIR).join("honours.parquet")).expect("rm");
    let e = open_err(dir.path());
    assert!(
        matches!(&e, CatalogError::MissingFile { table, .. } if table == "honours"),
        "{e:?}"
    );
    assert!(e.to_string().contains("honours.parquet"), "{e}");
}

#[test]
fn a_corrupt_file_is_named() {
    let dir = scratch_copy();
    let path = dir.path().join(PUBLIC_CREDIT_DIR).join("red_list.parquet");
    fs::write(&path, b"this is not parquet at all, just bytes").expect("write");
    let e = open_err(dir.path());
    assert!(
        matches!(&e, CatalogError::CorruptFile { table, .. } if table == "red_list"),
        "{e:?}"
    );
    assert!(e.to_string().contains("red_list.parquet"), "{e}");
}

#[test]
fn a_truncated_file_is_named() {
    let dir = scratch_copy();
    let path = dir
        .path()
        .join(PUBLIC_CREDIT_DIR)
        .join("admin_penalties.parquet");
    let bytes = fs::read(&path).expect("read");
    fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
    let e = open_err(dir.path());
    assert!(
        matches!(&e, CatalogError::CorruptFile { table, .. } if table == "admin_penalties"),
        "{e:?}"
    );
}

/// Replaces a table's file with one holding the given columns.
fn replace_with(dir: &std::path::Path, table: &str, fields: Vec<(Field, ArrayRef)>) {
    let schema = Arc::new(Schema::new(
        fields.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), fields.into_iter().map(|(_, a)| a).collect())
        .expect("batch");
    let path = dir.join(PUBLIC_CREDIT_DIR).join(format!("{table}.parquet"));
    let mut w = ArrowWriter::try_new(fs::File::create(path).expect("create"), schema, None)
        .expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

/// The honours table's columns as declared, one row, with `edit` applied.
fn honours_columns(edit: impl FnOnce(&mut Vec<(Field, ArrayRef)>)) -> Vec<(Field, ArrayRef)> {
    let def = Manifest::builtin().table("honours").expect("honours");
    let mut cols: Vec<(Field, ArrayRef)> = def
        .columns
        .iter()
        .map(|c| {
            let array: ArrayRef = match c.column_type.arrow_type() {
                DataType::Utf8 => Arc::new(StringArray::from(vec!["x"])),
                DataType::Date32 => {
                    Arc::new(datafusion::arrow::array::Date32Array::from(vec![20_000]))
                }
                other => panic!("unexpected type {other}"),
            };
            (
                Field::new(&c.name, c.column_type.arrow_type(), c.nullable),
                array,
            )
        })
        .collect();
    edit(&mut cols);
    cols
}

#[test]
fn a_missing_column_is_named_with_its_declared_type() {
    let dir = scratch_copy();
    replace_with(
        dir.path(),
        "honours",
        honours_columns(|c| c.retain(|(f, _)| f.name() != "level")),
    );
    let e = open_err(dir.path());
    assert!(
        matches!(&e, CatalogError::MissingColumn { column, .. } if column == "level"),
        "{e:?}"
    );
    let message = e.to_string();
    assert!(
        message.contains("'level'")
            && message.contains("utf8")
            && message.contains("honours.parquet"),
        "{message}"
    );
}

#[test]
fn a_wrong_type_is_named_with_both_types() {
    let dir = scratch_copy();
    replace_with(
        dir.path(),
        "honours",
        honours_columns(|c| {
            let i = c
                .iter()
                .position(|(f, _)| f.name() == "level")
                .expect("level");
            c[i] = (
                Field::new("level", DataType::Int32, false),
                Arc::new(Int32Array::from(vec![3])),
            );
        }),
    );
    let e = open_err(dir.path());
    let message = e.to_string();
    assert!(
        matches!(&e, CatalogError::WrongType { column, .. } if column == "level"),
        "{e:?}"
    );
    assert!(
        message.contains("Int32") && message.contains("utf8"),
        "{message}"
    );
}

#[test]
fn a_nullable_column_declared_not_null_is_refused() {
    let dir = scratch_copy();
    replace_with(
        dir.path(),
        "honours",
        honours_columns(|c| {
            let i = c
                .iter()
                .position(|(f, _)| f.name() == "level")
                .expect("level");
            c[i].0 = Field::new("level", DataType::Utf8, true);
        }),
    );
    let e = open_err(dir.path());
    assert!(
        e.to_string().contains("(nullable)") && e.to_string().contains("(not null)"),
        "{e}"
    );
}

#[test]
fn an_undeclared_column_is_refused_not_exposed() {
    let dir = scratch_copy();
    replace_with(
        dir.path(),
        "honours",
        honours_columns(|c| {
            c.push((
                Field::new("home_phone", DataType::Utf8, false),
                Arc::new(StringArray::from(vec!["13800000000"])),
            ));
        }),
    );
    let e = open_err(dir.path());
    assert!(
        matches!(&e, CatalogError::UndeclaredColumn { column, .. } if column == "home_phone"),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_unknown_table_registers_nothing() {
    let catalog = Catalog::open(sample_data()).expect("open");
    let ctx = SessionContext::new();
    let e = catalog
        .register(&ctx, &["enterprises", "no_such_table"])
        .await
        .expect_err("unknown");
    assert!(
        matches!(&e, CatalogError::UnknownTable { table } if table == "no_such_table"),
        "{e:?}"
    );
    assert!(e.to_string().contains("creditpool catalog list"), "{e}");
    // Nothing was registered, not even the valid table named first.
    assert!(ctx.table("enterprises").await.is_err());
}

#[tokio::test]
async fn only_the_chosen_tables_are_registered() {
    let catalog = Catalog::open(sample_data()).expect("open");
    let ctx = SessionContext::new();
    catalog
        .register(&ctx, &["enterprises", "admin_penalties"])
        .await
        .expect("register");
    assert!(ctx.table("enterprises").await.is_ok());
    assert!(ctx.table("admin_penalties").await.is_ok());
    let e = ctx
        .sql("SELECT * FROM persons")
        .await
        .expect_err("persons is not granted");
    assert!(e.to_string().contains("persons"), "{e}");
}
