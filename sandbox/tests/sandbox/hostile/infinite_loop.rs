//! An infinite loop: stopped by fuel, or by the wall clock when fuel is plentiful.

use sandbox::{Limit, Sandbox, SandboxConfig};
use std::time::{Duration, Instant};

use super::{SCORE_START, assert_limit, run};
use crate::{assert_healthy, sandbox, variant};

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
