//! A huge table: refused at upload; `table.grow` capped at run time.

use sandbox::{InvalidModel, Limit};

use super::{SCORE_START, assert_limit, refused, run};
use crate::{assert_healthy, sandbox, variant};

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
