//! Malformed wasm and a module over the size cap.

use sandbox::InvalidModel;

use super::refused;
use crate::{LINEAR_WAT, assert_healthy, sandbox, wasm};

#[test]
fn malformed_and_oversized_modules_are_refused() {
    let s = sandbox();
    assert!(matches!(
        refused(&s, b"\0asm\x01\0\0\0garbage"),
        InvalidModel::Malformed(_)
    ));
    assert!(matches!(
        refused(&s, b"not wasm at all"),
        InvalidModel::Malformed(_)
    ));
    let mut big = wasm(LINEAR_WAT);
    big.resize(s.config().max_module_bytes + 1, 0);
    let e = refused(&s, &big);
    assert!(matches!(e, InvalidModel::TooLarge { .. }), "{e:?}");
    assert!(e.to_string().contains("4194304 bytes"), "{e}");
    assert_healthy(&s);
}
