//! The job queue: jobs wait their turn for one of a fixed number of running slots, move
//! through queued → running → succeeded | failed | cancelled, and can be cancelled at
//! any point. Every change of state is reported to an observer, which the gateway uses
//! to persist and audit it.
//!
//! Slots are shared fairly between tenants (the gateway's institutions): a freed slot
//! goes to the waiting job of the tenant with the fewest running jobs, the earliest
//! submitted among equals. A tenant alone may use every slot, but another tenant's job
//! waits at most until the first running job ends — one job's deadline at worst —
//! however many jobs the first tenant queued (issue 14, class 7).
//!
//! Jobs run on the queue's own Tokio runtime, never on the caller's: a model's batch
//! occupies its thread until it returns, and that must not stall the API that serves
//! status and cancellation requests (DataFusion's advice for CPU-bound work).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, watch};

use crate::job::{JobError, JobReport, JobState};
use crate::run::CancelToken;

/// A job's identity in its queue.
pub type JobId = u64;

/// The work of one job, given the token that cancels it.
pub type JobWork =
    Box<dyn FnOnce(CancelToken) -> Pin<Box<dyn Future<Output = JobResult> + Send>> + Send>;

/// How a job ended.
pub type JobResult = Result<JobReport, JobError>;

/// Called on every change of state, with the job, its new state and, when it has
/// ended, its outcome.
pub type Observer = Arc<dyn Fn(JobId, JobState, Option<&JobResult>) + Send + Sync>;

/// Where a job is.
#[derive(Clone, Debug)]
pub struct JobStatus {
    /// Its state.
    pub state: JobState,
    /// Its outcome, once it has ended (cancelled jobs have `Err(JobError::Cancelled)`).
    pub outcome: Option<JobResult>,
}

struct Entry {
    cancel: CancelToken,
    status: watch::Sender<JobStatus>,
}

/// The runtime jobs run on; shut down without waiting when the last queue handle goes.
struct Workers(Option<tokio::runtime::Runtime>);

impl Drop for Workers {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Who gets the next free slot.
#[derive(Default)]
struct Scheduler {
    free: usize,
    /// Jobs waiting for a slot, in submission order, with their tenant.
    waiting: Vec<(JobId, String, oneshot::Sender<()>)>,
    /// Running jobs per tenant.
    running: HashMap<String, usize>,
}

impl Scheduler {
    /// Hands free slots to waiting jobs: each to the tenant with the fewest running.
    fn dispatch(&mut self) {
        while self.free > 0 && !self.waiting.is_empty() {
            let next = (0..self.waiting.len())
                .min_by_key(|&i| {
                    let (id, tenant, _) = &self.waiting[i];
                    (self.running.get(tenant).copied().unwrap_or(0), *id)
                })
                .unwrap_or(0);
            let (_, tenant, start) = self.waiting.remove(next);
            // A job whose task is gone (the queue shutting down) takes no slot.
            if start.send(()).is_ok() {
                self.free -= 1;
                *self.running.entry(tenant).or_default() += 1;
            }
        }
    }

    fn release(&mut self, tenant: &str) {
        self.free += 1;
        if let Some(n) = self.running.get_mut(tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.running.remove(tenant);
            }
        }
        self.dispatch();
    }
}

/// A slot held by a running job, given back when dropped (a panicking job included).
struct Slot {
    scheduler: Arc<Mutex<Scheduler>>,
    tenant: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.scheduler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release(&self.tenant);
    }
}

/// Runs jobs, at most `slots` at a time, shared fairly between tenants.
#[derive(Clone)]
pub struct JobQueue {
    workers: Arc<Workers>,
    scheduler: Arc<Mutex<Scheduler>>,
    jobs: Arc<Mutex<HashMap<JobId, Entry>>>,
    next: Arc<AtomicU64>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobQueue")
            .field("free_slots", &self.scheduler().free)
            .finish()
    }
}

/// Stack of the threads that plan and run a job's query.
pub const JOB_THREAD_STACK: usize = 64 << 20;

impl JobQueue {
    /// A queue running at most `slots` jobs at once (at least one), on a runtime of its
    /// own with as many threads as the machine has cores.
    pub fn new(slots: usize) -> Result<JobQueue, JobError> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("creditpool-job")
            // Planning and evaluating a query recurse over its expressions; a job's plan
            // is refused past MAX_EXPRESSION_DEPTH, and this leaves a wide margin (the
            // stack is reserved, not committed, until used).
            .thread_stack_size(JOB_THREAD_STACK)
            // Jobs may wait on worker processes and pipes.
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| JobError::Internal(format!("starting the job runtime: {e}")))?;
        Ok(JobQueue {
            workers: Arc::new(Workers(Some(runtime))),
            scheduler: Arc::new(Mutex::new(Scheduler {
                free: slots.max(1),
                ..Scheduler::default()
            })),
            jobs: Arc::new(Mutex::new(HashMap::new())),
            next: Arc::new(AtomicU64::new(1)),
            observer: None,
        })
    }

    /// Reports every change of state to `observer`.
    pub fn with_observer(mut self, observer: Observer) -> JobQueue {
        self.observer = Some(observer);
        self
    }

    /// Queues `work` of a tenant of its own; see [`JobQueue::submit_as`].
    pub fn submit(&self, work: JobWork) -> JobId {
        self.submit_as("", work)
    }

    /// Queues `work` of `tenant`; it starts when a slot is given to it (the tenant with
    /// the fewest running jobs first), unless cancelled first.
    pub fn submit_as(&self, tenant: &str, work: JobWork) -> JobId {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let cancel = CancelToken::new();
        let (status, _) = watch::channel(JobStatus {
            state: JobState::Queued,
            outcome: None,
        });
        self.lock().insert(
            id,
            Entry {
                cancel: cancel.clone(),
                status,
            },
        );
        self.notify(id, JobState::Queued, None);
        let queue = self.clone();
        let Some(runtime) = self.workers.0.as_ref() else {
            self.finish(
                id,
                Err(JobError::Internal("the job runtime is gone".into())),
            );
            return id;
        };
        let (start, started) = oneshot::channel();
        {
            let mut scheduler = self.scheduler();
            scheduler.waiting.push((id, tenant.to_owned(), start));
            scheduler.dispatch();
        }
        let tenant = tenant.to_owned();
        runtime.spawn(async move {
            // Dropped unsent only if the queue is dropped, when nothing is waiting.
            if started.await.is_err() {
                return;
            }
            let _slot = Slot {
                scheduler: queue.scheduler.clone(),
                tenant,
            };
            if cancel.is_cancelled() {
                queue.finish(id, Err(JobError::Cancelled));
                return;
            }
            queue.set(id, JobState::Running, None);
            let outcome = work(cancel.clone()).await;
            // A job cancelled while running ends as cancelled whatever it returned.
            let outcome = if cancel.is_cancelled() {
                Err(JobError::Cancelled)
            } else {
                outcome
            };
            queue.finish(id, outcome);
        });
        id
    }

    /// The job's state and outcome, or `None` for an id this queue never issued.
    pub fn status(&self, id: JobId) -> Option<JobStatus> {
        self.lock().get(&id).map(|e| e.status.borrow().clone())
    }

    /// Cancels a job: a queued job never starts, a running one is interrupted (a guest
    /// mid-batch included). Returns whether the job had not already ended.
    pub fn cancel(&self, id: JobId) -> bool {
        let jobs = self.lock();
        let Some(entry) = jobs.get(&id) else {
            return false;
        };
        let ended = entry.status.borrow().outcome.is_some();
        if !ended {
            entry.cancel.cancel();
        }
        !ended
    }

    /// Waits until the job has ended and returns its status; `None` for an unknown id.
    pub async fn wait(&self, id: JobId) -> Option<JobStatus> {
        let mut receiver = self.lock().get(&id)?.status.subscribe();
        let status = receiver
            .wait_for(|s| s.outcome.is_some())
            .await
            .ok()?
            .clone();
        Some(status)
    }

    /// Jobs queued or running.
    pub fn active(&self) -> usize {
        self.lock()
            .values()
            .filter(|e| e.status.borrow().outcome.is_none())
            .count()
    }

    fn scheduler(&self) -> std::sync::MutexGuard<'_, Scheduler> {
        self.scheduler.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Entry>> {
        // A panic while holding the lock leaves the map consistent (every update is a
        // single insert or send), so a poisoned lock is still usable.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a change of state: the observer first (it persists it), then waiters.
    fn set(&self, id: JobId, state: JobState, outcome: Option<JobResult>) {
        self.notify(id, state, outcome.as_ref());
        if let Some(entry) = self.lock().get(&id) {
            entry.status.send_replace(JobStatus { state, outcome });
        }
    }

    fn finish(&self, id: JobId, outcome: JobResult) {
        let state = match &outcome {
            Ok(_) => JobState::Succeeded,
            Err(JobError::Cancelled) => JobState::Cancelled,
            Err(_) => JobState::Failed,
        };
        self.set(id, state, Some(outcome));
    }

    fn notify(&self, id: JobId, state: JobState, outcome: Option<&JobResult>) {
        if let Some(observer) = &self.observer {
            observer(id, state, outcome);
        }
    }
}
