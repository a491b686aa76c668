//! creditpool's workbench, the institutions' workspaces (BRIEF P4, P5, P8, P10): what
//! an institution computes in its sandbox and what of it may leave. Jobs (`workspace`: the queue, fair
//! slots, quotas checked at submission) run each in a confined worker process
//! (`worker`) over the granted tables, the institution's own data (`own_data`) and its
//! uploaded models (`models`); masked identifiers enter as keyed pseudonyms
//! (`pseudonyms`); `lineage` finds what a plan reads; `quotas` counts what was used;
//! the output gate (`gate`, with `cells` and `sketch`) decides every release. Below
//! HTTP (`.ci/check-deps`): the application layer (`platform`), the JSON API's
//! handlers and the command line call it. Its SQL is in `db`, behind its storage
//! traits.

mod db;

pub mod cells;
pub mod gate;
pub mod lineage;
pub mod models;
pub mod own_data;
pub mod priority;
pub mod pseudonyms;
pub mod quotas;
pub mod recovery;
pub mod session;
pub mod sketch;
pub mod worker;
pub mod workspace;
