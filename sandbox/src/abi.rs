//! The model ABI, version 1 (`docs/model-abi.md`): constants and column types.

use datafusion::arrow::datatypes::DataType;
use serde::Deserialize;

/// The ABI version this host implements.
pub const ABI_VERSION: i32 = 1;
/// Magic number at the start of every batch descriptor: the bytes `C P B 1`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"CPB1");
/// Bytes of a batch descriptor's header.
pub const HEADER_BYTES: usize = 16;
/// Bytes of one column descriptor.
pub const COLUMN_BYTES: usize = 24;
/// Name of the custom section that carries the manifest.
pub const MANIFEST_SECTION: &str = "creditpool-manifest";

/// Export names every model must have.
pub mod exports {
    /// The exported linear memory.
    pub const MEMORY: &str = "memory";
    /// `() -> i32`, returns the ABI version.
    pub const ABI_VERSION: &str = "creditpool_abi_version";
    /// `(size, align) -> ptr`.
    pub const ALLOC: &str = "creditpool_alloc";
    /// `(ptr, size, align) -> ()`.
    pub const DEALLOC: &str = "creditpool_dealloc";
    /// `(input descriptor) -> output descriptor`.
    pub const SCORE: &str = "creditpool_score";
}

/// The one import a model may have: `creditpool.log(ptr, len)`.
pub const LOG_MODULE: &str = "creditpool";
/// See [`LOG_MODULE`].
pub const LOG_FUNCTION: &str = "log";

/// A column type of ABI v1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbiType {
    /// Bit-packed booleans.
    Boolean,
    /// 32-bit integers.
    Int32,
    /// 64-bit integers.
    Int64,
    /// 64-bit floats.
    Float64,
    /// UTF-8 strings with `i32` offsets.
    Utf8,
    /// Days since 1970-01-01 as `i32`.
    Date32,
}

impl AbiType {
    /// The type id written in column descriptors.
    pub fn id(self) -> u32 {
        match self {
            Self::Boolean => 1,
            Self::Int32 => 2,
            Self::Int64 => 3,
            Self::Float64 => 4,
            Self::Utf8 => 5,
            Self::Date32 => 6,
        }
    }

    /// The Arrow type of the column.
    pub fn arrow_type(self) -> DataType {
        match self {
            Self::Boolean => DataType::Boolean,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::Float64 => DataType::Float64,
            Self::Utf8 => DataType::Utf8,
            Self::Date32 => DataType::Date32,
        }
    }

    /// The manifest's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Float64 => "float64",
            Self::Utf8 => "utf8",
            Self::Date32 => "date32",
        }
    }

    /// Exact length in bytes of the values buffer for `rows` rows; `None` for utf8,
    /// whose length the offsets decide.
    pub fn values_len(self, rows: usize) -> Option<usize> {
        match self {
            Self::Boolean => Some(rows.div_ceil(8)),
            Self::Int32 | Self::Date32 => Some(rows * 4),
            Self::Int64 | Self::Float64 => Some(rows * 8),
            Self::Utf8 => None,
        }
    }
}
