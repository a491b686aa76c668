//! The sandbox's one error type, split by who is at fault.

use std::fmt;

/// Why a module was refused at upload: the institution's input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidModel {
    /// Over the size cap.
    #[error("the module is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// Size of the upload.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// Not a valid WebAssembly module.
    #[error("not a valid WebAssembly module: {0}")]
    Malformed(String),
    /// A component, not a core module.
    #[error(
        "this is a WebAssembly component; models must be core modules (target wasm32-unknown-unknown)"
    )]
    Component,
    /// A required export is missing or has the wrong kind or signature.
    #[error("export '{name}' is missing or is not {expected}")]
    Export {
        /// The export.
        name: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// An import other than `creditpool.log`.
    #[error(
        "the module imports '{module}.{name}'; models may import nothing but creditpool.log (no WASI, no host functions)"
    )]
    ForbiddenImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// A start function, which would run code at instantiation.
    #[error(
        "the module has a start function; ABI v1 forbids them (initialise inside creditpool_score)"
    )]
    StartFunction,
    /// A structural limit that bounds compile time.
    #[error("the module has {found} {what}; the limit is {limit}")]
    Structure {
        /// What was counted.
        what: &'static str,
        /// How many.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// No manifest, or a bad one.
    #[error("manifest: {0}")]
    Manifest(String),
    /// The module says it implements another ABI version.
    #[error("creditpool_abi_version() returned {found}; this platform runs ABI 1")]
    AbiVersion {
        /// What the module returned.
        found: i32,
    },
    /// Compiling took longer than allowed.
    #[error("compiling the module took longer than the limit of {limit_ms} ms")]
    CompileTimeout {
        /// The limit.
        limit_ms: u64,
    },
}

/// A resource limit of the sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Guest linear memory, in bytes.
    Memory,
    /// Table elements.
    Table,
    /// WebAssembly stack, in bytes.
    Stack,
    /// Fuel (instructions) per batch.
    Fuel,
    /// Wall-clock time per batch, in milliseconds.
    Time,
    /// Output size, in bytes.
    Output,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Memory => "memory limit",
            Limit::Table => "table limit",
            Limit::Stack => "stack limit",
            Limit::Fuel => "CPU (fuel) limit",
            Limit::Time => "time limit",
            Limit::Output => "output size limit",
        })
    }
}

/// Everything that can go wrong loading or running a model.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SandboxError {
    /// The module was refused: the institution's input.
    #[error("model refused: {0}")]
    Invalid(InvalidModel),
    /// The model hit a resource limit.
    #[error("model '{model}' exceeded its {limit} of {value}")]
    LimitExceeded {
        /// The model.
        model: String,
        /// Which limit.
        limit: Limit,
        /// The limit's value, with its unit.
        value: String,
    },
    /// The model trapped.
    #[error("model '{model}' failed: {message}")]
    Trap {
        /// The model.
        model: String,
        /// What happened, from wasmtime's trap.
        message: String,
    },
    /// The model returned a malformed or lying output.
    #[error("model '{model}' returned an invalid result: {reason}")]
    BadOutput {
        /// The model.
        model: String,
        /// What was wrong.
        reason: String,
    },
    /// The job was cancelled while the model ran.
    #[error("cancelled")]
    Cancelled,
    /// The call itself is wrong: wrong number or types of arguments.
    #[error("{0}")]
    Call(String),
    /// A bug or an environment problem in the host.
    #[error("sandbox internal error: {0}")]
    Internal(String),
}

// Not `#[from]`: that would also make the refusal the error's source, and reports that
// print the source chain would say it twice.
impl From<InvalidModel> for SandboxError {
    fn from(e: InvalidModel) -> Self {
        SandboxError::Invalid(e)
    }
}
