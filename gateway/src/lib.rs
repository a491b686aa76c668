//! creditpool's two front doors over HTTP: the JSON API (routes, wire types, the mapping
//! of the domain's errors to answers, the authentication extractor, rate limits and
//! metrics) and the web pages (`site`). Every rule either enforces is called from
//! [`platform`] and the domain crates below it; the `creditpool` binary (`creditpool/`)
//! serves them.

pub mod api;
pub mod metrics;
mod site;
