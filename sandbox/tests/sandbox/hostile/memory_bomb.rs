//! `memory.grow` without end, and an initial memory over the limit.

use sandbox::{InvalidModel, Limit};

use super::{SCORE_START, assert_limit, refused, run};
use crate::{assert_healthy, sandbox, variant};

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
