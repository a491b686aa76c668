//! The job queue: states, order, the running-slot limit, cancellation of queued and
//! running jobs (a guest mid-batch included), and the observer that sees every change.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sandbox::{
    CancelToken, JobError, JobLimits, JobQueue, JobReport, JobState, JobWork, Sandbox,
    SandboxConfig, job_session, run_job,
};

use crate::{LINEAR_WAT, variant, wasm};

/// A job that runs `sql` calling the model `bytes`, writing into a temporary folder.
fn model_job(sandbox: Arc<Sandbox>, bytes: Vec<u8>, sql: &'static str) -> JobWork {
    Box::new(move |cancel: CancelToken| {
        Box::pin(async move {
            let model = sandbox.load(&bytes).map_err(JobError::Model)?;
            let limits = JobLimits::default();
            let ctx = job_session(&limits)?;
            let dir = tempfile::tempdir().map_err(|e| JobError::Io(e.to_string()))?;
            run_job(
                &ctx,
                sandbox,
                &[model],
                sql,
                &dir.path().join("out.parquet"),
                &limits,
                &cancel,
            )
            .await
        })
    })
}

/// A job that waits until it is released (or cancelled) and then succeeds.
fn gated_job(gate: Arc<tokio::sync::Notify>) -> JobWork {
    Box::new(move |cancel: CancelToken| {
        Box::pin(async move {
            tokio::select! {
                _ = gate.notified() => {}
                _ = async { while !cancel.is_cancelled() { tokio::time::sleep(Duration::from_millis(5)).await } } => {
                    return Err(JobError::Cancelled);
                }
            }
            Ok(JobReport {
                rows_in: 0,
                rows_out: 0,
                models: Default::default(),
                wall: Duration::ZERO,
                cpu: Duration::ZERO,
                result: "unused".into(),
            })
        })
    })
}

/// Waits (polling, up to 10 s) until `job` is in `state`.
async fn until_state(queue: &JobQueue, job: u64, state: JobState) {
    for _ in 0..2000 {
        if queue.status(job).expect("known job").state == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("job {job} never reached {state:?}: {:?}", queue.status(job));
}

fn sandbox() -> Arc<Sandbox> {
    Arc::new(
        Sandbox::new(SandboxConfig {
            fuel_per_batch: u64::MAX / 4,
            batch_timeout: Duration::from_secs(30),
            max_concurrent_instances: 4,
            ..SandboxConfig::default()
        })
        .expect("sandbox"),
    )
}

#[tokio::test]
async fn a_job_goes_from_queued_through_running_to_succeeded_and_the_observer_sees_each_step() {
    let seen: Arc<Mutex<Vec<(u64, JobState)>>> = Arc::default();
    let log = seen.clone();
    let queue = JobQueue::new(1)
        .expect("queue")
        .with_observer(Arc::new(move |id, state, _| {
            log.lock().expect("lock").push((id, state));
        }));
    let id = queue.submit(model_job(
        sandbox(),
        wasm(LINEAR_WAT),
        "SELECT linear_score(1.0, 0.0, 10.0) AS score",
    ));
    let status = queue.wait(id).await.expect("known job");
    assert_eq!(status.state, JobState::Succeeded);
    let report = status.outcome.expect("ended").expect("succeeded");
    assert_eq!((report.rows_out, report.models.rows), (1, 1));
    assert_eq!(
        *seen.lock().expect("lock"),
        [
            (id, JobState::Queued),
            (id, JobState::Running),
            (id, JobState::Succeeded)
        ]
    );
    assert_eq!(queue.active(), 0);
    assert!(
        queue.status(id + 1000).is_none(),
        "unknown ids are not found"
    );
}

#[tokio::test]
async fn a_failing_job_ends_failed_with_its_error() {
    let queue = JobQueue::new(1).expect("queue");
    let id = queue.submit(model_job(
        sandbox(),
        wasm(LINEAR_WAT),
        "SELECT linear_score(1.0, 0.0) AS score",
    ));
    let status = queue.wait(id).await.expect("known job");
    assert_eq!(status.state, JobState::Failed);
    match status.outcome.expect("ended") {
        Err(JobError::Sql(refusal)) => {
            assert!(refusal.message.contains("linear_score"), "{refusal}")
        }
        other => panic!("expected a SQL error, got {other:?}"),
    }
    assert!(!queue.cancel(id), "an ended job cannot be cancelled");
}

#[tokio::test]
async fn jobs_beyond_the_slots_wait_queued_and_a_queued_job_cancelled_never_runs() {
    let queue = JobQueue::new(1).expect("queue");
    let gate = Arc::new(tokio::sync::Notify::new());
    let first = queue.submit(gated_job(gate.clone()));
    let second = queue.submit(gated_job(gate.clone()));
    let third = queue.submit(gated_job(gate.clone()));
    until_state(&queue, first, JobState::Running).await;
    let state = |id| queue.status(id).expect("known").state;
    assert_eq!(
        (state(first), state(second), state(third)),
        (JobState::Running, JobState::Queued, JobState::Queued)
    );
    assert_eq!(queue.active(), 3);

    assert!(queue.cancel(second));
    gate.notify_one();
    let first_status = queue.wait(first).await.expect("known");
    assert_eq!(first_status.state, JobState::Succeeded);
    let second_status = queue.wait(second).await.expect("known");
    assert_eq!(second_status.state, JobState::Cancelled);
    assert!(matches!(
        second_status.outcome,
        Some(Err(JobError::Cancelled))
    ));
    // The third takes the slot in turn.
    until_state(&queue, third, JobState::Running).await;
    gate.notify_one();
    assert_eq!(
        queue.wait(third).await.expect("known").state,
        JobState::Succeeded
    );
}

#[tokio::test]
async fn cancelling_a_running_job_interrupts_its_guest_mid_batch() {
    let queue = JobQueue::new(2).expect("queue");
    // A guest that never returns; only cancellation (checked by the epoch clock) stops it.
    let looping = variant(&[(
        "(local.set $rows (i32.load offset=4 (local.get $in)))",
        "(loop $forever (br $forever))",
    )]);
    let id = queue.submit(model_job(
        sandbox(),
        looping,
        "SELECT linear_score(1.0, 0.0, 10.0) AS score",
    ));
    until_state(&queue, id, JobState::Running).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    assert!(queue.cancel(id), "{:?}", queue.status(id));
    let status = queue.wait(id).await.expect("known");
    assert_eq!(status.state, JobState::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cancelled within ticks, not at the 30 s batch limit: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn slots_go_to_the_tenant_with_the_fewest_running_jobs() {
    // Issue 14, class 7: one tenant's queue of jobs does not hold another's back by
    // more than the first running job. Two slots; tenant a fills them and queues three
    // more; tenant b's job, submitted last, runs as soon as one of a's ends.
    let queue = JobQueue::new(2).expect("queue");
    let gates: Vec<Arc<tokio::sync::Notify>> = (0..6)
        .map(|_| Arc::new(tokio::sync::Notify::new()))
        .collect();
    let a: Vec<u64> = (0..5)
        .map(|i| queue.submit_as("a", gated_job(gates[i].clone())))
        .collect();
    let b = queue.submit_as("b", gated_job(gates[5].clone()));
    until_state(&queue, a[0], JobState::Running).await;
    until_state(&queue, a[1], JobState::Running).await;
    let state = |id| queue.status(id).expect("known").state;
    assert!(a[2..].iter().all(|id| state(*id) == JobState::Queued));
    assert_eq!(state(b), JobState::Queued);
    // One of a's ends: the slot goes to b, though a queued first.
    gates[0].notify_one();
    until_state(&queue, b, JobState::Running).await;
    assert!(a[2..].iter().all(|id| state(*id) == JobState::Queued));
    // b ends: a, alone again, takes the freed slot, in submission order.
    gates[5].notify_one();
    until_state(&queue, a[2], JobState::Running).await;
    assert_eq!(state(a[3]), JobState::Queued);
    for (i, id) in a.iter().enumerate().skip(1) {
        until_state(&queue, *id, JobState::Running).await;
        gates[i].notify_one();
        assert_eq!(
            queue.wait(*id).await.expect("known").state,
            JobState::Succeeded
        );
    }
}
