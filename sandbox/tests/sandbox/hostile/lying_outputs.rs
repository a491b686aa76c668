//! Out-of-bounds or lying output descriptors.

use sandbox::SandboxError;

use super::run;
use crate::{assert_healthy, sandbox, variant};

/// Output descriptors that lie: each is refused with what was wrong.
#[test]
fn lying_outputs_are_refused() {
    let s = sandbox();
    let cases: [(&str, &str, &str); 5] = [
        (
            "(i32.store offset=4 (local.get $out) (local.get $rows))",
            "(i32.store offset=4 (local.get $out) (i32.const 7))",
            "7 rows for an input of 2",
        ),
        (
            "(i32.store offset=24 (local.get $out) (local.get $vals))",
            "(i32.store offset=24 (local.get $out) (i32.const 0x7ffffff0))",
            "outside memory",
        ),
        (
            "(i32.store offset=16 (local.get $out) (i32.const 4))",
            "(i32.store offset=16 (local.get $out) (i32.const 5))",
            "type id 5",
        ),
        (
            "(i32.store (local.get $out) (i32.const 0x31425043))",
            "(i32.store (local.get $out) (i32.const 0))",
            "magic",
        ),
        (
            "(i32.store offset=28 (local.get $out) (i32.shl (local.get $rows) (i32.const 3)))",
            "(i32.store offset=28 (local.get $out) (i32.const 3))",
            "values buffer has 3 bytes",
        ),
    ];
    for (from, to, expected) in cases {
        let e = run(&s, &variant(&[(from, to)]));
        match &e {
            SandboxError::BadOutput { model, reason } => {
                assert_eq!(model, "linear_score");
                assert!(reason.contains(expected), "{expected}: {reason}");
            }
            other => panic!("{expected}: {other:?}"),
        }
    }
    // A null result pointer is the model's own failure.
    let e = run(
        &s,
        &variant(&[(
            "    (local.get $out))\n\n  (@custom",
            "    (i32.const 0))\n\n  (@custom",
        )]),
    );
    assert!(e.to_string().contains("returned 0"), "{e}");
    assert_healthy(&s);
}
