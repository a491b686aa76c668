//! A model as a DataFusion scalar function, evaluated batch by batch in the sandbox.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::engine::{Model, Sandbox};
use crate::run::{BatchUsage, CancelToken};

/// What all calls of the models in one job used.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelUsage {
    /// Batches scored.
    pub batches: u64,
    /// Rows scored.
    pub rows: u64,
    /// Fuel consumed.
    pub fuel: u64,
    /// Largest guest memory of any instance, in bytes.
    pub peak_memory_bytes: usize,
    /// CPU time of the batches (instantiation, copies and the guest's own work).
    pub cpu: std::time::Duration,
    /// Log text the models emitted (at most 4 KiB a batch).
    pub log: String,
}

impl ModelUsage {
    fn add(&mut self, u: &BatchUsage) {
        self.batches += 1;
        self.rows += u.rows as u64;
        self.fuel += u.fuel;
        self.cpu += u.cpu;
        self.peak_memory_bytes = self.peak_memory_bytes.max(u.peak_memory_bytes);
        if self.log.len() < 64 * 1024 {
            self.log.push_str(&u.log);
        }
    }
}

/// A model registered as a SQL function. Volatile, so the planner never evaluates it at
/// plan time (constant folding would run untrusted code outside the job's accounting).
#[derive(Debug)]
pub(crate) struct ModelUdf {
    model: Model,
    sandbox: Arc<Sandbox>,
    signature: Signature,
    output: DataType,
    usage: Arc<Mutex<ModelUsage>>,
    cancel: CancelToken,
}

impl ModelUdf {
    pub(crate) fn new(
        model: Model,
        sandbox: Arc<Sandbox>,
        usage: Arc<Mutex<ModelUsage>>,
        cancel: CancelToken,
    ) -> ModelUdf {
        let inputs = model
            .manifest()
            .inputs
            .iter()
            .map(|c| c.column_type.arrow_type())
            .collect();
        let output = model.manifest().output_type().arrow_type();
        ModelUdf {
            model,
            sandbox,
            signature: Signature::exact(inputs, Volatility::Volatile),
            output,
            usage,
            cancel,
        }
    }
}

impl PartialEq for ModelUdf {
    fn eq(&self, other: &Self) -> bool {
        self.model.id() == other.model.id()
            && self.model.manifest().name == other.model.manifest().name
    }
}

impl Eq for ModelUdf {}

impl Hash for ModelUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.model.id().hash(state);
    }
}

impl ScalarUDFImpl for ModelUdf {
    fn name(&self) -> &str {
        &self.model.manifest().name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(self.output.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(args.number_rows))
            .collect::<Result<Vec<_>>>()?;
        let (out, usage) = self
            .sandbox
            .run_batch_cancellable(&self.model, &arrays, &self.cancel)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        if let Ok(mut total) = self.usage.lock() {
            total.add(&usage);
        }
        Ok(ColumnarValue::Array(out))
    }
}
