//! A trap (unreachable): named, with the model.

use sandbox::SandboxError;

use super::{SCORE_START, run};
use crate::{assert_healthy, sandbox, variant};

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
