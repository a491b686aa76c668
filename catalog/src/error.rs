//! The catalog's one error type, split by who is at fault.

use std::path::PathBuf;

/// Everything that can go wrong declaring, loading or registering tables.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The declaration (`tables.toml` or a replacement) is malformed: an operator's
    /// mistake.
    #[error("catalog declaration: {message}")]
    Manifest {
        /// What is wrong, naming the table and column.
        message: String,
    },
    /// The data folder does not exist or cannot be read.
    #[error("data folder {path}: {message}")]
    DataFolder {
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A declared table has no file.
    #[error(
        "table '{table}': file {path} is missing; generate the sample data with `creditpool samples generate` or restore the file"
    )]
    MissingFile {
        /// The declared table.
        table: String,
        /// Where the file was expected.
        path: PathBuf,
    },
    /// A file is not readable Parquet.
    #[error("table '{table}': {path} is not a readable Parquet file ({message})")]
    CorruptFile {
        /// The declared table.
        table: String,
        /// The file.
        path: PathBuf,
        /// What the Parquet reader said.
        message: String,
    },
    /// A file lacks a declared column.
    #[error(
        "table '{table}': {path} has no column '{column}', which the catalog declares as {expected}"
    )]
    MissingColumn {
        /// The declared table.
        table: String,
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: String,
        /// Its declared type.
        expected: String,
    },
    /// A file has a column the catalog does not declare. Undeclared columns have no
    /// sensitivity, so they are refused rather than exposed.
    #[error(
        "table '{table}': {path} has column '{column}', which the catalog does not declare (undeclared columns have no sensitivity and are refused)"
    )]
    UndeclaredColumn {
        /// The declared table.
        table: String,
        /// The file.
        path: PathBuf,
        /// The extra column.
        column: String,
    },
    /// A column has another type or nullability than declared.
    #[error(
        "table '{table}': column '{column}' in {path} is {found}, but the catalog declares {expected}"
    )]
    WrongType {
        /// The declared table.
        table: String,
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The declared type.
        expected: String,
        /// The type in the file.
        found: String,
    },
    /// A caller asked for a table the catalog does not have: the caller's input.
    #[error("unknown table '{table}'; `creditpool catalog list` shows the tables that exist")]
    UnknownTable {
        /// The requested id.
        table: String,
    },
    /// DataFusion refused to register a table: a bug or an environment problem.
    #[error("registering table '{table}' failed: {message}")]
    Register {
        /// The table.
        table: String,
        /// What DataFusion said.
        message: String,
    },
}
