//! The creditpool gateway: platform state, identity, the audit log and the HTTP API.
//! The `creditpool` binary (`src/main.rs`) is its command line.

pub mod api;
pub mod application;
pub mod applications;
pub mod audit;
pub mod identity;
pub mod review;
pub mod store;
