//! Integration tests of the gateway: the `creditpool` command as a user runs it, and the
//! HTTP API on a real listener over a fresh SQLite file per test.

mod accounts;
mod api;
mod applications;
mod audit;
mod backup;
mod browser;
mod calendar;
mod cli;
mod containment;
mod contract;
mod crash;
mod criteria;
mod fuzz_parquet;
mod gate;
mod gate_cases;
mod helpers;
mod lifecycle;
mod objections;
mod own_data;
mod persons;
mod products;
mod public;
mod python_client;
mod quality;
mod resources;
mod review;
mod second_factor;
mod tickets;
mod verification;
mod workspace;
