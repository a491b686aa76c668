//! Integration tests of the sandbox: a hand-written model scores correctly, and every
//! hostile module fails cleanly with its specific error and leaves the host healthy.

mod cache;
mod fuzz_sql;
mod hostile;
mod jobs;
mod logging;
mod queue;
mod scoring;
mod text;

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::Float64Type;
use sandbox::{Sandbox, SandboxConfig};

/// The hand-written model of `samples/models/linear_score.wat`.
pub const LINEAR_WAT: &str = include_str!("../../../samples/models/linear_score.wat");

/// A sandbox with test-sized limits: quick to hit, so hostile tests stay fast.
pub fn sandbox() -> Sandbox {
    Sandbox::new(SandboxConfig {
        fuel_per_batch: 50_000_000,
        batch_timeout: Duration::from_secs(2),
        max_memory_bytes: 16 << 20,
        max_concurrent_instances: 8,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

/// WAT text to module bytes.
pub fn wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).unwrap_or_else(|e| panic!("test module does not assemble: {e}"))
}

/// The linear model's WAT with replacements applied (each must match).
pub fn variant(replacements: &[(&str, &str)]) -> Vec<u8> {
    let mut text = LINEAR_WAT.to_owned();
    for (from, to) in replacements {
        assert!(text.contains(from), "variant: '{from}' not in the model");
        text = text.replacen(from, to, 1);
    }
    wasm(&text)
}

/// Three float64 columns.
pub fn inputs(x1: &[f64], x2: &[f64], x3: &[f64]) -> Vec<ArrayRef> {
    [x1, x2, x3]
        .iter()
        .map(|x| Arc::new(Float64Array::from(x.to_vec())) as ArrayRef)
        .collect()
}

/// Runs the good model and checks its answer: the host is healthy.
pub fn assert_healthy(sandbox: &Sandbox) {
    let model = sandbox
        .load(&wasm(LINEAR_WAT))
        .expect("the good model loads");
    let (out, _) = sandbox
        .run_batch(&model, &inputs(&[1.0], &[0.0], &[10.0]))
        .expect("the good model runs");
    assert_eq!(
        out.as_primitive::<Float64Type>().value(0),
        600.0 - 50.0 + 50.0
    );
}
