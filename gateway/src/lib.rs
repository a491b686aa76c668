//! The JSON API: routes, wire types, the mapping of the domain's errors to answers,
//! the authentication extractor, rate limits and metrics. Every rule it enforces is
//! called from [`platform`] and the domain crates below it; the `creditpool` binary
//! (`creditpool/`) serves it.

pub mod api;
pub mod metrics;
