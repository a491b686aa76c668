//! The wasmtime engine, its limits, and loading (checking and compiling) models.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module,
    ModuleExport, PoolingAllocationConfig, ValType,
};

use crate::abi::{self, MANIFEST_SECTION, exports};
use crate::cache::{ArtifactCache, Lookup};
use crate::error::{InvalidModel, SandboxError};
use crate::manifest::ModelManifest;
use crate::run::Guest;

/// Limits on models, with the platform's defaults.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Largest module accepted, in bytes.
    pub max_module_bytes: usize,
    /// Most functions a module may define (bounds compile time).
    pub max_functions: usize,
    /// Largest function body, in bytes (bounds compile time).
    pub max_function_bytes: usize,
    /// Longest a compilation may take.
    pub compile_timeout: Duration,
    /// Guest linear memory per instance, in bytes.
    pub max_memory_bytes: usize,
    /// Table elements per instance.
    pub max_table_elements: usize,
    /// WebAssembly stack, in bytes.
    pub max_stack_bytes: usize,
    /// Fuel (roughly, instructions) per batch.
    pub fuel_per_batch: u64,
    /// Wall-clock time per batch.
    pub batch_timeout: Duration,
    /// Largest output of one batch, in bytes.
    pub max_output_bytes: usize,
    /// Instances that may exist at once (the pooling allocator's slots).
    pub max_concurrent_instances: u32,
    /// Low bytes of each memory slot kept resident between instances and reset with
    /// `memset` (only the pages a guest dirtied, where the kernel has `PAGEMAP_SCAN`)
    /// rather than returned to the kernel, so the next batch does not page-fault them
    /// back in. Costs at most this much resident memory per slot.
    pub keep_resident_bytes: usize,
    /// Compiled modules kept in memory; beyond this the least recently used is dropped
    /// (and reloaded from the disk cache, if there is one, when next needed).
    pub max_compiled_in_memory: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            max_module_bytes: 4 << 20,
            max_functions: 20_000,
            max_function_bytes: 1 << 20,
            compile_timeout: Duration::from_secs(10),
            max_memory_bytes: 64 << 20,
            max_table_elements: 10_000,
            max_stack_bytes: 512 << 10,
            fuel_per_batch: 2_000_000_000,
            batch_timeout: Duration::from_secs(5),
            max_output_bytes: 64 << 20,
            max_concurrent_instances: 64,
            keep_resident_bytes: 4 << 20,
            max_compiled_in_memory: 256,
        }
    }
}

/// Interval of the epoch clock that enforces wall-clock limits and cancellation.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The host: one wasmtime engine shared by all models, and its epoch clock.
pub struct Sandbox {
    pub(crate) engine: Engine,
    pub(crate) config: SandboxConfig,
    cache: Option<ArtifactCache>,
    compiled: Mutex<CompiledModules>,
    stats: Mutex<CompileStats>,
    ticker: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

/// Compiled modules by id, with their order of last use.
#[derive(Default)]
struct CompiledModules {
    modules: HashMap<String, (Module, u64)>,
    clock: u64,
}

impl CompiledModules {
    fn get(&mut self, id: &str) -> Option<Module> {
        self.clock += 1;
        let clock = self.clock;
        self.modules.get_mut(id).map(|(module, used)| {
            *used = clock;
            module.clone()
        })
    }

    /// Remembers `module`, dropping the least recently used beyond `capacity`.
    fn insert(&mut self, id: &str, module: Module, capacity: usize) {
        self.clock += 1;
        self.modules.insert(id.to_owned(), (module, self.clock));
        while self.modules.len() > capacity.max(1) {
            let Some(oldest) = self
                .modules
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            self.modules.remove(&oldest);
        }
    }
}

/// Where compiled modules came from, for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileStats {
    /// Modules compiled from source.
    pub compiled: u64,
    /// Modules reused from memory.
    pub memory_hits: u64,
    /// Modules loaded from the on-disk cache.
    pub disk_hits: u64,
}

/// A checked and compiled model, ready to run batches.
#[derive(Clone)]
pub struct Model {
    pub(crate) id: String,
    pub(crate) manifest: Arc<ModelManifest>,
    /// The module with its imports resolved, so each batch only instantiates.
    pub(crate) pre: InstancePre<Guest>,
    pub(crate) exports: Exports,
}

/// The ABI's exports, looked up once per model.
#[derive(Clone)]
pub(crate) struct Exports {
    pub(crate) memory: ModuleExport,
    pub(crate) alloc: ModuleExport,
    pub(crate) score: ModuleExport,
    pub(crate) abi_version: ModuleExport,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .finish()
    }
}

impl Model {
    /// SHA-256 of the module's bytes, hex: the model's identity.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What the model says about itself.
    pub fn manifest(&self) -> &ModelManifest {
        &self.manifest
    }
}

/// A model written in the WebAssembly text format (a `.wat` file), assembled into the
/// binary module the sandbox loads; a binary module is returned as it is. The command
/// line and the API both take models this way, so a model one accepts the other does.
pub fn assemble(text: &[u8]) -> Result<Vec<u8>, SandboxError> {
    wat::parse_bytes(text)
        .map(std::borrow::Cow::into_owned)
        .map_err(|e| {
            SandboxError::Invalid(InvalidModel::Malformed(format!(
                "not valid WebAssembly text: {e}"
            )))
        })
}

impl Sandbox {
    /// Builds the engine: Cranelift, deterministic NaNs and relaxed SIMD, fuel and epoch
    /// interruption, a bounded stack, and a pooling allocator sized to the limits. The
    /// build has no component model, GC, threads or async support compiled in.
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(config.max_concurrent_instances)
            .total_memories(config.max_concurrent_instances)
            .total_tables(config.max_concurrent_instances)
            .max_memories_per_module(1)
            .max_tables_per_module(1)
            .max_memory_size(config.max_memory_bytes)
            .table_elements(config.max_table_elements)
            .linear_memory_keep_resident(config.keep_resident_bytes)
            .pagemap_scan(Enabled::Auto);
        let mut c = Config::new();
        c.cranelift_nan_canonicalization(true)
            .relaxed_simd_deterministic(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(config.max_stack_bytes)
            .wasm_multi_memory(false)
            .wasm_memory64(false)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&c)
            .map_err(|e| SandboxError::Internal(format!("building the engine: {e}")))?;

        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("sandbox-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| SandboxError::Internal(format!("starting the epoch clock: {e}")))?
        };
        Ok(Sandbox {
            engine,
            config,
            cache: None,
            compiled: Mutex::new(CompiledModules::default()),
            stats: Mutex::new(CompileStats::default()),
            ticker: Some((stop, ticker)),
        })
    }

    /// Keeps compiled modules in `cache`, so each module is compiled once per engine
    /// version however often it is loaded.
    pub fn with_cache(mut self, cache: ArtifactCache) -> Sandbox {
        self.cache = Some(cache);
        self
    }

    /// Where compiled modules came from so far.
    pub fn compile_stats(&self) -> CompileStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// The engine, for tools that inspect the cache.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The limits in force.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Checks a module against ABI v1 and compiles it. Nothing of the module runs
    /// except `creditpool_abi_version`, under the batch limits.
    pub fn load(&self, bytes: &[u8]) -> Result<Model, SandboxError> {
        let manifest = inspect(bytes, &self.config)?;
        let id = module_id(bytes);
        let module = self.compiled_module(&id, bytes)?;
        let imports_log = check_interface(&module)?;
        let mut linker: Linker<Guest> = Linker::new(&self.engine);
        if imports_log {
            linker
                .func_wrap(abi::LOG_MODULE, abi::LOG_FUNCTION, crate::run::log)
                .map_err(|e| SandboxError::Internal(e.to_string()))?;
        }
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| SandboxError::Internal(format!("resolving imports: {e}")))?;
        let export = |name: &str| {
            module
                .get_export_index(name)
                .ok_or_else(|| SandboxError::Internal(format!("checked export '{name}' is gone")))
        };
        let exports = Exports {
            memory: export(exports::MEMORY)?,
            alloc: export(exports::ALLOC)?,
            score: export(exports::SCORE)?,
            abi_version: export(exports::ABI_VERSION)?,
        };
        let model = Model {
            id,
            manifest: Arc::new(manifest),
            pre,
            exports,
        };
        let version = self.call_abi_version(&model)?;
        if version != abi::ABI_VERSION {
            return Err(InvalidModel::AbiVersion { found: version }.into());
        }
        Ok(model)
    }

    /// The pin of the compiled artifact of module `bytes` in this sandbox's cache, with
    /// the module's id: what a job worker's pinned cache needs to load that artifact
    /// ([`ArtifactCache::pinned`]). `None` if there is no such artifact or it does not verify.
    pub fn pin(&self, bytes: &[u8]) -> Option<(String, crate::ArtifactPin)> {
        let id = module_id(bytes);
        let pin = self.cache.as_ref()?.pin(&self.engine, &id)?;
        Some((id, pin))
    }

    /// The file of the compiled artifact of module `bytes` in the disk cache (whether or
    /// not it is there yet), if this sandbox has a cache.
    pub fn artifact_file(&self, bytes: &[u8]) -> Option<std::path::PathBuf> {
        Some(self.cache.as_ref()?.path(&self.engine, &module_id(bytes)))
    }

    /// The compiled module for `bytes`: from memory, from the sealed disk cache, or
    /// compiled now (and then remembered in both).
    fn compiled_module(&self, id: &str, bytes: &[u8]) -> Result<Module, SandboxError> {
        let count = |f: fn(&mut CompileStats)| {
            if let Ok(mut s) = self.stats.lock() {
                f(&mut s);
            }
        };
        if let Some(m) = self.compiled.lock().ok().and_then(|mut c| c.get(id)) {
            count(|s| s.memory_hits += 1);
            return Ok(m);
        }
        let module = match self.cache.as_ref().map(|c| c.get(&self.engine, id)) {
            Some(Lookup::Hit(m)) => {
                count(|s| s.disk_hits += 1);
                m
            }
            _ => {
                let m = self.compile(bytes)?;
                count(|s| s.compiled += 1);
                if let Some(cache) = &self.cache {
                    cache.put(&self.engine, id, &m);
                }
                m
            }
        };
        if let Ok(mut c) = self.compiled.lock() {
            c.insert(id, module.clone(), self.config.max_compiled_in_memory);
        }
        Ok(module)
    }

    fn compile(&self, bytes: &[u8]) -> Result<Module, SandboxError> {
        // Cranelift cannot be interrupted, so compilation runs on its own thread and we
        // stop waiting at the limit; structural limits in `inspect` keep the work bounded.
        let (tx, rx) = mpsc::channel();
        let engine = self.engine.clone();
        let owned = bytes.to_vec();
        std::thread::Builder::new()
            .name("sandbox-compile".into())
            .spawn(move || {
                let _ = tx.send(Module::new(&engine, &owned));
            })
            .map_err(|e| SandboxError::Internal(format!("starting the compiler: {e}")))?;
        match rx.recv_timeout(self.config.compile_timeout) {
            Ok(Ok(module)) => Ok(module),
            Ok(Err(e)) => Err(InvalidModel::Malformed(format!("{e:#}")).into()),
            Err(_) => Err(InvalidModel::CompileTimeout {
                limit_ms: self.config.compile_timeout.as_millis() as u64,
            }
            .into()),
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.config)
            .finish()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
    }
}

/// Reads the module's structure without compiling it: refuses components, start
/// functions and oversized code, and extracts the manifest.
fn inspect(bytes: &[u8], config: &SandboxConfig) -> Result<ModelManifest, InvalidModel> {
    if bytes.len() > config.max_module_bytes {
        return Err(InvalidModel::TooLarge {
            size: bytes.len(),
            limit: config.max_module_bytes,
        });
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(InvalidModel::Malformed(
            "the file does not start with the WebAssembly magic bytes (\\0asm); upload the compiled .wasm file".into(),
        ));
    }
    let mut manifest = None;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(malformed)?;
        match payload {
            wasmparser::Payload::Version {
                encoding: wasmparser::Encoding::Component,
                ..
            } => {
                return Err(InvalidModel::Component);
            }
            wasmparser::Payload::StartSection { .. } => return Err(InvalidModel::StartFunction),
            wasmparser::Payload::FunctionSection(reader) => {
                let functions = reader.count() as usize;
                if functions > config.max_functions {
                    return Err(InvalidModel::Structure {
                        what: "functions",
                        found: functions,
                        limit: config.max_functions,
                    });
                }
            }
            wasmparser::Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(malformed)?;
                    let bytes = usize::try_from(memory.initial.saturating_mul(65_536))
                        .unwrap_or(usize::MAX);
                    if bytes > config.max_memory_bytes {
                        return Err(InvalidModel::Structure {
                            what: "bytes of initial memory",
                            found: bytes,
                            limit: config.max_memory_bytes,
                        });
                    }
                }
            }
            wasmparser::Payload::TableSection(reader) => {
                for table in reader {
                    let table = table.map_err(malformed)?;
                    let elements = usize::try_from(table.ty.initial).unwrap_or(usize::MAX);
                    if elements > config.max_table_elements {
                        return Err(InvalidModel::Structure {
                            what: "initial table elements",
                            found: elements,
                            limit: config.max_table_elements,
                        });
                    }
                }
            }
            wasmparser::Payload::CodeSectionEntry(body) => {
                let size = body.range().len();
                if size > config.max_function_bytes {
                    return Err(InvalidModel::Structure {
                        what: "bytes in one function body",
                        found: size,
                        limit: config.max_function_bytes,
                    });
                }
            }
            wasmparser::Payload::CustomSection(section) if section.name() == MANIFEST_SECTION => {
                if manifest.is_some() {
                    return Err(InvalidModel::Manifest(format!(
                        "the module has two '{MANIFEST_SECTION}' sections"
                    )));
                }
                manifest = Some(ModelManifest::parse(section.data())?);
            }
            _ => {}
        }
    }
    manifest.ok_or_else(|| {
        InvalidModel::Manifest(format!(
            "no '{MANIFEST_SECTION}' custom section; see docs/model-abi.md §2"
        ))
    })
}

fn malformed(e: wasmparser::BinaryReaderError) -> InvalidModel {
    InvalidModel::Malformed(format!("{} (at byte {})", e.message(), e.offset()))
}

/// Checks imports and exports against ABI v1; returns whether the model imports the
/// log function.
fn check_interface(module: &Module) -> Result<bool, InvalidModel> {
    let mut imports_log = false;
    for import in module.imports() {
        let is_log = import.module() == abi::LOG_MODULE
            && import.name() == abi::LOG_FUNCTION
            && matches!(import.ty(), ExternType::Func(f) if f.params().len() == 2
                && f.params().all(|p| matches!(p, ValType::I32))
                && f.results().len() == 0);
        if !is_log {
            return Err(InvalidModel::ForbiddenImport {
                module: import.module().to_owned(),
                name: import.name().to_owned(),
            });
        }
        imports_log = true;
    }
    let func = |name: &'static str, params: usize, results: usize, expected: &'static str| {
        let ok = matches!(module.get_export(name), Some(ExternType::Func(f))
            if f.params().len() == params && f.results().len() == results
               && f.params().chain(f.results()).all(|t| matches!(t, ValType::I32)));
        if ok {
            Ok(())
        } else {
            Err(InvalidModel::Export { name, expected })
        }
    };
    if !matches!(module.get_export(exports::MEMORY), Some(ExternType::Memory(m)) if !m.is_64() && !m.is_shared())
    {
        return Err(InvalidModel::Export {
            name: exports::MEMORY,
            expected: "a 32-bit, unshared linear memory",
        });
    }
    func(exports::ABI_VERSION, 0, 1, "a function () -> i32")?;
    func(
        exports::ALLOC,
        2,
        1,
        "a function (i32 size, i32 align) -> i32",
    )?;
    func(
        exports::DEALLOC,
        3,
        0,
        "a function (i32 ptr, i32 size, i32 align)",
    )?;
    func(exports::SCORE, 1, 1, "a function (i32 input) -> i32")?;
    Ok(imports_log)
}

/// A module's id: the SHA-256 of its bytes, in hex.
fn module_id(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
