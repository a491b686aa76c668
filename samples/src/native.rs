//! The example models as native DataFusion functions: the same Rust source as the
//! WebAssembly builds, compiled for the host. Used to check that the sandbox computes
//! what the model's author wrote, and as the baseline of the benchmarks.

use std::hash::{Hash, Hasher};

use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// A native function of `arity` float64 arguments returning float64; NULL in any
/// argument gives NULL, as in the guest SDK.
#[derive(Debug)]
pub struct NativeModel {
    name: String,
    function: fn(&[f64]) -> f64,
    signature: Signature,
}

impl PartialEq for NativeModel {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for NativeModel {}

impl Hash for NativeModel {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl NativeModel {
    /// A UDF named `name` calling `function` on each row.
    pub fn udf(name: &str, arity: usize, function: fn(&[f64]) -> f64) -> ScalarUDF {
        ScalarUDF::new_from_impl(NativeModel {
            name: name.to_owned(),
            function,
            signature: Signature::exact(vec![DataType::Float64; arity], Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for NativeModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(args.number_rows))
            .collect::<Result<Vec<_>>>()?;
        let columns: Vec<&Float64Array> = arrays
            .iter()
            .map(|a| a.as_primitive::<Float64Type>())
            .collect();
        let mut row = vec![0.0; columns.len()];
        let out: Float64Array = (0..args.number_rows)
            .map(|i| {
                if columns.iter().any(|c| c.is_null(i)) {
                    return None;
                }
                for (slot, c) in row.iter_mut().zip(&columns) {
                    *slot = c.value(i);
                }
                Some((self.function)(&row))
            })
            .collect();
        Ok(ColumnarValue::Array(std::sync::Arc::new(out)))
    }
}

/// The scorecard model (`samples/models/scorecard`) as a native function `scorecard_native`.
pub fn scorecard_udf() -> ScalarUDF {
    NativeModel::udf("scorecard_native", 5, |x| {
        scorecard_model::scorecard(x[0], x[1], x[2], x[3], x[4])
    })
}

/// The gradient-boosted default-risk model (`samples/models/gbt`) as a native function
/// `default_risk_native`.
pub fn default_risk_udf() -> ScalarUDF {
    NativeModel::udf("default_risk_native", 5, |x| {
        gbt_model::default_risk(x[0], x[1], x[2], x[3], x[4])
    })
}
