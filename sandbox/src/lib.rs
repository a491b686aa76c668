//! Running untrusted models and SQL.
//!
//! This crate will hold the wasmtime host and the DataFusion integration that run
//! institutions' WebAssembly models over their granted tables (issue #3). It is part of
//! the workspace now so the layering is visible from the start; it exports nothing yet
//! and nothing depends on it.
