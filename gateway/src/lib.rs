//! The creditpool gateway: platform state, identity, the audit log and the HTTP API.
//! The `creditpool` binary (`src/main.rs`) is its command line.

pub mod accounts;
pub mod api;
pub mod application;
pub mod applications;
pub use storage::audit;
pub mod calendar;
pub mod cells;
pub mod criteria;
pub mod demo;
pub mod evidence;
pub mod gate;
pub mod identity;
pub mod lineage;
pub mod metrics;
pub mod models;
pub mod objections;
pub mod own_data;
pub mod products;
pub mod pseudonyms;
pub mod reports;
pub mod review;
pub mod second_factor;
pub mod sketch;
pub mod store;
pub mod tickets;
pub mod worker;
pub mod workspace;
