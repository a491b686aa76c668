//! Running one batch in a fresh instance under the limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use datafusion::arrow::array::ArrayRef;
use wasmtime::{
    Caller, Instance, ModuleExport, ResourceLimiter, Store, Trap, TypedFunc, UpdateDeadline,
    WasmParams, WasmResults,
};

use crate::abi::exports;
use crate::batch;
use crate::engine::{Model, Sandbox};
use crate::error::{Limit, SandboxError};

/// Cancels a job, including a guest that is in the middle of a batch: the epoch clock
/// checks the token every tick.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels everything holding this token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The error the epoch callback raises for a cancelled job.
#[derive(Debug)]
struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// Bytes of log text kept per batch.
const LOG_BYTES: usize = 4096;

/// What one batch used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchUsage {
    /// Rows scored.
    pub rows: usize,
    /// Fuel consumed.
    pub fuel: u64,
    /// Largest guest memory seen, in bytes.
    pub peak_memory_bytes: usize,
    /// Wall time, including instantiation.
    pub wall: Duration,
    /// CPU time of the thread that ran the batch, including instantiation.
    pub cpu: Duration,
    /// Log text the model emitted (at most 4 KiB).
    pub log: String,
    /// Log bytes dropped over the cap.
    pub log_dropped: usize,
}

/// Per-instance host state: the limiter and the log.
pub(crate) struct Guest {
    max_memory: usize,
    max_table: usize,
    memory_refused: bool,
    table_refused: bool,
    peak_memory: usize,
    log: Vec<u8>,
    log_dropped: usize,
}

impl ResourceLimiter for Guest {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.memory_refused = true;
            return Err(wasmtime::Error::msg("memory limit"));
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table {
            self.table_refused = true;
            return Err(wasmtime::Error::msg("table limit"));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

impl Sandbox {
    fn instantiate(
        &self,
        model: &Model,
        cancel: &CancelToken,
    ) -> Result<(Store<Guest>, Instance), SandboxError> {
        let guest = Guest {
            max_memory: self.config.max_memory_bytes,
            max_table: self.config.max_table_elements,
            memory_refused: false,
            table_refused: false,
            peak_memory: 0,
            log: Vec::new(),
            log_dropped: 0,
        };
        let mut store = Store::new(&self.engine, guest);
        store.limiter(|g| g);
        store
            .set_fuel(self.config.fuel_per_batch)
            .map_err(|e| SandboxError::Internal(e.to_string()))?;
        // Every tick, stop the guest if its job was cancelled or its time is up.
        let deadline = Instant::now() + self.config.batch_timeout;
        let token = cancel.clone();
        store.epoch_deadline_callback(move |_| {
            if token.is_cancelled() {
                return Err(wasmtime::Error::new(Cancelled));
            }
            if Instant::now() >= deadline {
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Continue(1))
        });
        store.set_epoch_deadline(1);
        let instance = model
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.classify(e, &store, model))?;
        Ok((store, instance))
    }

    /// Creates one instance of `model`, ready to score, for the benchmarks' measure of
    /// instance acquisition; dropping it resets its slot. Not part of the API.
    #[doc(hidden)]
    pub fn instantiate_once(&self, model: &Model) -> Result<impl Drop, SandboxError> {
        self.instantiate(model, &CancelToken::new())
            .map(|(store, _)| store)
    }

    pub(crate) fn call_abi_version(&self, model: &Model) -> Result<i32, SandboxError> {
        let (mut store, instance) = self.instantiate(model, &CancelToken::new())?;
        let f = typed_func::<(), i32>(&mut store, &instance, &model.exports.abi_version)?;
        f.call(&mut store, ())
            .map_err(|e| self.classify(e, &store, model))
    }

    /// Scores one batch in a fresh instance. `inputs` must have the manifest's input
    /// types (the DataFusion integration casts them); the result has its output type.
    /// The instance is dropped afterwards, whatever happened.
    pub fn run_batch(
        &self,
        model: &Model,
        inputs: &[ArrayRef],
    ) -> Result<(ArrayRef, BatchUsage), SandboxError> {
        self.run_batch_cancellable(model, inputs, &CancelToken::new())
    }

    /// [`Sandbox::run_batch`], stopping as soon as `cancel` is cancelled, even in the
    /// middle of the guest's work.
    pub fn run_batch_cancellable(
        &self,
        model: &Model,
        inputs: &[ArrayRef],
        cancel: &CancelToken,
    ) -> Result<(ArrayRef, BatchUsage), SandboxError> {
        let started = Instant::now();
        let cpu_started = thread_cpu_time();
        let rows = batch::check_inputs(&model.manifest, inputs)?;
        if cancel.is_cancelled() {
            return Err(SandboxError::Cancelled);
        }
        let (mut store, instance) = self.instantiate(model, cancel)?;
        let memory = instance
            .get_module_export(&mut store, &model.exports.memory)
            .and_then(|e| e.into_memory())
            .ok_or_else(|| SandboxError::Internal("checked export 'memory' is gone".into()))?;
        let alloc = typed_func::<(i32, i32), i32>(&mut store, &instance, &model.exports.alloc)?;
        let score = typed_func::<i32, i32>(&mut store, &instance, &model.exports.score)?;

        let layout = batch::InputLayout::new(inputs, rows, &model.manifest);
        let size = i32::try_from(layout.total)
            .map_err(|_| SandboxError::Call("batch too large for a 32-bit guest".into()))?;
        let base = alloc
            .call(&mut store, (size, 8))
            .map_err(|e| self.classify(e, &store, model))?;
        let bad = |reason: String| SandboxError::BadOutput {
            model: model.manifest.name.clone(),
            reason,
        };
        let base = usize::try_from(base)
            .map_err(|_| bad("creditpool_alloc returned a negative pointer".into()))?;
        if base == 0 || base % 8 != 0 || base + layout.total > memory.data_size(&store) {
            return Err(bad(format!(
                "creditpool_alloc({size}, 8) returned {base}, which is null, unaligned or outside memory"
            )));
        }
        layout.write(
            inputs,
            &mut memory.data_mut(&mut store)[base..base + layout.total],
            base,
        );
        let out = score
            .call(&mut store, base as i32)
            .map_err(|e| self.classify(e, &store, model))?;
        let out = usize::try_from(out)
            .map_err(|_| bad("creditpool_score returned a negative pointer".into()))?;
        if out == 0 {
            return Err(bad(
                "creditpool_score returned 0 (the model reported a failure)".into(),
            ));
        }
        let array = batch::read_output(
            memory.data(&store),
            out,
            rows,
            model.manifest.output_type(),
            self.config.max_output_bytes,
        )
        .map_err(|e| match e {
            batch::OutputError::TooLarge(n) => SandboxError::LimitExceeded {
                model: model.manifest.name.clone(),
                limit: Limit::Output,
                value: format!(
                    "{} bytes (the result has {n})",
                    self.config.max_output_bytes
                ),
            },
            batch::OutputError::Invalid(reason) => bad(reason),
        })?;
        let fuel = self.config.fuel_per_batch - store.get_fuel().unwrap_or(0);
        let guest = store.data();
        let usage = BatchUsage {
            rows,
            fuel,
            peak_memory_bytes: guest.peak_memory,
            wall: started.elapsed(),
            cpu: thread_cpu_time().saturating_sub(cpu_started),
            log: String::from_utf8_lossy(&guest.log).into_owned(),
            log_dropped: guest.log_dropped,
        };
        Ok((array, usage))
    }

    /// Turns a wasmtime failure into the error that names its cause.
    fn classify(&self, e: wasmtime::Error, store: &Store<Guest>, model: &Model) -> SandboxError {
        let name = model.manifest.name.clone();
        let limit = |limit: Limit, value: String| SandboxError::LimitExceeded {
            model: name.clone(),
            limit,
            value,
        };
        if e.downcast_ref::<Cancelled>().is_some() {
            return SandboxError::Cancelled;
        }
        let guest = store.data();
        if guest.memory_refused {
            return limit(
                Limit::Memory,
                format!("{} MiB", self.config.max_memory_bytes >> 20),
            );
        }
        if guest.table_refused {
            return limit(
                Limit::Table,
                format!("{} elements", self.config.max_table_elements),
            );
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => limit(
                Limit::Fuel,
                format!("{} units per batch", self.config.fuel_per_batch),
            ),
            Some(Trap::Interrupt) => limit(
                Limit::Time,
                format!("{} ms per batch", self.config.batch_timeout.as_millis()),
            ),
            Some(Trap::StackOverflow) => limit(
                Limit::Stack,
                format!("{} KiB", self.config.max_stack_bytes >> 10),
            ),
            Some(trap) => SandboxError::Trap {
                model: name,
                message: format!("{trap}"),
            },
            // Oversized initial memories and tables are refused at upload, and growth
            // goes through the limiter above, so anything else is the guest's own failure.
            None => SandboxError::Trap {
                model: name,
                message: format!("{e:#}"),
            },
        }
    }
}

/// CPU time consumed so far by the calling thread.
fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// A checked function export of `instance`, typed.
fn typed_func<P: WasmParams, R: WasmResults>(
    store: &mut Store<Guest>,
    instance: &Instance,
    export: &ModuleExport,
) -> Result<TypedFunc<P, R>, SandboxError> {
    instance
        .get_module_export(&mut *store, export)
        .and_then(|e| e.into_func())
        .ok_or_else(|| SandboxError::Internal("a checked export is gone".into()))?
        .typed::<P, R>(&*store)
        .map_err(|e| SandboxError::Internal(e.to_string()))
}

/// `creditpool.log(ptr, len)`: keeps at most [`LOG_BYTES`] per batch, counts the rest.
pub(crate) fn log(mut caller: Caller<'_, Guest>, ptr: i32, len: i32) {
    let Some(memory) = caller
        .get_export(exports::MEMORY)
        .and_then(|e| e.into_memory())
    else {
        return;
    };
    let (Ok(ptr), Ok(len)) = (usize::try_from(ptr), usize::try_from(len)) else {
        return;
    };
    let (data, guest) = memory.data_and_store_mut(&mut caller);
    let Some(bytes) = ptr.checked_add(len).and_then(|end| data.get(ptr..end)) else {
        return;
    };
    let room = LOG_BYTES.saturating_sub(guest.log.len());
    let kept = room.min(bytes.len());
    guest.log.extend_from_slice(&bytes[..kept]);
    guest.log_dropped += bytes.len() - kept;
}
