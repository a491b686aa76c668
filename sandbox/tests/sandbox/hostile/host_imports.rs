//! WASI and other host imports.

use sandbox::InvalidModel;

use super::refused;
use crate::{assert_healthy, sandbox, variant};

#[test]
fn wasi_and_other_host_imports_are_refused() {
    let s = sandbox();
    for import in [
        r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
        r#"(import "env" "clock" (func (result i64)))"#,
        r#"(import "creditpool" "log" (func (param i64)))"#,
    ] {
        let e = refused(
            &s,
            &variant(&[(
                "(memory (export \"memory\") 1)",
                &format!("{import}\n  (memory (export \"memory\") 1)"),
            )]),
        );
        assert!(matches!(e, InvalidModel::ForbiddenImport { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("models may import nothing but creditpool.log"),
            "{e}"
        );
    }
    assert_healthy(&s);
}
