//! Integration tests of the `policies` crate: one binary, one module per rule set.

mod access;
mod id_number;
mod uscc;
