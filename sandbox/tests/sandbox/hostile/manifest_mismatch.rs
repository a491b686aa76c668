//! Manifests that do not match the module.

use sandbox::InvalidModel;

use super::refused;
use crate::{LINEAR_WAT, assert_healthy, sandbox, variant, wasm};

#[test]
fn a_manifest_that_does_not_match_the_module_is_refused() {
    let s = sandbox();
    // No manifest.
    let no_manifest = LINEAR_WAT
        .split("(@custom")
        .next()
        .expect("head")
        .to_owned()
        + ")";
    assert!(matches!(
        refused(&s, &wasm(&no_manifest)),
        InvalidModel::Manifest(_)
    ));
    // Not JSON; a bad name; two outputs.
    for (from, to) in [
        ("{\\\"abi\\\":1", "{oops"),
        (
            "\\\"name\\\":\\\"linear_score\\\"",
            "\\\"name\\\":\\\"Linear Score!\\\"",
        ),
        (
            "\\\"outputs\\\":[",
            "\\\"outputs\\\":[{\\\"name\\\":\\\"x\\\",\\\"type\\\":\\\"int32\\\"},",
        ),
        ("{\\\"abi\\\":1", "{\\\"abi\\\":2"),
    ] {
        let e = refused(&s, &variant(&[(from, to)]));
        assert!(matches!(e, InvalidModel::Manifest(_)), "{from}: {e:?}");
    }
    // A required export missing.
    let e = refused(
        &s,
        &variant(&[("(export \"creditpool_score\")", "(export \"score\")")]),
    );
    assert_eq!(
        e,
        InvalidModel::Export {
            name: "creditpool_score",
            expected: "a function (i32 input) -> i32"
        }
    );
    // The ABI version function disagrees with ABI 1.
    let e = refused(
        &s,
        &variant(&[("(result i32) (i32.const 1))", "(result i32) (i32.const 2))")]),
    );
    assert_eq!(e, InvalidModel::AbiVersion { found: 2 });
    assert_healthy(&s);
}
