//! Hostile models, one file per kind of attack. Every one ends with its specific error,
//! within its limit, leaves no result, and the next batch runs normally.

mod host_imports;
mod huge_table;
mod infinite_loop;
mod lying_outputs;
mod malformed;
mod manifest_mismatch;
mod memory_bomb;
mod recursion;
mod slow_compile;
mod start_function;
mod trap;

use sandbox::{InvalidModel, Limit, Sandbox, SandboxError};

use crate::inputs;

/// The first instruction of the linear model's `creditpool_score`, for inserting code.
pub const SCORE_START: &str = "(local.set $rows (i32.load offset=4 (local.get $in)))";

/// Loads a valid module and runs one batch, which must fail.
pub fn run(s: &Sandbox, bytes: &[u8]) -> SandboxError {
    let model = s.load(bytes).expect("the module itself is valid");
    s.run_batch(&model, &inputs(&[1.0, 2.0], &[0.0, 1.0], &[3.0, 4.0]))
        .expect_err("must fail")
}

/// Loads a module that must be refused at upload.
pub fn refused(s: &Sandbox, bytes: &[u8]) -> InvalidModel {
    match s.load(bytes) {
        Err(SandboxError::Invalid(e)) => e,
        Err(other) => panic!("expected a refusal, got {other:?}"),
        Ok(_) => panic!("expected a refusal, the module loaded"),
    }
}

/// The error is the `expected` limit, reported for the linear model.
pub fn assert_limit(e: &SandboxError, expected: Limit) {
    match e {
        SandboxError::LimitExceeded { limit, model, .. } => {
            assert_eq!(*limit, expected, "{e}");
            assert_eq!(model, "linear_score");
        }
        other => panic!("expected {expected}, got {other:?}"),
    }
}
