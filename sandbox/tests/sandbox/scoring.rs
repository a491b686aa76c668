//! A model written from docs/model-abi.md alone, in WAT, loads and scores correctly.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray};
use datafusion::arrow::datatypes::Float64Type;
use sandbox::{AbiType, SandboxError};

use crate::{LINEAR_WAT, inputs, sandbox, wasm};

fn expected(x1: f64, x2: f64, x3: f64) -> f64 {
    600.0 - 50.0 * x1 - 30.0 * x2 + 5.0 * x3
}

#[test]
fn the_hand_written_model_loads_with_its_manifest() {
    let s = sandbox();
    let model = s.load(&wasm(LINEAR_WAT)).expect("loads");
    let m = model.manifest();
    assert_eq!(m.name, "linear_score");
    assert_eq!(m.inputs.len(), 3);
    assert_eq!(m.inputs[0].name, "penalties_5y");
    assert_eq!(m.output_type(), AbiType::Float64);
}

#[test]
fn it_scores_a_batch_exactly() {
    let s = sandbox();
    let model = s.load(&wasm(LINEAR_WAT)).expect("loads");
    let n = 10_000;
    let x1: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
    let x2: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
    let x3: Vec<f64> = (0..n).map(|i| (i % 30) as f64 * 0.5).collect();
    let (out, usage) = s.run_batch(&model, &inputs(&x1, &x2, &x3)).expect("runs");
    let out = out.as_primitive::<Float64Type>();
    assert_eq!(out.len(), n);
    assert_eq!(out.null_count(), 0);
    for i in 0..n {
        assert_eq!(out.value(i), expected(x1[i], x2[i], x3[i]), "row {i}");
    }
    assert_eq!(usage.rows, n);
    assert!(usage.fuel > n as u64, "fuel is metered: {}", usage.fuel);
    assert!(usage.peak_memory_bytes >= 65_536);
}

#[test]
fn sliced_inputs_are_laid_out_from_their_offset() {
    let s = sandbox();
    let model = s.load(&wasm(LINEAR_WAT)).expect("loads");
    let full = inputs(&[9.0, 1.0, 2.0], &[9.0, 0.0, 1.0], &[9.0, 4.0, 8.0]);
    let sliced: Vec<ArrayRef> = full.iter().map(|a| a.slice(1, 2)).collect();
    let (out, _) = s.run_batch(&model, &sliced).expect("runs");
    let out = out.as_primitive::<Float64Type>();
    assert_eq!(
        out.values().to_vec(),
        vec![expected(1.0, 0.0, 4.0), expected(2.0, 1.0, 8.0)]
    );
}

#[test]
fn an_empty_batch_gives_an_empty_result() {
    let s = sandbox();
    let model = s.load(&wasm(LINEAR_WAT)).expect("loads");
    let (out, _) = s.run_batch(&model, &inputs(&[], &[], &[])).expect("runs");
    assert_eq!(out.len(), 0);
}

#[test]
fn wrong_arguments_are_refused_before_running() {
    let s = sandbox();
    let model = s.load(&wasm(LINEAR_WAT)).expect("loads");
    let two = inputs(&[1.0], &[1.0], &[1.0])[..2].to_vec();
    let e = s.run_batch(&model, &two).expect_err("two arguments");
    assert!(matches!(e, SandboxError::Call(_)), "{e:?}");
    assert!(e.to_string().contains("takes 3 arguments"), "{e}");

    let mut wrong = inputs(&[1.0], &[1.0], &[1.0]);
    wrong[1] = Arc::new(StringArray::from(vec!["x"]));
    let e = s.run_batch(&model, &wrong).expect_err("string argument");
    assert!(
        e.to_string().contains("abnormal_listings") && e.to_string().contains("float64"),
        "{e}"
    );

    let mut ragged = inputs(&[1.0], &[1.0], &[1.0]);
    ragged[2] = Arc::new(Float64Array::from(vec![1.0, 2.0]));
    assert!(s.run_batch(&model, &ragged).is_err());
}
