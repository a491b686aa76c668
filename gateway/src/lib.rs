//! The creditpool gateway: platform state, identity, the audit log and the HTTP API.
//! The `creditpool` binary (`src/main.rs`) is its command line.

pub use governance::accounts;
pub mod api;
pub use desk::calendar;
pub use governance::application;
pub use governance::applications;
pub use storage::audit;
pub mod cells;
pub mod criteria;
pub mod demo;
pub use governance::evidence;
pub mod gate;
pub use governance::identity;
pub mod lineage;
pub mod metrics;
pub mod models;
pub use desk::objections;
pub mod own_data;
pub use governance::products;
pub mod pseudonyms;
pub mod quotas;
pub use governance::reports;
pub use governance::review;
pub use governance::second_factor;
pub mod sketch;
pub mod store;
pub use desk::tickets;
pub mod worker;
pub mod workspace;
