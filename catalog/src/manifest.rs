//! The declared catalog: which tables exist and what their columns mean.
//!
//! The built-in declaration lives in `tables.toml` beside this file, as data, so that
//! a provincial operator can read and extend it without reading Rust. It is parsed and
//! checked once ([`Manifest::builtin`]); a malformed declaration is an error naming the
//! table and column at fault.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::Deserialize;

use crate::CatalogError;

/// How a column may be shown (BRIEF Q3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Shown as is.
    #[default]
    Public,
    /// Shown only in masked form (ID number characters 7–14, mobile digits 4–7).
    Masked,
    /// Never shown.
    Secret,
}

/// Information class of 附录A.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfoClass {
    /// 基础信息.
    Basic,
    /// 不良信息.
    Negative,
    /// 守信信息.
    Positive,
    /// 其他信息.
    Other,
    /// The class depends on the record; its `info_class` column says which.
    Mixed,
}

impl InfoClass {
    /// The name used in data and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Negative => "negative",
            Self::Positive => "positive",
            Self::Other => "other",
            Self::Mixed => "mixed",
        }
    }

    /// The Chinese name of the class.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Basic => "基础信息",
            Self::Negative => "不良信息",
            Self::Positive => "守信信息",
            Self::Other => "其他信息",
            Self::Mixed => "按记录区分",
        }
    }
}

impl Sensitivity {
    /// The name used in the declaration and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Masked => "masked",
            Self::Secret => "secret",
        }
    }
}

/// The physical type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub enum ColumnType {
    /// UTF-8 text.
    Utf8,
    /// 32-bit integer.
    Int32,
    /// 64-bit integer.
    Int64,
    /// 64-bit float.
    Float64,
    /// True or false.
    Boolean,
    /// Calendar date.
    Date32,
    /// Fixed-point decimal with precision and scale (money in yuan).
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: i8,
    },
}

impl ColumnType {
    /// The Arrow type of the column.
    pub fn arrow_type(self) -> DataType {
        match self {
            Self::Utf8 => DataType::Utf8,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::Float64 => DataType::Float64,
            Self::Boolean => DataType::Boolean,
            Self::Date32 => DataType::Date32,
            Self::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
        }
    }
}

impl TryFrom<String> for ColumnType {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let t = s.trim();
        Ok(match t {
            "utf8" => Self::Utf8,
            "int32" => Self::Int32,
            "int64" => Self::Int64,
            "float64" => Self::Float64,
            "boolean" => Self::Boolean,
            "date32" => Self::Date32,
            _ => {
                let inner = t
                    .strip_prefix("decimal(")
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| {
                        format!("unknown column type '{t}': expected utf8, int32, int64, float64, boolean, date32 or decimal(P,S)")
                    })?;
                let (p, s) = inner.split_once(',').ok_or_else(|| {
                    format!("'{t}': a decimal needs precision and scale, e.g. decimal(18,2)")
                })?;
                let precision: u8 = p
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{t}': bad precision"))?;
                let scale: i8 = s.trim().parse().map_err(|_| format!("'{t}': bad scale"))?;
                if !(1..=38).contains(&precision) || scale < 0 || scale as u8 > precision {
                    return Err(format!(
                        "'{t}': precision must be 1-38 and scale 0-precision"
                    ));
                }
                Self::Decimal { precision, scale }
            }
        })
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Utf8 => f.write_str("utf8"),
            Self::Int32 => f.write_str("int32"),
            Self::Int64 => f.write_str("int64"),
            Self::Float64 => f.write_str("float64"),
            Self::Boolean => f.write_str("boolean"),
            Self::Date32 => f.write_str("date32"),
            Self::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
        }
    }
}

/// One declared column.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// SQL name.
    pub name: String,
    /// Physical type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Whether empty values are allowed.
    #[serde(default)]
    pub nullable: bool,
    /// How the column may be shown.
    #[serde(default)]
    pub sensitivity: Sensitivity,
    /// Chinese label, as reports and forms show it.
    pub name_zh: String,
    /// What the column holds.
    pub description: String,
}

/// One declared table of the data supply list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDef {
    /// SQL name and stable identifier (`admin_penalties`).
    pub id: String,
    /// 数据表名（中文）.
    pub name_zh: String,
    /// 数据表名（英文）.
    pub name_en: String,
    /// 数源单位: the authority that supplies the table.
    pub source_unit: String,
    /// Information class of 附录A.
    pub info_class: InfoClass,
    /// Body section of 附录A (1–12) the table reports under.
    pub section: u8,
    /// What the table holds.
    pub description: String,
    /// Columns, the common record columns first where the table has them.
    pub columns: Vec<ColumnDef>,
}

impl TableDef {
    /// The file name of the table inside the public-credit data folder.
    pub fn file_name(&self) -> String {
        format!("{}.parquet", self.id)
    }

    /// The Arrow schema the table's files must have.
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(&c.name, c.column_type.arrow_type(), c.nullable))
                .collect::<Vec<_>>(),
        ))
    }

    /// The declared column of that name.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The whole declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Declared tables, in declaration order.
    pub tables: Vec<TableDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    version: u32,
    #[serde(default)]
    record_columns: Vec<ColumnDef>,
    tables: Vec<RawTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    id: String,
    name_zh: String,
    name_en: String,
    source_unit: String,
    info_class: InfoClass,
    section: u8,
    #[serde(default)]
    record: bool,
    description: String,
    columns: Vec<ColumnDef>,
}

const BUILTIN: &str = include_str!("tables.toml");

impl Manifest {
    /// The built-in public-credit catalog.
    pub fn builtin() -> &'static Manifest {
        static BUILTIN_MANIFEST: OnceLock<Manifest> = OnceLock::new();
        BUILTIN_MANIFEST.get_or_init(|| {
            Manifest::parse(BUILTIN)
                .expect("the built-in tables.toml is checked by the catalog's tests")
        })
    }

    /// Parses and checks a declaration in the format of `tables.toml`.
    pub fn parse(text: &str) -> Result<Manifest, CatalogError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| CatalogError::Manifest {
            message: e.to_string(),
        })?;
        if raw.version != 1 {
            return Err(CatalogError::Manifest {
                message: format!(
                    "unsupported catalog version {}; this build reads version 1",
                    raw.version
                ),
            });
        }
        let mut ids = HashSet::new();
        let mut tables = Vec::with_capacity(raw.tables.len());
        for t in raw.tables {
            let problem = |message: String| CatalogError::Manifest {
                message: format!("table '{}': {message}", t.id),
            };
            if !is_sql_identifier(&t.id) {
                return Err(problem("the id must be lower-case letters, digits and underscores, starting with a letter".into()));
            }
            if !ids.insert(t.id.clone()) {
                return Err(problem("declared twice".into()));
            }
            if !(1..=12).contains(&t.section) {
                return Err(problem(format!(
                    "section {} is not a body section of 附录A (1-12)",
                    t.section
                )));
            }
            for (field, value) in [
                ("name_zh", &t.name_zh),
                ("name_en", &t.name_en),
                ("source_unit", &t.source_unit),
                ("description", &t.description),
            ] {
                if value.trim().is_empty() {
                    return Err(problem(format!("{field} is empty")));
                }
            }
            let mut columns = if t.record {
                raw.record_columns.clone()
            } else {
                Vec::new()
            };
            columns.extend(t.columns.iter().cloned());
            let mut names = HashSet::new();
            for c in &columns {
                if !is_sql_identifier(&c.name) {
                    return Err(problem(format!(
                        "column '{}' is not a lower-case SQL identifier",
                        c.name
                    )));
                }
                if !names.insert(c.name.as_str()) {
                    return Err(problem(format!("column '{}' declared twice", c.name)));
                }
                if c.name_zh.trim().is_empty() || c.description.trim().is_empty() {
                    return Err(problem(format!(
                        "column '{}' needs a name_zh and a description",
                        c.name
                    )));
                }
            }
            if columns.is_empty() {
                return Err(problem("no columns".into()));
            }
            tables.push(TableDef {
                id: t.id,
                name_zh: t.name_zh,
                name_en: t.name_en,
                source_unit: t.source_unit,
                info_class: t.info_class,
                section: t.section,
                description: t.description,
                columns,
            });
        }
        Ok(Manifest { tables })
    }

    /// The declared table with that id.
    pub fn table(&self, id: &str) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.id == id)
    }
}

fn is_sql_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && s.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_declaration_parses() {
        let m = Manifest::parse(BUILTIN).expect("tables.toml is valid");
        assert!(m.tables.len() >= 15);
    }

    #[test]
    fn decimal_types_parse_and_reject_nonsense() {
        assert_eq!(
            ColumnType::try_from("decimal(18,2)".to_owned()),
            Ok(ColumnType::Decimal {
                precision: 18,
                scale: 2
            })
        );
        assert!(ColumnType::try_from("decimal(2,5)".to_owned()).is_err());
        assert!(ColumnType::try_from("decimal(18)".to_owned()).is_err());
        let e = ColumnType::try_from("varchar".to_owned()).unwrap_err();
        assert!(e.contains("unknown column type 'varchar'"), "{e}");
    }
}
