//! A model with a text result: nulls pass through, and lying text outputs are refused.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use sandbox::SandboxError;

use crate::{assert_healthy, sandbox, wasm};

const RISK_BAND_WAT: &str = include_str!("../../../samples/models/risk_band.wat");

fn band_variant(from: &str, to: &str) -> Vec<u8> {
    assert!(RISK_BAND_WAT.contains(from), "'{from}' not in the model");
    wasm(&RISK_BAND_WAT.replacen(from, to, 1))
}

fn scores() -> Vec<ArrayRef> {
    vec![Arc::new(Float64Array::from(vec![
        Some(700.0),
        Some(500.0),
        Some(100.0),
        None,
        Some(600.0),
    ]))]
}

#[test]
fn bands_come_back_as_text_with_nulls_kept() {
    let s = sandbox();
    let model = s.load(&wasm(RISK_BAND_WAT)).expect("loads");
    let (out, _) = s.run_batch(&model, &scores()).expect("runs");
    let out = out.as_string::<i32>();
    assert_eq!(out.len(), 5);
    assert_eq!(out.value(0), "低风险");
    assert_eq!(out.value(1), "中风险");
    assert_eq!(out.value(2), "高风险");
    assert!(out.is_null(3));
    assert_eq!(out.value(4), "低风险");
}

#[test]
fn lying_text_outputs_are_refused() {
    let s = sandbox();
    let cases = [
        // The last offset claims more bytes than the values buffer has.
        (
            "(i32.store offset=28 (local.get $out) (local.get $pos))",
            "(i32.store offset=28 (local.get $out) (i32.sub (local.get $pos) (i32.const 1)))",
            "offsets",
        ),
        // An offset points into the middle of a character.
        (
            "(local.set $i (i32.add (local.get $i) (i32.const 1)))",
            "(if (i32.eqz (local.get $i)) (then (i32.store offset=4 (local.get $offsets) (i32.const 4))))\n        (local.set $i (i32.add (local.get $i) (i32.const 1)))",
            "splits a character",
        ),
        // Invalid UTF-8: the text is copied from the middle of a character.
        ("(then (i32.const 256))", "(then (i32.const 257))", "UTF-8"),
        // No offsets buffer at all.
        (
            "(i32.store offset=32 (local.get $out) (local.get $offsets))",
            "(i32.store offset=32 (local.get $out) (i32.const 0))",
            "offsets buffer",
        ),
        // A validity bitmap outside memory.
        (
            "(i32.store offset=20 (local.get $out) (local.get $out_valid))",
            "(i32.store offset=20 (local.get $out) (i32.const 0x7fffffff))",
            "validity bitmap",
        ),
    ];
    for (from, to, expected) in cases {
        let model = s
            .load(&band_variant(from, to))
            .expect("the module itself is valid");
        let e = s.run_batch(&model, &scores()).expect_err(expected);
        match &e {
            SandboxError::BadOutput { model, reason } => {
                assert_eq!(model, "risk_band");
                assert!(reason.contains(expected), "{expected}: {reason}");
            }
            other => panic!("{expected}: {other:?}"),
        }
    }
    assert_healthy(&s);
}
