//! The institutions' side runs below the public side's priority (issue 17, item 9). The
//! public's lookups are short and many and must keep their response time whatever an
//! institution does; an institution's requests (uploads, job submissions, releases)
//! are few and heavier. The server serves the latter on a runtime of its own whose
//! threads run at [`INSTITUTION_NICE`]: when both want the CPU, a public request is
//! served first, and the institution's request still advances (a nice value, unlike the
//! job workers' `SCHED_IDLE`, never starves it, so a database lock it holds is soon let
//! go). Jobs themselves run in worker processes at the idle priority (`worker`).

use std::future::Future;

use tokio::runtime::{Handle, Runtime};

/// The nice value of the institutions' threads: the lowest, about 1.5 % of the CPU a
/// public request's thread gets when both want it (Linux weighs nice 19 at 15 against
/// 1024), and all of it when the public side is idle.
pub const INSTITUTION_NICE: i32 = 19;

/// Threads of the institutions' runtime.
const THREADS: usize = 2;

/// The runtime the institutions' requests are served on; shut down when dropped.
#[derive(Debug)]
pub struct Background(Option<Runtime>);

impl Background {
    /// Starts the runtime; each of its threads lowers its own priority as it starts.
    pub fn start() -> std::io::Result<Background> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(THREADS)
            .thread_name("creditpool-inst")
            .on_thread_start(|| {
                // Linux keeps a nice value per thread: this lowers the calling thread's
                // alone. Where it fails, the request is served at the usual priority.
                if let Err(e) = rustix::process::setpriority_process(None, INSTITUTION_NICE) {
                    tracing::warn!("lowering the priority of an institutions' thread: {e}");
                }
            })
            .enable_all()
            .build()?;
        Ok(Background(Some(runtime)))
    }

    /// Runs `work` on the institutions' runtime and waits for its outcome; `None` if the
    /// runtime is shutting down or the work panicked.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let handle: &Handle = self.0.as_ref()?.handle();
        handle.spawn(work).await.ok()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            // Not waiting: the server may be dropped from inside another runtime.
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_threads_of_lower_priority() {
        let background = Background::start().expect("runtime");
        let (name, nice) = background
            .run(async {
                (
                    std::thread::current().name().map(str::to_owned),
                    rustix::process::getpriority_process(None).expect("nice"),
                )
            })
            .await
            .expect("ran");
        assert_eq!(name.as_deref(), Some("creditpool-inst"));
        // (Or lower still, if the tests themselves run below the usual priority.)
        assert!(nice >= INSTITUTION_NICE, "nice {nice}");
    }
}
