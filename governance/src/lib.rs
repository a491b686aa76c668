//! creditpool's governance: who may do what, and the workflow around it (BRIEF P1–P3,
//! P5–P7, P9): identity and second factors, applications with their evidence and entry
//! criteria, expert review, accounts and their lifecycle, registered products, progress
//! reports and usage. Below HTTP and without DataFusion or wasmtime in its build
//! (`.ci/check-deps`): a governance rule's tests run without linking either.

mod db;

pub mod accounts;
pub mod applications;
pub mod criteria;
pub mod evidence;
pub mod form;
pub mod identity;
pub mod products;
pub mod progress;
pub mod review;
pub mod second_factor;
