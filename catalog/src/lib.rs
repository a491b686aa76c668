//! What data exists.
//!
//! The catalog is the registry of the product pool's public-credit tables (the data
//! supply list of BRIEF P1 and P4). Each table is declared once, as data, in
//! `tables.toml`: its id, Chinese and English names, source unit, information class,
//! section of 附录A, and every column with its type, description and sensitivity.
//!
//! [`Catalog::open`] checks the Parquet files of a data folder against that
//! declaration and refuses any difference, naming the file and column, so that nothing
//! undeclared (and therefore unclassified) can reach a query. [`Catalog::register`]
//! then puts a chosen set of tables, such as one account's grants, into a DataFusion
//! [`SessionContext`].
//!
//! Invariant: a table registered by this crate has exactly the declared schema.

mod error;
mod manifest;
mod sql_type;

use std::fs::File;
use std::path::{Path, PathBuf};

use datafusion::parquet::arrow::arrow_reader::ArrowReaderMetadata;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

pub use error::CatalogError;
pub use manifest::{ColumnDef, ColumnType, InfoClass, Manifest, Sensitivity, TableDef};
pub use sql_type::sql_type;

/// Folder, inside a data folder, that holds the public-credit tables.
pub const PUBLIC_CREDIT_DIR: &str = "public-credit";

/// A declared table whose file has been found and checked.
#[derive(Clone, Debug)]
pub struct CatalogTable {
    /// The declaration.
    pub def: TableDef,
    /// The Parquet file.
    pub path: PathBuf,
    /// Rows in the file.
    pub row_count: u64,
    /// Size of the file in bytes.
    pub size_bytes: u64,
}

/// The checked catalog of one data folder.
#[derive(Clone, Debug)]
pub struct Catalog {
    root: PathBuf,
    tables: Vec<CatalogTable>,
}

impl Catalog {
    /// Opens the data folder `root` against the built-in declaration, checking every
    /// table's file.
    pub fn open(root: impl AsRef<Path>) -> Result<Catalog, CatalogError> {
        Self::open_with(root, Manifest::builtin())
    }

    /// Opens `root` against a given declaration.
    pub fn open_with(root: impl AsRef<Path>, manifest: &Manifest) -> Result<Catalog, CatalogError> {
        let root = root.as_ref().to_path_buf();
        let folder = root.join(PUBLIC_CREDIT_DIR);
        if !folder.is_dir() {
            return Err(CatalogError::DataFolder {
                path: folder,
                message: "not found; generate the sample data with `creditpool samples generate --out DIR` or point at an existing data folder".into(),
            });
        }
        let tables = manifest
            .tables
            .iter()
            .map(|def| check_table(def, &folder.join(def.file_name())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Catalog { root, tables })
    }

    /// The data folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// All tables, in declaration order.
    pub fn tables(&self) -> &[CatalogTable] {
        &self.tables
    }

    /// The table with that id.
    pub fn table(&self, id: &str) -> Result<&CatalogTable, CatalogError> {
        self.tables
            .iter()
            .find(|t| t.def.id == id)
            .ok_or_else(|| CatalogError::UnknownTable {
                table: id.to_owned(),
            })
    }

    /// Registers the named tables in `ctx` under their ids. Every id is checked before
    /// anything is registered, so an unknown id leaves `ctx` unchanged.
    pub async fn register(&self, ctx: &SessionContext, ids: &[&str]) -> Result<(), CatalogError> {
        let chosen = ids
            .iter()
            .map(|id| self.table(id))
            .collect::<Result<Vec<_>, _>>()?;
        for table in chosen {
            register_table(ctx, &table.def, &table.path).await?;
        }
        Ok(())
    }

    /// Registers every table of the catalog in `ctx`.
    pub async fn register_all(&self, ctx: &SessionContext) -> Result<(), CatalogError> {
        let ids: Vec<&str> = self.tables.iter().map(|t| t.def.id.as_str()).collect();
        self.register(ctx, &ids).await
    }
}

/// Registers the table declared by `def` in `ctx` under its id, read from `path` with
/// exactly the declared schema. (A job worker, given only its job's files, registers
/// them this way without opening the whole data folder.)
pub async fn register_table(
    ctx: &SessionContext,
    def: &TableDef,
    path: &Path,
) -> Result<(), CatalogError> {
    let schema = def.arrow_schema();
    ctx.register_parquet(
        def.id.as_str(),
        path.to_string_lossy().as_ref(),
        ParquetReadOptions::default().schema(&schema),
    )
    .await
    .map_err(|e| CatalogError::Register {
        table: def.id.clone(),
        message: e.to_string(),
    })
}

/// Reads a file's Parquet footer and compares its schema with the declaration.
fn check_table(def: &TableDef, path: &Path) -> Result<CatalogTable, CatalogError> {
    let table = || def.id.clone();
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CatalogError::MissingFile {
            table: table(),
            path: path.to_path_buf(),
        },
        _ => CatalogError::CorruptFile {
            table: table(),
            path: path.to_path_buf(),
            message: e.to_string(),
        },
    })?;
    let size_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let metadata = ArrowReaderMetadata::load(&file, Default::default()).map_err(|e| {
        CatalogError::CorruptFile {
            table: table(),
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    })?;
    let found = metadata.schema();
    for column in &def.columns {
        let expected = column.column_type.arrow_type();
        let Ok(field) = found.field_with_name(&column.name) else {
            return Err(CatalogError::MissingColumn {
                table: table(),
                path: path.to_path_buf(),
                column: column.name.clone(),
                expected: column.column_type.to_string(),
            });
        };
        let nullability_ok = column.nullable || !field.is_nullable();
        if field.data_type() != &expected || !nullability_ok {
            let describe = |t: String, nullable: bool| {
                if nullable {
                    format!("{t} (nullable)")
                } else {
                    format!("{t} (not null)")
                }
            };
            return Err(CatalogError::WrongType {
                table: table(),
                path: path.to_path_buf(),
                column: column.name.clone(),
                expected: describe(column.column_type.to_string(), column.nullable),
                found: describe(field.data_type().to_string(), field.is_nullable()),
            });
        }
    }
    if let Some(extra) = found
        .fields()
        .iter()
        .find(|f| def.column(f.name()).is_none())
    {
        return Err(CatalogError::UndeclaredColumn {
            table: table(),
            path: path.to_path_buf(),
            column: extra.name().clone(),
        });
    }
    let row_count = u64::try_from(metadata.metadata().file_metadata().num_rows()).unwrap_or(0);
    Ok(CatalogTable {
        def: def.clone(),
        path: path.to_path_buf(),
        row_count,
        size_bytes,
    })
}
