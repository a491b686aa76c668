//! Crash points (issue 17, item 7): named places in the middle of a state change where a
//! test makes the server die as `kill -9` would, to check that after a restart nothing is
//! half-visible. `CREDITPOOL_CRASH_AT=<name>` arms one point; the process then sends
//! itself SIGKILL when it reaches it (no destructor runs, nothing is flushed, no
//! transaction commits). Only debug builds (the tests') have them: in a release build
//! [`point`] and [`audited`] do nothing.
//!
//! The points: `upload.received` (an own-data upload is on disk, not yet read),
//! `upload.converted` (its table file is in place, not yet recorded), `model.written`
//! (a model's file is in place, not yet recorded), `job.result_placed` (a job's result
//! file is in place, the job not yet recorded as ended), and `audited:<action>` for every
//! audited action (its audit entry is written in its transaction, which has not
//! committed: `audited:release.sample`, `audited:report.issued`, …).

use std::sync::OnceLock;

/// The variable that arms a crash point.
pub const VARIABLE: &str = "CREDITPOOL_CRASH_AT";

fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            std::env::var(VARIABLE)
                .ok()
                .filter(|_| cfg!(debug_assertions))
        })
        .as_deref()
}

/// Dies here if the point `name` is armed.
pub fn point(name: &str) {
    if armed() == Some(name) {
        die(name);
    }
}

/// Dies here if the point `audited:<action>` is armed.
pub fn audited(action: &str) {
    if armed().and_then(|a| a.strip_prefix("audited:")) == Some(action) {
        die(action);
    }
}

fn die(name: &str) {
    eprintln!("crash point {name}: the process kills itself");
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    // SIGKILL cannot be caught: this is not reached.
    std::process::abort();
}
