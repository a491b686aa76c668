//! creditpool's platform state, below every domain crate: the SQLite store and its
//! embedded migrations ([`store`]), the hash-chained audit log ([`audit`]), typed ids
//! ([`ids`]), hashes and the China clock. It knows no domain rule: data migrations that
//! need one (such as normalising stored codes) run above it, after
//! [`store::Store::open`].

pub mod audit;
pub mod backup;
pub mod crash;
pub mod csv;
pub mod ids;
pub mod said;
pub mod states;
pub mod store;
