//! Unbounded recursion.

use sandbox::Limit;

use super::{SCORE_START, assert_limit, run};
use crate::{assert_healthy, sandbox, variant};

#[test]
fn unbounded_recursion_hits_the_stack_limit() {
    let s = sandbox();
    let e = run(
        &s,
        &variant(&[
            (SCORE_START, "(drop (call $deep (i32.const 0)))"),
            (
                "(func (export \"creditpool_dealloc\")",
                "(func $deep (param i32) (result i32) (call $deep (i32.add (local.get 0) (i32.const 1))))\n  (func (export \"creditpool_dealloc\")",
            ),
        ]),
    );
    assert_limit(&e, Limit::Stack);
    assert_healthy(&s);
}
