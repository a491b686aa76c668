//! The SQL name of a column's type, as a person writing the job's SQL knows it
//! (`VARCHAR`, `BIGINT`, `DECIMAL(18,2)`), not the engine's internal name (`Utf8View`).

use datafusion::arrow::datatypes::{DataType, IntervalUnit, TimeUnit};

/// The SQL name of `t`, as DataFusion's SQL spells it where it has one; the engine's
/// name otherwise (types a job rarely makes: maps, unions, dictionaries' values).
pub fn sql_type(t: &DataType) -> String {
    match t {
        DataType::Null => "NULL".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::UInt32 => "INT UNSIGNED".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float16 | DataType::Float32 => "REAL".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("DECIMAL({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "BYTEA".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".into(),
        DataType::Timestamp(unit, zone) => {
            let precision = match unit {
                TimeUnit::Second => "",
                TimeUnit::Millisecond => "(3)",
                TimeUnit::Microsecond => "(6)",
                TimeUnit::Nanosecond => "(9)",
            };
            match zone {
                Some(_) => format!("TIMESTAMP{precision} WITH TIME ZONE"),
                None => format!("TIMESTAMP{precision}"),
            }
        }
        DataType::Duration(_) => "INTERVAL".into(),
        DataType::Interval(IntervalUnit::YearMonth) => "INTERVAL YEAR TO MONTH".into(),
        DataType::Interval(_) => "INTERVAL".into(),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _) => format!("{}[]", sql_type(f.data_type())),
        DataType::Struct(fields) => format!(
            "STRUCT({})",
            fields
                .iter()
                .map(|f| format!("{} {}", f.name(), sql_type(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::Dictionary(_, value) => sql_type(value),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::Field;

    use super::*;

    #[test]
    fn types_read_as_sql_not_as_the_engines_names() {
        // Issue 17: result schemas showed `Utf8View` where a user expects VARCHAR.
        for (t, sql) in [
            (DataType::Utf8View, "VARCHAR"),
            (DataType::Utf8, "VARCHAR"),
            (DataType::Int64, "BIGINT"),
            (DataType::Int32, "INT"),
            (DataType::Float64, "DOUBLE"),
            (DataType::Boolean, "BOOLEAN"),
            (DataType::Date32, "DATE"),
            (DataType::Decimal128(18, 2), "DECIMAL(18,2)"),
            (
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                "TIMESTAMP(9)",
            ),
            (
                DataType::Timestamp(TimeUnit::Microsecond, Some("+08:00".into())),
                "TIMESTAMP(6) WITH TIME ZONE",
            ),
            (
                DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
                "BIGINT[]",
            ),
            (
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                "VARCHAR",
            ),
        ] {
            assert_eq!(sql_type(&t), sql, "{t}");
        }
    }
}
