//! Running untrusted models.
//!
//! Institutions upload WebAssembly models (ABI v1, `docs/model-abi.md`). [`Sandbox::load`]
//! checks a module before anything of it runs (size, structure, imports, exports,
//! manifest) and compiles it under a time limit; [`Sandbox::run_batch`] scores one Arrow
//! batch in a fresh instance under memory, table, stack, fuel and wall-clock limits, and
//! validates what the model returns as untrusted data.
//!
//! Invariant: the sandbox never hands a guest a host handle; a guest sees only the bytes
//! the host copies into its own linear memory, and nothing it returns is trusted.

mod abi;
mod batch;
mod cache;
mod engine;
mod error;
mod job;
mod manifest;
mod queue;
mod run;
mod udf;

pub use abi::{ABI_VERSION, AbiType, MANIFEST_SECTION};
pub use cache::{ArtifactCache, ArtifactPin};
pub use engine::{CompileStats, Model, Sandbox, SandboxConfig, assemble};
pub use error::{InvalidModel, Limit, SandboxError};
pub use job::{
    JobError, JobLimits, JobReport, JobState, MAX_EXPRESSION_DEPTH, MAX_PLAN_DEPTH, SqlPosition,
    SqlRefusal, job_session, partial_path, plan_depths, plan_job, register_model, run_job,
};
pub use manifest::{ColumnSpec, ModelManifest};
pub use queue::{JOB_THREAD_STACK, JobId, JobQueue, JobResult, JobStatus, JobWork, Observer};
pub use run::{BatchUsage, CancelToken};
pub use udf::ModelUsage;
