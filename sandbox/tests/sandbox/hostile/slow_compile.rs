//! A module that is very slow to compile.

use sandbox::{InvalidModel, Sandbox, SandboxConfig};
use std::time::Duration;

use super::refused;
use crate::variant;

#[test]
fn a_module_that_is_slow_to_compile_is_stopped_at_the_limit() {
    let s = Sandbox::new(SandboxConfig {
        compile_timeout: Duration::from_millis(1),
        max_concurrent_instances: 4,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let many: String = (0..3000)
        .map(|i| {
            format!(
                "(func $f{i} (param f64) (result f64) (f64.mul (local.get 0) (f64.const {i}.5)))\n"
            )
        })
        .collect();
    let e = refused(
        &s,
        &variant(&[(
            "(func (export \"creditpool_dealloc\")",
            &format!("{many}  (func (export \"creditpool_dealloc\")"),
        )]),
    );
    assert_eq!(e, InvalidModel::CompileTimeout { limit_ms: 1 });
    // Structural limits refuse the largest modules before compiling at all.
    let strict = Sandbox::new(SandboxConfig {
        max_functions: 100,
        max_concurrent_instances: 4,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let e = refused(
        &strict,
        &variant(&[(
            "(func (export \"creditpool_dealloc\")",
            &format!("{many}  (func (export \"creditpool_dealloc\")"),
        )]),
    );
    assert!(
        matches!(
            e,
            InvalidModel::Structure {
                what: "functions",
                ..
            }
        ),
        "{e:?}"
    );
}
