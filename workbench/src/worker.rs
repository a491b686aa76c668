//! Jobs run in worker processes (issue 14, class 7): each running job is a `creditpool
//! job-worker` process of its own, started by the server, told its job on a pipe, and
//! killed the moment its job is cancelled or passes its deadline, whatever its plan is
//! doing. The operating system, not the query engine's good manners, enforces the limits:
//!
//! - **Time.** The server kills the worker at the deadline (plus [`KILL_GRACE`]) and on
//!   cancel; a CPU-bound plan that never yields stops within a second all the same.
//! - **Memory.** The worker's data segment (`RLIMIT_DATA`: heap, anonymous mappings,
//!   thread stacks) is limited to the job's memory plus [`WORKER_OVERHEAD_BYTES`], so
//!   memory an expression allocates outside the query engine's pool (a `repeat`, a
//!   string aggregate) counts too: past it, the allocation fails and the job ends.
//! - **CPU.** The worker runs at the idle priority (`SCHED_IDLE`, and nice 19) from its
//!   first instruction (a thread at that priority starts it: [`spawn_idle`]) and only on
//!   the cores the server leaves to jobs ([`job_cpus`]), so jobs take only the CPU the
//!   public side leaves; `RLIMIT_CPU` is a backstop to the deadline.
//! - **Files and network.** The worker confines itself with Landlock to its job's files
//!   (its granted tables' files, not the data folder; its own and shared tables; its
//!   models; the compiled-model cache, read-only) and its result's folder, with no TCP
//!   and no signals outside itself.
//! - **Crashes.** A stack overflow, an abort or a fault ends the worker, not the server:
//!   that job fails, every other job and request goes on.
//! - **Orphans.** A worker dies with the server (`PR_SET_PDEATHSIG`).
//!
//! The worker receives only what its job needs: the SQL, the tables' files and
//! sensitivities, the models' files, the institution's pseudonym key (never the server's
//! secret) and the pins of its compiled models (never the key of their seals). It
//! answers with one JSON outcome on its standard output; what it writes to its standard
//! error goes to the server's log.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::Duration;
use storage::ids::JobId;

use sandbox::{CancelToken, JobError, JobLimits, JobReport, JobResult, SandboxError};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::pseudonyms::Pseudonyms;
use crate::session::JobTables;

/// The hidden subcommand of `creditpool` that runs one job.
pub const SUBCOMMAND: &str = "job-worker";

/// Memory a worker may use beyond its query's memory limit and its threads' stacks: the
/// engine and the model sandbox, the instances of models scoring at once (64 MiB each
/// at most), scan and result-writer buffers.
pub const WORKER_OVERHEAD_BYTES: u64 = 512 << 20;

/// Threads a worker runs blocking work on (file reads), besides one per core.
const BLOCKING_THREADS: usize = 4;

/// How long after its deadline a worker that has not ended by itself is killed.
pub const KILL_GRACE: Duration = Duration::from_millis(500);

/// The worker's priority (`nice`, the lowest): below the server's, so that jobs never starve the
/// public side of CPU (issue 14, performance).
pub const WORKER_NICE: i32 = 19;

/// The longest a job's SQL may take to plan when it is submitted (less if the job's
/// own time limit is shorter).
pub const MAX_PLAN_TIME: Duration = Duration::from_secs(10);

/// Largest outcome a worker may send (its report, with the models' log text).
const MAX_OUTCOME_BYTES: usize = 1 << 20;
/// Last bytes of a worker's standard error kept for the log.
const STDERR_TAIL_BYTES: usize = 16 << 10;
/// The variable telling a worker its server's process id.
const SERVER_PID: &str = "CREDITPOOL_SERVER_PID";
/// How often the server looks at a running job's cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(10);

/// The variable telling a worker the cores it may run on.
const CPUS: &str = "CREDITPOOL_JOB_CPUS";

/// The program the server starts for each job, and the cores its workers run on.
#[derive(Clone, Debug)]
pub struct WorkerCommand {
    program: PathBuf,
    cpus: Vec<usize>,
}

impl WorkerCommand {
    /// `program job-worker`: `program` must be a `creditpool` binary of this version.
    /// Its workers run on every core the server may use.
    pub fn new(program: impl Into<PathBuf>) -> WorkerCommand {
        WorkerCommand {
            program: program.into(),
            cpus: Vec::new(),
        }
    }

    /// Its workers run only on `cpus` (core numbers; every core the server may use
    /// when empty), as [`job_cpus`] chooses them.
    pub fn on_cpus(self, cpus: Vec<usize>) -> WorkerCommand {
        WorkerCommand { cpus, ..self }
    }

    /// The running `creditpool` binary itself.
    pub fn current_exe() -> WorkerCommand {
        WorkerCommand::new(std::env::current_exe().unwrap_or_else(|_| "creditpool".into()))
    }

    /// The program.
    pub fn program(&self) -> &Path {
        &self.program
    }
}

/// The compiled-model cache as a worker reads it: each model is compiled once, when
/// uploaded, and sealed by the server; a worker loads an artifact only if its file's
/// digest is the one the server pinned for this job after checking the seal. A worker
/// holds no key and may not write the folder, so a worker its job subverted cannot plant
/// code for another job's worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Artifacts {
    /// The folder.
    pub dir: PathBuf,
    /// Module SHA-256 → the digest of its sealed artifact's file.
    pub pins: Vec<(String, sandbox::ArtifactPin)>,
    /// The pinned artifacts' files: the only files of the folder the worker may read
    /// (not other institutions' compiled models).
    pub files: Vec<PathBuf>,
}

/// One job, as its worker is told it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobSpec {
    /// The job's id, for the log.
    pub job_id: JobId,
    /// The tables it reads.
    pub tables: JobTables,
    /// The models' files.
    pub models: Vec<String>,
    /// The institution's pseudonym key and its tag ([`Pseudonyms::parts`]).
    pub pseudonym_key: ([u8; 32], [u8; 8]),
    /// The compiled-model cache.
    pub artifacts: Option<Artifacts>,
    /// The SQL.
    pub sql: String,
    /// Where the result goes.
    pub out: PathBuf,
    /// The query's memory limit, in bytes.
    pub memory_bytes: usize,
    /// The job's time limit, in ms.
    pub timeout_ms: u64,
    /// The largest result, in bytes.
    pub max_result_bytes: u64,
    /// The job may run where the kernel cannot confine it to its files (the server's
    /// `allow_unconfined_jobs`); otherwise such a worker refuses to run it.
    #[serde(default)]
    pub unconfined_allowed: bool,
}

/// What a worker is told to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Task {
    /// Run a job.
    Job(JobSpec),
    /// Plan a job's SQL as its run would, reading nothing: the check at submission.
    Plan(JobSpec),
    /// Read an uploaded file of an institution's own data into Parquet.
    Convert(crate::own_data::ConvertSpec),
}

/// What a worker confines itself to, whatever its task.
#[derive(Clone, Debug)]
pub struct Confinement {
    /// Memory its work may use, beyond the worker's overhead and thread stacks.
    pub memory_bytes: u64,
    /// Its time limit, in ms.
    pub timeout_ms: u64,
    /// The largest file it may write.
    pub max_write_bytes: u64,
    /// Files (and folders) it may read.
    pub read: Vec<PathBuf>,
    /// The one folder it may write in (and read).
    pub write: PathBuf,
    /// It may go on where the kernel cannot confine it.
    pub unconfined_allowed: bool,
}

impl JobSpec {
    /// What the job's worker confines itself to: its tables', models' and pinned
    /// artifacts' files read-only, its staging folder writable.
    pub fn confinement(&self) -> Confinement {
        Confinement {
            memory_bytes: self.memory_bytes as u64,
            timeout_ms: self.timeout_ms,
            max_write_bytes: self.max_result_bytes,
            read: self
                .tables
                .files()
                .chain(self.models.iter().map(PathBuf::from))
                .chain(self.artifacts.iter().flat_map(|a| a.files.iter().cloned()))
                .collect(),
            write: folder_of(&self.out),
            unconfined_allowed: self.unconfined_allowed,
        }
    }

    /// The job's limits.
    pub fn limits(&self) -> JobLimits {
        JobLimits {
            memory_bytes: self.memory_bytes,
            timeout: Duration::from_millis(self.timeout_ms),
            max_result_bytes: self.max_result_bytes,
        }
    }
}

/// How a job ended, as a worker reports it.
#[derive(Debug, Serialize, Deserialize)]
enum Outcome {
    Done(JobReport),
    Planned,
    Failed(WireError),
}

/// [`JobError`] on the pipe.
#[derive(Debug, Serialize, Deserialize)]
enum WireError {
    Sql(sandbox::SqlRefusal),
    Execution(String),
    Memory { limit_mib: usize },
    Timeout { limit_ms: u64 },
    ResultTooLarge { limit_bytes: u64 },
    Cancelled,
    Io(String),
    Internal(String),
    ModelTrap { model: String, message: String },
    ModelBadOutput { model: String, reason: String },
    Model(String),
}

impl From<&JobError> for WireError {
    fn from(e: &JobError) -> WireError {
        match e {
            JobError::Sql(r) => WireError::Sql(r.clone()),
            JobError::Execution(m) => WireError::Execution(m.clone()),
            JobError::Memory { limit_mib } => WireError::Memory {
                limit_mib: *limit_mib,
            },
            JobError::Timeout { limit_ms } => WireError::Timeout {
                limit_ms: *limit_ms,
            },
            JobError::ResultTooLarge { limit_bytes } => WireError::ResultTooLarge {
                limit_bytes: *limit_bytes,
            },
            JobError::Cancelled => WireError::Cancelled,
            JobError::Io(m) => WireError::Io(m.clone()),
            JobError::Internal(m) => WireError::Internal(m.clone()),
            JobError::Model(SandboxError::Trap { model, message }) => WireError::ModelTrap {
                model: model.clone(),
                message: message.clone(),
            },
            JobError::Model(SandboxError::BadOutput { model, reason }) => {
                WireError::ModelBadOutput {
                    model: model.clone(),
                    reason: reason.clone(),
                }
            }
            JobError::Model(SandboxError::Cancelled) => WireError::Cancelled,
            JobError::Model(other) => WireError::Model(other.to_string()),
        }
    }
}

impl From<WireError> for JobError {
    fn from(e: WireError) -> JobError {
        match e {
            WireError::Sql(r) => JobError::Sql(r),
            WireError::Execution(m) => JobError::Execution(m),
            WireError::Memory { limit_mib } => JobError::Memory { limit_mib },
            WireError::Timeout { limit_ms } => JobError::Timeout { limit_ms },
            WireError::ResultTooLarge { limit_bytes } => JobError::ResultTooLarge { limit_bytes },
            WireError::Cancelled => JobError::Cancelled,
            WireError::Io(m) => JobError::Io(m),
            WireError::Internal(m) => JobError::Internal(m),
            WireError::ModelTrap { model, message } => {
                JobError::Model(SandboxError::Trap { model, message })
            }
            WireError::ModelBadOutput { model, reason } => {
                JobError::Model(SandboxError::BadOutput { model, reason })
            }
            // Its words are the sandbox's own (limits, refusals): shown as they were.
            WireError::Model(m) => JobError::Model(SandboxError::Call(m)),
        }
    }
}

/// Runs `spec` in a worker process started with `command`, killing it when `cancel`
/// is cancelled or the job's deadline passes. The result file appears only if the job
/// succeeds.
pub async fn run(command: &WorkerCommand, spec: &JobSpec, cancel: &CancelToken) -> JobResult {
    // The worker writes in a folder of its own, which holds nothing else; the server
    // moves a finished result to its place.
    let stage = Staging::create(staging(&spec.out))
        .map_err(|e| JobError::Io(format!("preparing the job's folder: {e}")))?;
    let told = JobSpec {
        out: staged(&spec.out),
        ..spec.clone()
    };
    let outcome = match run_staged(command, &told, cancel).await {
        Ok(mut report) => std::fs::rename(&told.out, &spec.out)
            .map(|()| {
                report.result = spec.out.clone();
                report
            })
            .map_err(|e| JobError::Io(format!("moving the result to its place: {e}"))),
        Err(e) => Err(e),
    };
    drop(stage);
    if outcome.is_err() {
        let _ = std::fs::remove_file(&spec.out);
    }
    outcome
}

/// A worker's folder, removed with what it holds when this is dropped: it goes whatever
/// happens to the job or request that made it (an error, a cancel, a client that went
/// away). Folders a stopped server left are removed at start ([`sweep_staging`]).
#[derive(Debug)]
pub struct Staging(PathBuf);

impl Staging {
    /// Makes the folder afresh, readable by the server's user only.
    pub fn create(path: PathBuf) -> std::io::Result<Staging> {
        let _ = std::fs::remove_dir_all(&path);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&path)?;
        Ok(Staging(path))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the staging folders (`.*.staging` in each workspace's `results` and `own`)
/// that a server stopped while they were in use left behind; how many.
pub fn sweep_staging(workspaces: &Path) -> usize {
    let mut removed = 0;
    let Ok(institutions) = std::fs::read_dir(workspaces) else {
        return 0;
    };
    for institution in institutions.flatten() {
        for folder in ["results", "own"] {
            let Ok(entries) = std::fs::read_dir(institution.path().join(folder)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.')
                    && name.ends_with(".staging")
                    && std::fs::remove_dir_all(entry.path()).is_ok()
                {
                    removed += 1;
                }
            }
        }
    }
    removed
}

/// The folder holding `file` (the current folder for a bare name).
pub fn folder_of(file: &Path) -> PathBuf {
    file.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The folder a worker writes the result `out` in: beside it, named after it, holding
/// nothing else.
pub fn staging(out: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(out.file_name().unwrap_or_default());
    name.push(".staging");
    out.with_file_name(name)
}

/// Where a worker writes the result `out` (and, until it is complete, its
/// [`sandbox::partial_path`]): inside its [`staging`] folder.
pub fn staged(out: &Path) -> PathBuf {
    staging(out).join("result.parquet")
}

async fn run_staged(command: &WorkerCommand, spec: &JobSpec, cancel: &CancelToken) -> JobResult {
    let limits = spec.limits();
    let said = converse(
        command,
        &spec.job_id,
        &Task::Job(spec.clone()),
        limits.timeout,
        cancel,
    )
    .await?;
    // Whatever a stopped worker had written is nobody's result: its staging folder goes
    // (in [`run`]).
    match understand(&spec.job_id, said.status, &said.out, &said.err, &limits)? {
        Outcome::Done(report) => Ok(report),
        other => Err(JobError::Internal(format!(
            "the job worker answered {other:?} to a job"
        ))),
    }
}

/// Plans `spec`'s SQL in a worker process, as its run would and under its limits (time
/// at most [`MAX_PLAN_TIME`]), reading no rows: an error says why the SQL cannot run.
/// Planning unvetted SQL happens in a worker for the reasons running it does: the
/// planner's recursion, its constant folding and a model's compilation are bounded by
/// the operating system, not by the planner's good manners.
pub async fn plan(command: &WorkerCommand, spec: &JobSpec) -> Result<(), JobError> {
    let stage = Staging::create(staging(&spec.out))
        .map_err(|e| JobError::Io(format!("preparing the planner's folder: {e}")))?;
    let told = JobSpec {
        out: staged(&spec.out),
        timeout_ms: spec.timeout_ms.min(MAX_PLAN_TIME.as_millis() as u64),
        ..spec.clone()
    };
    let limits = told.limits();
    let said = converse(
        command,
        &format!("plan-{}", spec.job_id),
        &Task::Plan(told.clone()),
        limits.timeout,
        &CancelToken::new(),
    )
    .await;
    drop(stage);
    let said = said?;
    match understand(&spec.job_id, said.status, &said.out, &said.err, &limits)? {
        Outcome::Planned => Ok(()),
        other => Err(JobError::Internal(format!(
            "the job worker answered {other:?} to a plan"
        ))),
    }
}

/// What a worker said: the head of its standard output (its outcome), the tail of its
/// standard error, and how it ended.
#[derive(Debug)]
pub struct Said {
    /// Its outcome, as JSON.
    pub out: Vec<u8>,
    /// Its last words (for the log only: they can quote data).
    pub err: String,
    /// How it ended.
    pub status: ExitStatus,
}

/// Starts a worker, tells it `task` on its standard input and waits for it to end: the
/// pipes close, then the process ends, both within `timeout` (plus [`KILL_GRACE`]) and
/// unless `cancel` fires, or it is killed (SIGKILL: nothing it is doing can delay it).
/// `label` names it in `ps` and the log.
pub async fn converse(
    command: &WorkerCommand,
    label: &str,
    task: &Task,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<Said, JobError> {
    let input = serde_json::to_vec(task).map_err(|e| JobError::Internal(e.to_string()))?;
    let mut worker = tokio::process::Command::new(&command.program);
    worker
        .arg(SUBCOMMAND)
        // Only for people reading `ps`: the task is told on the pipe.
        .arg(label)
        // Nothing of the server's environment (its configuration, its secrets) reaches
        // the worker but what it is told on the pipe.
        .env_clear()
        .env("RUST_BACKTRACE", "0")
        // mimalloc reserves its arenas without committing them, so that the memory
        // limit counts what is used, not what is reserved (an eagerly committed arena
        // of 1 GiB would count in full).
        .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
        .env(SERVER_PID, std::process::id().to_string())
        .env(CPUS, cpu_list(&command.cpus))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = spawn_idle(worker).await.map_err(|e| {
        JobError::Internal(format!(
            "starting the job worker {}: {e}",
            command.program.display()
        ))
    })?;
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(JobError::Internal("the job worker has no pipes".into()));
    };
    let talk = async {
        let write = async {
            // A worker that died early closes its end: its exit says why.
            let _ = stdin.write_all(&input).await;
            drop(stdin);
        };
        let (_, out, err) = tokio::join!(
            write,
            read_head(&mut stdout, MAX_OUTCOME_BYTES),
            read_tail(&mut stderr, STDERR_TAIL_BYTES)
        );
        (out, err)
    };
    tokio::pin!(talk);
    let deadline = tokio::time::sleep(timeout + KILL_GRACE);
    tokio::pin!(deadline);
    let cancelled = async {
        while !cancel.is_cancelled() {
            tokio::time::sleep(CANCEL_POLL).await;
        }
    };
    tokio::pin!(cancelled);
    let timed_out = || JobError::Timeout {
        limit_ms: timeout.as_millis() as u64,
    };
    // A worker that closed its pipes and went on must not hold its slot.
    let ended = tokio::select! {
        said = &mut talk => Ok(said),
        () = &mut cancelled => Err(JobError::Cancelled),
        () = &mut deadline => Err(timed_out()),
    };
    let ended = match ended {
        Ok(said) => tokio::select! {
            status = child.wait() => Ok((said, status)),
            () = &mut cancelled => Err(JobError::Cancelled),
            () = &mut deadline => Err(timed_out()),
        },
        Err(stopped) => Err(stopped),
    };
    match ended {
        Ok(((out, err), status)) => {
            let status = status
                .map_err(|e| JobError::Internal(format!("waiting for the job worker: {e}")))?;
            let err = String::from_utf8_lossy(&err).into_owned();
            if !err.trim().is_empty() {
                // Escaped, and not at the default level: it can hold a panic's words,
                // which may quote data.
                tracing::debug!(worker = %label, "job worker said: {:?}", err.trim());
            }
            Ok(Said { out, err, status })
        }
        Err(stopped) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            Err(stopped)
        }
    }
}

/// What a worker's outcome, exit status and last words mean.
fn understand(
    job_id: &JobId,
    status: ExitStatus,
    out: &[u8],
    err: &str,
    limits: &JobLimits,
) -> Result<Outcome, JobError> {
    if status.success()
        && let Ok(outcome) = serde_json::from_slice::<Outcome>(out)
    {
        return match outcome {
            Outcome::Failed(e) => Err(e.into()),
            done => Ok(done),
        };
    }
    use std::os::unix::process::ExitStatusExt;
    let signal = status.signal();
    tracing::warn!(job = %job_id, %status, "a job worker ended abnormally");
    if err.contains("memory allocation of") || err.contains("out of memory") {
        // The allocator refused past RLIMIT_DATA: an expression outside the pool.
        return Err(JobError::Memory {
            limit_mib: limits.memory_bytes >> 20,
        });
    }
    if err.contains("has overflowed its stack") {
        return Err(JobError::Sql(sandbox::SqlRefusal::new(
            "the query is nested too deeply to evaluate; flatten it with common table expressions",
        )));
    }
    use rustix::process::Signal;
    match signal {
        Some(s) if s == Signal::XFSZ.as_raw() => Err(JobError::ResultTooLarge {
            limit_bytes: limits.max_result_bytes,
        }),
        Some(s) if s == Signal::XCPU.as_raw() => Err(JobError::Timeout {
            limit_ms: limits.timeout.as_millis() as u64,
        }),
        _ => Err(JobError::Internal(format!(
            "the job worker ended with {status} and no outcome"
        ))),
    }
}

/// The first `limit` bytes of `from`, reading (and dropping) the rest to its end.
async fn read_head(from: &mut (impl AsyncRead + Unpin), limit: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = limit.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    kept
}

/// The last `limit` bytes of `from`, read to its end.
async fn read_tail(from: &mut (impl AsyncRead + Unpin), limit: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * limit {
            kept.drain(..kept.len() - limit);
        }
    }
    if kept.len() > limit {
        kept.drain(..kept.len() - limit);
    }
    kept
}

/// The worker's side: `creditpool job-worker`. Reads its job from standard input,
/// confines itself, runs the job and writes the outcome to standard output.
pub fn main() -> ExitCode {
    // Dies with the server: a worker never outlives the process that would kill it.
    // (Sent when the thread that started the worker ends: a thread of the job queue's
    // runtime, which lives as long as the server's job queue.)
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let server = std::env::var(SERVER_PID)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    let parent = rustix::process::getppid().map(|p| p.as_raw_nonzero().get());
    if server.is_none() || parent != server {
        // The server ended before the signal was armed, or this is not its child.
        eprintln!("job worker: not started by a creditpool server, or it has ended");
        return ExitCode::from(3);
    }
    let mut input = Vec::new();
    if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut input) {
        eprintln!("job worker: reading the job: {e}");
        return ExitCode::from(2);
    }
    let task: Task = match serde_json::from_slice(&input) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("job worker: the task is not understood: {e}");
            return ExitCode::from(2);
        }
    };
    let confinement = match &task {
        Task::Job(spec) | Task::Plan(spec) => spec.confinement(),
        Task::Convert(spec) => spec.confinement(),
    };
    if let Err(e) = confine(&confinement) {
        eprintln!("job worker: confining itself: {e}");
        return ExitCode::from(2);
    }
    let runtime = job_runtime();
    let written = match task {
        Task::Job(spec) => {
            let outcome = match runtime {
                Ok(runtime) => runtime.block_on(run_here(&spec)),
                Err(e) => Err(JobError::Internal(format!("starting the job runtime: {e}"))),
            };
            let outcome = match &outcome {
                Ok(report) => Outcome::Done(report.clone()),
                Err(e) => Outcome::Failed(e.into()),
            };
            serde_json::to_writer(std::io::stdout().lock(), &outcome)
        }
        Task::Plan(spec) => {
            let outcome = match runtime {
                Ok(runtime) => runtime.block_on(plan_here(&spec)),
                Err(e) => Err(JobError::Internal(format!("starting the job runtime: {e}"))),
            };
            let outcome = match &outcome {
                Ok(()) => Outcome::Planned,
                Err(e) => Outcome::Failed(e.into()),
            };
            serde_json::to_writer(std::io::stdout().lock(), &outcome)
        }
        Task::Convert(spec) => {
            let outcome = match runtime {
                Ok(runtime) => runtime.block_on(crate::own_data::convert_here(&spec)),
                Err(e) => {
                    crate::own_data::ConvertOutcome::Files(format!("starting the runtime: {e}"))
                }
            };
            serde_json::to_writer(std::io::stdout().lock(), &outcome)
        }
    };
    if let Err(e) = written {
        eprintln!("job worker: writing the outcome: {e}");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// Keeps the worker to its cores, lowers its priority and sets its resource limits,
/// before any thread starts (threads inherit all three).
fn confine(spec: &Confinement) -> std::io::Result<()> {
    use rustix::process::{Resource, Rlimit, setpriority_process, setrlimit};
    if let Ok(list) = std::env::var(CPUS) {
        keep_to(&parse_cpu_list(&list)?)?;
    }
    setpriority_process(None, WORKER_NICE)?;
    idle_priority()?;
    let limit = |resource, value: u64| {
        setrlimit(
            resource,
            Rlimit {
                current: Some(value),
                maximum: Some(value),
            },
        )
    };
    // Past the soft limit the kernel sends a catchable signal (SIGXCPU), told apart
    // from a crash; at the hard limit, SIGKILL.
    let soft = |resource, value: u64, slack: u64| {
        setrlimit(
            resource,
            Rlimit {
                current: Some(value),
                maximum: Some(value.saturating_add(slack)),
            },
        )
    };
    // Thread stacks are committed in full, so they are counted in full.
    let stacks = ((cores() + BLOCKING_THREADS) * sandbox::JOB_THREAD_STACK) as u64;
    limit(
        Resource::Data,
        spec.memory_bytes + WORKER_OVERHEAD_BYTES + stacks,
    )?;
    // CPU seconds on every core for the whole deadline, and some: the deadline itself
    // is the server's to enforce; this only bounds a worker the server lost.
    let cores = cores() as u64;
    soft(
        Resource::Cpu,
        (spec.timeout_ms / 1000 + 10).saturating_mul(cores),
        5,
    )?;
    // The result file is the only file a worker writes.
    limit(
        Resource::Fsize,
        spec.max_write_bytes.saturating_add(1 << 20),
    )?;
    limit(Resource::Core, 0)?;
    std::fs::create_dir_all(&spec.write)?;
    let status = lock_down(spec).map_err(std::io::Error::other)?;
    confinement_holds(status.ruleset, spec.unconfined_allowed)?;
    deny_system_calls()?;
    Ok(())
}

/// Whether a worker may go on under Landlock's `status`: fully enforced, or partly (an
/// older kernel: the file rules hold, some newer rights do not); not at all only where
/// the server allows unconfined jobs.
fn confinement_holds(
    status: landlock::RulesetStatus,
    unconfined_allowed: bool,
) -> std::io::Result<()> {
    match status {
        landlock::RulesetStatus::FullyEnforced => Ok(()),
        landlock::RulesetStatus::PartiallyEnforced => {
            tracing::warn!(
                "this kernel enforces Landlock only in part: the worker is confined to its files, without the newest rights (Linux 6.12 or later has them all)"
            );
            Ok(())
        }
        landlock::RulesetStatus::NotEnforced if unconfined_allowed => {
            tracing::warn!(
                "this kernel does not enforce Landlock: the job worker is not confined to its files (allowed by allow_unconfined_jobs)"
            );
            Ok(())
        }
        landlock::RulesetStatus::NotEnforced => Err(std::io::Error::other(
            "this kernel does not enforce Landlock, so the job worker cannot be confined to its files; the job is not run",
        )),
    }
}

/// System calls a job never makes, denied (`EPERM`) by a seccomp filter: sockets of
/// any kind (Landlock covers TCP only: UDP, Unix and raw sockets too), tracing and
/// reading other processes' memory, namespaces (`unshare`, `setns`, and `clone` with
/// any namespace flag: [`NAMESPACE_FLAGS`]) and mounts, running programs, kernel keys, modules
/// and BPF, `io_uring` (whose operations bypass a filter of system calls),
/// `userfaultfd` and `perf_event_open` (tools of kernel exploits).
pub const DENIED_SYSTEM_CALLS: [(&str, libc::c_long); 51] = [
    ("socket", libc::SYS_socket),
    ("socketpair", libc::SYS_socketpair),
    ("connect", libc::SYS_connect),
    ("bind", libc::SYS_bind),
    ("listen", libc::SYS_listen),
    ("accept", libc::SYS_accept),
    ("accept4", libc::SYS_accept4),
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("chroot", libc::SYS_chroot),
    ("execve", libc::SYS_execve),
    ("execveat", libc::SYS_execveat),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("bpf", libc::SYS_bpf),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("fsopen", libc::SYS_fsopen),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("perf_event_open", libc::SYS_perf_event_open),
    // Its cores and its idle priority are set before the filter: a worker never leaves
    // them.
    ("sched_setaffinity", libc::SYS_sched_setaffinity),
    ("sched_setscheduler", libc::SYS_sched_setscheduler),
    ("sched_setparam", libc::SYS_sched_setparam),
    ("sched_setattr", libc::SYS_sched_setattr),
    ("setpriority", libc::SYS_setpriority),
    // Files by path: Landlock controls truncation only from ABI 3 (Linux 6.2).
    ("truncate", libc::SYS_truncate),
    // Signals to other processes: Landlock scopes them only from ABI 6 (Linux 6.12);
    // `tgkill` is allowed to the worker's own threads (`abort`), see below.
    ("kill", libc::SYS_kill),
    ("tkill", libc::SYS_tkill),
    ("rt_sigqueueinfo", libc::SYS_rt_sigqueueinfo),
    ("rt_tgsigqueueinfo", libc::SYS_rt_tgsigqueueinfo),
    ("pidfd_open", libc::SYS_pidfd_open),
    ("pidfd_send_signal", libc::SYS_pidfd_send_signal),
];

/// The `clone` flags that make new namespaces: `clone` with any of them is denied like
/// `unshare`.
pub const NAMESPACE_FLAGS: [libc::c_int; 8] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    0x80, // CLONE_NEWTIME
];

/// Installs the seccomp filters on the calling thread (and the threads it starts later):
/// [`DENIED_SYSTEM_CALLS`] and `clone` with a [`NAMESPACE_FLAGS`] flag answer `EPERM`;
/// `clone3`, whose flags are in memory a filter cannot read, answers `ENOSYS`, so that
/// the C library falls back to `clone` (which is checked) to start threads.
fn deny_system_calls() -> std::io::Result<()> {
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(std::io::Error::other)?;
    // On x86_64 the same calls exist again in the x32 ABI, numbered with bit 30 set and
    // under the same architecture tag: both are denied.
    const X32: libc::c_long = 0x4000_0000;
    let x32 = cfg!(target_arch = "x86_64");
    let both = |number: libc::c_long| {
        [Some(number), x32.then_some(number | X32)]
            .into_iter()
            .flatten()
    };
    let namespaces = NAMESPACE_FLAGS
        .iter()
        .map(|flag| {
            let flag = *flag as u64;
            SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )
            .and_then(|c| SeccompRule::new(vec![c]))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(std::io::Error::other)?;
    // `tgkill` only to the worker itself.
    let others = vec![
        SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Ne,
            std::process::id().into(),
        )
        .and_then(|c| SeccompRule::new(vec![c]))
        .map_err(std::io::Error::other)?,
    ];
    let denied = DENIED_SYSTEM_CALLS
        .iter()
        .flat_map(|(_, number)| both(*number))
        .map(|number| (number, Vec::new()))
        .chain(both(libc::SYS_clone).map(|number| (number, namespaces.clone())))
        .chain(both(libc::SYS_tgkill).map(|number| (number, others.clone())))
        .collect();
    let unknown = both(libc::SYS_clone3)
        .map(|number| (number, Vec::new()))
        .collect();
    for (rules, answer) in [(denied, libc::EPERM), (unknown, libc::ENOSYS)] {
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(answer as u32),
            arch,
        )
        .map_err(std::io::Error::other)?;
        let program: BpfProgram = filter.try_into().map_err(std::io::Error::other)?;
        seccompiler::apply_filter(&program).map_err(std::io::Error::other)?;
    }
    Ok(())
}

/// A process to start at the idle priority, and where its handle goes.
type SpawnRequest = (
    tokio::process::Command,
    tokio::runtime::Handle,
    tokio::sync::oneshot::Sender<std::io::Result<tokio::process::Child>>,
);

/// Starts `command` from a thread of its own at the idle priority (`SCHED_IDLE`, nice
/// [`WORKER_NICE`]): a child inherits the scheduling policy and the nice value of the
/// thread that starts it, so a worker runs at the idle priority from its first
/// instruction — its exec and start-up included (a 240 MB binary's page faults and
/// relocations, milliseconds of CPU), not only once it lowers itself — and never at the
/// public side's priority (issue 17, item 9). The thread lives as long as the process,
/// so the worker's parent-death signal (armed against the thread that started it) fires
/// only when the server ends.
pub async fn spawn_idle(
    mut command: tokio::process::Command,
) -> std::io::Result<tokio::process::Child> {
    static SPAWNER: std::sync::OnceLock<Option<std::sync::mpsc::Sender<SpawnRequest>>> =
        std::sync::OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (send, receive) = std::sync::mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("creditpool-spawn".into())
            .spawn(move || {
                if let Err(e) = rustix::process::setpriority_process(None, WORKER_NICE)
                    .map_err(std::io::Error::from)
                    .and_then(|()| idle_priority())
                {
                    tracing::warn!("the workers' spawner keeps the normal priority: {e}");
                }
                for (mut command, runtime, reply) in receive {
                    let _inside = runtime.enter();
                    let _ = reply.send(command.spawn());
                }
            })
            .map_err(|e| tracing::error!("starting the workers' spawner: {e}"))
            .ok()
            .map(|_| send)
    });
    let Some(spawner) = spawner else {
        // No thread could be made: start it here (it lowers itself on start).
        return command.spawn();
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    spawner
        .send((command, tokio::runtime::Handle::current(), reply))
        .map_err(|_| std::io::Error::other("the workers' spawner has ended"))?;
    answer
        .await
        .map_err(|_| std::io::Error::other("the workers' spawner has ended"))?
}

/// `SCHED_IDLE`: the worker's threads run only when no thread of normal priority wants
/// the CPU, and a waking request thread of the server preempts them at once (a nice
/// value only shortens their share; they would still hold a core for a time slice).
fn idle_priority() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `sched_setscheduler` reads `param` for the duration of the call; pid 0 is
    // the calling thread, which later threads inherit the policy from.
    #[allow(unsafe_code)]
    let done = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if done == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The Landlock ABI a worker's confinement is written for (6: files, TCP, and signals
/// and abstract sockets scoped to the worker).
pub const LANDLOCK_ABI: i64 = 6;

/// The Landlock ABI version this kernel supports, if any.
pub fn landlock_abi() -> Option<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag, the call only
    // returns the ABI version (or fails); it reads and writes no memory of ours.
    #[allow(unsafe_code)]
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (abi > 0).then_some(abi)
}

/// Confines the calling thread, and every thread and process it starts later, to its
/// job's files (Landlock): it may read its granted tables' files, its own and shared
/// tables' files, its models' files and their pinned compiled artifacts, and write only
/// in its own staging folder ([`staged`]), where nothing else is. Nothing else of the file system can be opened (the data
/// folder's other tables, other institutions' workspaces, the database, the server's
/// key), no TCP connection can be made or accepted, and no process outside the worker
/// can be signalled. Applied last in [`confine`], before any other thread starts.
fn lock_down(spec: &Confinement) -> Result<landlock::RestrictionStatus, landlock::RulesetError> {
    use landlock::{
        ABI, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
        path_beneath_rules,
    };
    let abi = ABI::V6; // LANDLOCK_ABI
    let read = AccessFs::from_read(abi);
    let files = spec.read.iter().cloned();
    let result_dir = [spec.write.clone()];
    let write = AccessFs::ReadFile
        | AccessFs::WriteFile
        | AccessFs::ReadDir
        | AccessFs::MakeReg
        | AccessFs::RemoveFile
        | AccessFs::Truncate;
    Ruleset::default()
        .handle_access(AccessFs::from_all(abi))?
        .handle_access(AccessNet::from_all(abi))?
        .scope(Scope::from_all(abi))?
        .create()?
        .add_rules(path_beneath_rules(files, read))?
        .add_rules(path_beneath_rules(result_dir, write))?
        .restrict_self()
}

/// The cores this process may run on (after [`keep_to`], the worker's own).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The cores jobs run on when the first `reserved` cores the server may use are kept for
/// the public side and the server itself (`server.reserved_cores`). A job's threads run
/// at the idle priority either way, but on a core they share they still evict the
/// caches a request thread comes back to: on two cores, the public side's p99 while two
/// jobs run went from 1.2–1.7× of an idle server's to 1.2–1.4× once the jobs kept off one
/// core (docs/benchmarks.md). With no more cores than `reserved`, jobs run on all of
/// them. Empty when every core is the jobs' (`reserved` 0) or the server's cores cannot
/// be read.
pub fn job_cpus(reserved: usize) -> Vec<usize> {
    if reserved == 0 {
        return Vec::new();
    }
    let Ok(allowed) = rustix::thread::sched_getaffinity(None) else {
        return Vec::new();
    };
    let cpus: Vec<usize> = (0..rustix::thread::CpuSet::MAX_CPU)
        .filter(|cpu| allowed.is_set(*cpu))
        .collect();
    all_but_first(&cpus, reserved)
}

/// `cpus` without its first `reserved`; empty (no restriction) when that leaves none.
fn all_but_first(cpus: &[usize], reserved: usize) -> Vec<usize> {
    if reserved == 0 || cpus.len() <= reserved {
        return Vec::new();
    }
    cpus[reserved..].to_vec()
}

/// Core numbers as the worker is told them: `1,2,3` (empty: no restriction).
fn cpu_list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_cpu_list(list: &str) -> std::io::Result<Vec<usize>> {
    list.split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<usize>()
                .ok()
                .filter(|cpu| *cpu < rustix::thread::CpuSet::MAX_CPU)
                .ok_or_else(|| std::io::Error::other(format!("{CPUS}: {part:?} is not a core")))
        })
        .collect()
}

/// Keeps this process (its calling thread, and every thread it starts later) to `cpus`;
/// none: no change.
fn keep_to(cpus: &[usize]) -> std::io::Result<()> {
    if cpus.is_empty() {
        return Ok(());
    }
    let mut set = rustix::thread::CpuSet::new();
    for cpu in cpus {
        set.set(*cpu);
    }
    rustix::thread::sched_setaffinity(None, &set).map_err(std::io::Error::from)
}

/// The worker's runtime: as many threads as cores, with the stacks planning and
/// evaluating a query need.
fn job_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores())
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_name("creditpool-job")
        .thread_stack_size(sandbox::JOB_THREAD_STACK)
        .enable_time()
        .build()
}

/// Runs the job in this process: the session over exactly the job's tables, its
/// models, its SQL.
/// A job's session, its sandbox and its models loaded: what running and planning it
/// start from.
async fn prepare(
    spec: &JobSpec,
) -> Result<
    (
        datafusion::prelude::SessionContext,
        std::sync::Arc<sandbox::Sandbox>,
        Vec<sandbox::Model>,
    ),
    JobError,
> {
    let (key, tag) = spec.pseudonym_key;
    let pseudonyms = Pseudonyms::from_parts(key, tag);
    let ctx = crate::session::build(&spec.limits(), &spec.tables, &pseudonyms)
        .await
        .map_err(JobError::Internal)?;
    let mut sandbox = sandbox::Sandbox::new(sandbox_config())
        .map_err(|e| JobError::Internal(format!("starting the sandbox: {e}")))?;
    if let Some(a) = &spec.artifacts {
        sandbox = sandbox.with_cache(sandbox::ArtifactCache::pinned(&a.dir, a.pins.clone()));
    }
    let sandbox = std::sync::Arc::new(sandbox);
    let mut loaded = Vec::new();
    for path in &spec.models {
        let bytes = std::fs::read(path).map_err(|e| JobError::Io(format!("{path}: {e}")))?;
        loaded.push(sandbox.load(&bytes).map_err(JobError::Model)?);
    }
    Ok((ctx, sandbox, loaded))
}

async fn plan_here(spec: &JobSpec) -> Result<(), JobError> {
    let (ctx, sandbox, models) = prepare(spec).await?;
    sandbox::plan_job(&ctx, sandbox, &models, &spec.sql, &spec.limits()).await
}

async fn run_here(spec: &JobSpec) -> JobResult {
    let limits = spec.limits();
    let (ctx, sandbox, loaded) = prepare(spec).await?;
    let mut report = sandbox::run_job(
        &ctx,
        sandbox,
        &loaded,
        &spec.sql,
        &spec.out,
        &limits,
        &CancelToken::new(),
    )
    .await?;
    // The worker runs this job alone: its CPU time, every thread, is the job's (issue
    // 17: reports said 0 ms, counting model calls only).
    let cpu = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    report.cpu = Duration::new(
        u64::try_from(cpu.tv_sec).unwrap_or(0),
        u32::try_from(cpu.tv_nsec).unwrap_or(0),
    );
    Ok(report)
}

/// The sandbox of the server and of its workers (one configuration, so that both
/// share the compiled models): as many instance slots as a job can use at once (one
/// per thread, and spares).
pub fn sandbox_config() -> sandbox::SandboxConfig {
    sandbox::SandboxConfig {
        max_concurrent_instances: 16,
        ..sandbox::SandboxConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[tokio::test]
    async fn workers_start_at_the_idle_priority_from_their_first_instruction() {
        // Issue 17, item 9: a child inherits the scheduling policy and nice value of the
        // thread that starts it, so what `spawn_idle` starts never runs at the public
        // side's priority, not even during its exec and start-up.
        let mut command = tokio::process::Command::new("cat");
        command.arg("/proc/self/stat").stdout(Stdio::piped());
        let child = spawn_idle(command).await.expect("started");
        let out = child.wait_with_output().await.expect("ran");
        let stat = String::from_utf8_lossy(&out.stdout).into_owned();
        // Fields after the command's name in parentheses: the state is field 3.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .expect("a stat line")
            .1
            .split_whitespace()
            .collect();
        let field = |n: usize| fields[n - 3];
        assert_eq!(field(19), WORKER_NICE.to_string(), "nice: {stat}");
        assert_eq!(field(41), libc::SCHED_IDLE.to_string(), "policy: {stat}");
        // Started again, the same thread starts it.
        let mut again = tokio::process::Command::new("true");
        again.stdout(Stdio::null());
        assert!(
            spawn_idle(again)
                .await
                .expect("started")
                .wait()
                .await
                .expect("ran")
                .success()
        );
    }

    fn limits() -> JobLimits {
        JobLimits {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(3),
            max_result_bytes: 1 << 20,
        }
    }

    fn killed_by(signal: rustix::process::Signal) -> ExitStatus {
        ExitStatus::from_raw(signal.as_raw())
    }

    fn exited(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn a_worker_that_ends_abnormally_fails_its_job_by_cause() {
        use rustix::process::Signal;
        let j = JobId::from("j");
        let abort = killed_by(Signal::ABORT);
        assert!(matches!(
            understand(
                &j,
                abort,
                b"",
                "memory allocation of 1073741824 bytes failed",
                &limits()
            ),
            Err(JobError::Memory { limit_mib: 64 })
        ));
        let overflow = understand(
            &j,
            abort,
            b"",
            "thread 'creditpool-job' has overflowed its stack",
            &limits(),
        );
        assert!(
            matches!(&overflow, Err(JobError::Sql(r)) if r.message.contains("nested too deeply")),
            "{overflow:?}"
        );
        assert!(matches!(
            understand(&j, killed_by(Signal::XFSZ), b"", "", &limits()),
            Err(JobError::ResultTooLarge { limit_bytes }) if limit_bytes == 1 << 20
        ));
        assert!(matches!(
            understand(&j, killed_by(Signal::XCPU), b"", "", &limits()),
            Err(JobError::Timeout { limit_ms: 3000 })
        ));
        // A fault, or an outcome that does not parse, is the platform's trouble.
        assert!(matches!(
            understand(&j, killed_by(Signal::SEGV), b"", "", &limits()),
            Err(JobError::Internal(_))
        ));
        assert!(matches!(
            understand(&j, exited(0), b"{\"Done\":", "", &limits()),
            Err(JobError::Internal(_))
        ));
        // A worker that answered but exited with an error is not believed.
        let answer = serde_json::to_vec(&Outcome::Failed(WireError::Cancelled)).expect("json");
        assert!(matches!(
            understand(&j, exited(2), &answer, "", &limits()),
            Err(JobError::Internal(_))
        ));
        assert!(matches!(
            understand(&j, exited(0), &answer, "", &limits()),
            Err(JobError::Cancelled)
        ));
    }

    /// Issue 14, worker hardening: a confined worker opens its job's files and nothing
    /// else of the disk, writes only in its result's folder, makes no socket of any kind
    /// and runs no program.
    /// Tried in a thread of its own: Landlock confines the thread that asks, and the
    /// threads it starts, not the test harness.
    #[test]
    fn a_confined_worker_reaches_only_its_jobs_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = |name: &str| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
            std::fs::write(&path, name).expect("write");
            path
        };
        let granted = file("public-credit/enterprises.parquet");
        let other_table = file("public-credit/persons.parquet");
        let own = file("workspaces/a/own/customers.parquet");
        let others_own = file("workspaces/b/own/customers.parquet");
        let model = file("workspaces/a/models/m.wasm");
        let compiled = file("compiled/m.cwasm");
        let others_compiled = file("compiled/theirs.cwasm");
        let earlier_result = file("workspaces/a/results/earlier.parquet");
        let database = file("creditpool.db");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let port = listener.local_addr().expect("addr").port();
        let spec = JobSpec {
            job_id: "j".into(),
            tables: JobTables {
                granted: vec![crate::session::GrantedFile {
                    id: "enterprises".into(),
                    path: granted.clone(),
                }],
                own: vec![crate::session::OwnInput {
                    sql_name: "customers".into(),
                    path: own.to_string_lossy().into_owned(),
                    masked: Vec::new(),
                    hidden: Vec::new(),
                }],
            },
            models: vec![model.to_string_lossy().into_owned()],
            pseudonym_key: ([0; 32], [0; 8]),
            artifacts: Some(Artifacts {
                dir: dir.path().join("compiled"),
                pins: Vec::new(),
                files: vec![compiled.clone()],
            }),
            sql: "SELECT 1".into(),
            out: staged(&dir.path().join("workspaces/a/results/j.parquet")),
            memory_bytes: 64 << 20,
            timeout_ms: 3000,
            max_result_bytes: 1 << 20,
            unconfined_allowed: false,
        };
        std::fs::create_dir_all(spec.out.parent().expect("parent")).expect("dir");
        let out = spec.out.clone();
        let root = dir.path().to_path_buf();
        let tried = std::thread::spawn(move || {
            let status = lock_down(&spec.confinement()).expect("confined");
            deny_system_calls().expect("filtered");
            let read = |p: &Path| std::fs::read(p).is_ok();
            let partial = sandbox::partial_path(&out);
            (
                status.ruleset,
                [&granted, &own, &model, &compiled].map(|p| read(p)),
                [
                    &other_table,
                    &others_own,
                    &others_compiled,
                    &earlier_result,
                    &database,
                ]
                .map(|p| read(p)),
                std::fs::write(&partial, b"result").is_ok()
                    && std::fs::rename(&partial, &out).is_ok(),
                [
                    std::fs::write(root.join("workspaces/a/own/planted"), b"x").is_ok(),
                    std::fs::write(&earlier_result, b"x").is_ok(),
                    std::fs::write(root.join("workspaces/a/results/planted"), b"x").is_ok(),
                ],
                std::fs::read_dir(root.join("public-credit")).is_ok(),
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
                [
                    std::net::UdpSocket::bind("127.0.0.1:0").is_ok(),
                    std::os::unix::net::UnixDatagram::unbound().is_ok(),
                    std::os::unix::net::UnixStream::pair().is_ok(),
                    std::process::Command::new("/bin/true").status().is_ok(),
                    x32_socket_refused(),
                    clone_into_namespace_refused(),
                    std::thread::spawn(|| 7).join().ok() == Some(7),
                    signals_reach_only_itself(),
                    keep_to(&[0]).is_ok() || rustix::process::setpriority_process(None, 0).is_ok(),
                    // SAFETY: a path the test made, as a C string; no memory is written.
                    #[allow(unsafe_code)]
                    unsafe {
                        let path =
                            std::ffi::CString::new(earlier_result.as_os_str().as_encoded_bytes())
                                .expect("a path");
                        libc::truncate(path.as_ptr(), 0) == 0
                    },
                ],
            )
        });
        let (status, allowed, denied, wrote_result, wrote_elsewhere, listed, connected, others) =
            tried.join().expect("the confined thread");
        assert_eq!(status, landlock::RulesetStatus::FullyEnforced);
        assert_eq!(allowed, [true; 4], "its job's files");
        assert_eq!(
            denied, [false; 5],
            "other tables and workspaces, others' compiled models, its institution's earlier results, the database"
        );
        assert!(wrote_result, "its result");
        assert_eq!(
            wrote_elsewhere, [false; 3],
            "nothing outside its staging folder, not even beside its result"
        );
        assert!(!listed, "not even the names of the other tables");
        assert!(!connected, "no network");
        assert_eq!(
            others,
            [
                false, false, false, false, true, true, true, true, false, false
            ],
            "no UDP or Unix sockets, no programs, not even through x32 numbers, no namespaces through clone; threads still start; no signals to others; no leaving its cores or priority; no truncation by path"
        );
        // The test harness itself is not confined.
        assert!(std::fs::read(dir.path().join("creditpool.db")).is_ok());
    }

    /// Whether `clone` with a new user namespace is refused by the filter (`EPERM`) and
    /// `clone3` is unknown (`ENOSYS`). Were the first let through, the child would leave
    /// at once.
    fn clone_into_namespace_refused() -> bool {
        // SAFETY: raw system calls with integer arguments (a null stack makes `clone`
        // behave as `fork`); a child, if one were made, exits without touching memory.
        #[allow(unsafe_code)]
        unsafe {
            let pid = libc::syscall(
                libc::SYS_clone,
                libc::CLONE_NEWUSER | libc::SIGCHLD,
                0usize,
                0usize,
                0usize,
                0usize,
            );
            if pid == 0 {
                libc::_exit(0);
            }
            let refused =
                pid == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
            if pid > 0 {
                libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
            }
            let clone3 = libc::syscall(libc::SYS_clone3, 0usize, 0usize);
            refused
                && clone3 == -1
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS)
        }
    }

    /// Whether the worker may signal its own threads (as `abort` does) and no other
    /// process: not its parent, by `kill` or `tgkill`.
    fn signals_reach_only_itself() -> bool {
        // SAFETY: raw system calls with integer arguments; signal 0 only checks.
        #[allow(unsafe_code)]
        unsafe {
            let me = libc::getpid();
            let parent = libc::getppid();
            let own = libc::syscall(libc::SYS_tgkill, me, libc::gettid(), 0) == 0;
            let kill = libc::kill(parent, 0) == 0;
            let tgkill = libc::syscall(libc::SYS_tgkill, parent, parent, 0) == 0;
            own && !kill && !tgkill
        }
    }

    /// Whether `socket` called by its x32 number is refused by the filter (`EPERM`),
    /// rather than unknown to the kernel (`ENOSYS`, which the filter would not show).
    fn x32_socket_refused() -> bool {
        if !cfg!(target_arch = "x86_64") {
            return true;
        }
        // SAFETY: a raw system call with integer arguments; it touches no memory.
        #[allow(unsafe_code)]
        let done = unsafe {
            libc::syscall(
                libc::SYS_socket | 0x4000_0000,
                libc::AF_INET,
                libc::SOCK_DGRAM,
                0,
            )
        };
        done == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }

    /// Landlock does not fall open: a worker the kernel cannot confine refuses its job
    /// unless the server allows unconfined jobs; a partly confining kernel still confines
    /// it to its files.
    #[test]
    fn a_worker_without_confinement_refuses_its_job() {
        use landlock::RulesetStatus::{FullyEnforced, NotEnforced, PartiallyEnforced};
        assert!(confinement_holds(FullyEnforced, false).is_ok());
        assert!(confinement_holds(PartiallyEnforced, false).is_ok());
        let refused = confinement_holds(NotEnforced, false).expect_err("refused");
        assert!(
            refused.to_string().contains("cannot be confined"),
            "{refused}"
        );
        assert!(confinement_holds(NotEnforced, true).is_ok());
    }

    /// A staging folder goes when its guard is dropped, and those a stopped server left
    /// go at the next start; nothing else does.
    #[test]
    fn staging_folders_do_not_outlive_their_work() {
        let root = tempfile::tempdir().expect("tmp");
        let results = root.path().join("inst/results");
        let own = root.path().join("inst/own");
        let stage = Staging::create(staging(&results.join("j.parquet"))).expect("staging");
        std::fs::write(stage.path().join("result.parquet.partial"), b"x").expect("write");
        let path = stage.path().to_path_buf();
        drop(stage);
        assert!(!path.exists(), "dropped with its guard");
        for left in [results.join(".a.parquet.staging"), own.join(".b.staging")] {
            std::fs::create_dir_all(&left).expect("left");
            std::fs::write(left.join("upload.csv"), b"x").expect("write");
        }
        std::fs::write(results.join("kept.parquet"), b"x").expect("result");
        std::fs::create_dir_all(own.join("kept")).expect("dir");
        assert_eq!(sweep_staging(root.path()), 2);
        assert!(results.join("kept.parquet").exists() && own.join("kept").exists());
        assert_eq!(sweep_staging(root.path()), 0);
    }

    /// Issue 14, performance: the cores a worker is told survive the trip, a list that
    /// is not one is refused by name, and reserving leaves jobs the rest or, where
    /// nothing would be left, every core.
    #[test]
    fn job_cores_are_told_checked_and_reserved() {
        assert_eq!(
            parse_cpu_list(&cpu_list(&[1, 3, 7])).expect("cores"),
            [1, 3, 7]
        );
        assert!(parse_cpu_list(&cpu_list(&[])).expect("none").is_empty());
        for bad in [
            "1,x",
            "-1",
            "1,,2;3",
            &rustix::thread::CpuSet::MAX_CPU.to_string(),
        ] {
            let refused = parse_cpu_list(bad).map(|_| ()).expect_err(bad).to_string();
            assert!(
                refused.contains(CPUS) && refused.contains("is not a core"),
                "{refused}"
            );
        }
        assert_eq!(all_but_first(&[0, 1, 2, 3], 1), [1, 2, 3]);
        assert_eq!(all_but_first(&[4, 6], 1), [6]);
        assert!(all_but_first(&[0, 1], 0).is_empty(), "0: every core");
        assert!(
            all_but_first(&[0, 1], 2).is_empty(),
            "nothing left: every core"
        );
        assert!(all_but_first(&[0], 1).is_empty(), "one core: every core");
    }

    #[test]
    fn job_errors_cross_the_pipe_as_they_were() {
        let errors = [
            JobError::Sql(sandbox::SqlRefusal {
                message: "syntax error: x".into(),
                at: Some(sandbox::SqlPosition { line: 2, column: 7 }),
            }),
            JobError::Execution("a value could not be converted".into()),
            JobError::Memory { limit_mib: 64 },
            JobError::Timeout { limit_ms: 5 },
            JobError::ResultTooLarge { limit_bytes: 7 },
            JobError::Cancelled,
            JobError::Io("disk".into()),
            JobError::Internal("bug".into()),
            JobError::Model(SandboxError::Trap {
                model: "m".into(),
                message: "unreachable".into(),
            }),
            JobError::Model(SandboxError::BadOutput {
                model: "m".into(),
                reason: "length".into(),
            }),
            JobError::Model(SandboxError::LimitExceeded {
                model: "m".into(),
                limit: sandbox::Limit::Fuel,
                value: "10".into(),
            }),
        ];
        for e in errors {
            let wire = serde_json::to_string(&WireError::from(&e)).expect("json");
            let back: JobError = serde_json::from_str::<WireError>(&wire)
                .expect("parses")
                .into();
            assert_eq!(back.to_string(), e.to_string(), "{wire}");
            assert_eq!(
                std::mem::discriminant(&back),
                std::mem::discriminant(&e),
                "{wire}"
            );
        }
    }
}
