//! Hostile models, one test each. Every one ends with its specific error, within its
//! limit, and the next job runs normally.

use std::time::{Duration, Instant};

use sandbox::{InvalidModel, Limit, Sandbox, SandboxConfig, SandboxError};

use crate::{LINEAR_WAT, assert_healthy, inputs, sandbox, variant, wasm};

const SCORE_START: &str = "(local.set $rows (i32.load offset=4 (local.get $in)))";

fn run(s: &Sandbox, bytes: &[u8]) -> SandboxError {
    let model = s.load(bytes).expect("the module itself is valid");
    s.run_batch(&model, &inputs(&[1.0, 2.0], &[0.0, 1.0], &[3.0, 4.0]))
        .expect_err("must fail")
}

fn refused(s: &Sandbox, bytes: &[u8]) -> InvalidModel {
    match s.load(bytes) {
        Err(SandboxError::Invalid(e)) => e,
        Err(other) => panic!("expected a refusal, got {other:?}"),
        Ok(_) => panic!("expected a refusal, the module loaded"),
    }
}

fn assert_limit(e: &SandboxError, expected: Limit) {
    match e {
        SandboxError::LimitExceeded { limit, model, .. } => {
            assert_eq!(*limit, expected, "{e}");
            assert_eq!(model, "linear_score");
        }
        other => panic!("expected {expected}, got {other:?}"),
    }
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let s = sandbox();
    let started = Instant::now();
    let e = run(
        &s,
        &variant(&[(SCORE_START, "(loop $forever (br $forever))")]),
    );
    assert_limit(&e, Limit::Fuel);
    assert!(e.to_string().contains("50000000 units"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "fuel should end it before the time limit"
    );
    assert_healthy(&s);
}

#[test]
fn an_infinite_loop_with_fuel_to_spare_hits_the_time_limit() {
    let s = Sandbox::new(SandboxConfig {
        fuel_per_batch: u64::MAX / 4,
        batch_timeout: Duration::from_millis(300),
        max_concurrent_instances: 4,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let started = Instant::now();
    let e = run(
        &s,
        &variant(&[(SCORE_START, "(loop $forever (br $forever))")]),
    );
    assert_limit(&e, Limit::Time);
    assert!(e.to_string().contains("300 ms"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_healthy(&s);
}

#[test]
fn a_memory_grow_bomb_hits_the_memory_limit() {
    let s = sandbox();
    let bomb = "(loop $more (drop (memory.grow (i32.const 16))) (br $more))";
    let e = run(&s, &variant(&[(SCORE_START, bomb)]));
    assert_limit(&e, Limit::Memory);
    assert!(e.to_string().contains("16 MiB"), "{e}");
    assert_healthy(&s);
}

#[test]
fn an_initial_memory_over_the_limit_is_refused_at_upload() {
    let s = sandbox();
    let e = refused(
        &s,
        &variant(&[(
            "(memory (export \"memory\") 1)",
            "(memory (export \"memory\") 1000)",
        )]),
    );
    assert_eq!(
        e,
        InvalidModel::Structure {
            what: "bytes of initial memory",
            found: 65_536_000,
            limit: 16 << 20
        }
    );
    assert_healthy(&s);
}

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

#[test]
fn a_huge_table_is_refused_at_upload_and_table_growth_is_capped() {
    let s = sandbox();
    let e = refused(
        &s,
        &variant(&[(
            "(memory (export \"memory\") 1)",
            "(memory (export \"memory\") 1)\n  (table 1000000 funcref)",
        )]),
    );
    assert_eq!(
        e,
        InvalidModel::Structure {
            what: "initial table elements",
            found: 1_000_000,
            limit: 10_000
        }
    );
    // A small table that grows without end at run time hits the limit.
    let grow = variant(&[
        (
            "(memory (export \"memory\") 1)",
            "(memory (export \"memory\") 1)\n  (table $t 1 funcref)",
        ),
        (
            SCORE_START,
            "(loop $more (drop (table.grow $t (ref.null func) (i32.const 1000))) (br $more))",
        ),
    ]);
    assert_limit(&run(&s, &grow), Limit::Table);
    assert_healthy(&s);
}

#[test]
fn a_trap_names_the_model_and_what_happened() {
    let s = sandbox();
    let e = run(&s, &variant(&[(SCORE_START, "unreachable")]));
    match &e {
        SandboxError::Trap { model, message } => {
            assert_eq!(model, "linear_score");
            assert!(message.contains("unreachable"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_healthy(&s);
}

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
