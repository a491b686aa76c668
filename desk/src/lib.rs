//! creditpool's public service desk (BRIEF Q4–Q9): what the public, persons, agencies
//! and source units do beside looking records up. Objections to records and their
//! ledger, consultations and complaints, the working-day calendar their deadlines are
//! counted on, persons' authorisations to see their record, the archive of issued
//! credit reports that verification reads, and agencies' verification letters. Below
//! HTTP and without wasmtime in its build (`.ci/check-deps`); the records themselves
//! come from the `public` crate.

mod db;

pub mod authorisations;
pub mod calendar;
pub mod issuance;
pub mod objections;
pub mod tickets;
pub mod verifications;
