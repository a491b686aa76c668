//! A start function (which could run forever at instantiation).

use sandbox::InvalidModel;

use super::refused;
use crate::{assert_healthy, sandbox, variant};

#[test]
fn a_start_function_is_refused() {
    let s = sandbox();
    let e = refused(
        &s,
        &variant(&[(
            "(func (export \"creditpool_dealloc\")",
            "(func $never (loop $l (br $l)))\n  (start $never)\n  (func (export \"creditpool_dealloc\")",
        )]),
    );
    assert_eq!(e, InvalidModel::StartFunction);
    assert_healthy(&s);
}
