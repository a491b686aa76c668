//! The creditpool gateway: platform state, identity, the audit log and the HTTP API.
//! The `creditpool` binary (`src/main.rs`) is its command line.

pub use governance::accounts;
pub mod api;
pub use desk::calendar;
pub use governance::applications;
pub use governance::evidence;
pub use governance::form;
pub use governance::identity;
pub use platform::criteria;
pub use platform::demo;
pub use storage::audit;
pub use workbench::cells;
pub use workbench::gate;
pub use workbench::lineage;
pub mod metrics;
pub use desk::objections;
pub use desk::tickets;
pub use governance::products;
pub use governance::progress;
pub use governance::review;
pub use governance::second_factor;
pub use platform::store;
pub use workbench::models;
pub use workbench::own_data;
pub use workbench::pseudonyms;
pub use workbench::quotas;
pub use workbench::sketch;
pub use workbench::worker;
pub use workbench::workspace;
