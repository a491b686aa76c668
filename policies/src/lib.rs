//! What is allowed.
//!
//! This crate holds the platform's rules as pure functions, free of HTTP, storage and
//! the sandbox: today the validators for the two identifiers every record hangs on
//! (the unified social credit code of GB 32100-2015 and the citizen ID number of
//! GB 11643-1999), and the access rules the gateway evaluates on every request (Cedar
//! policies in `policies/cedar/`, module [`access`]); later the disclosure rules of
//! BRIEF Q1–Q3.
//!
//! Inputs are normalised the way people actually type identifiers (surrounding and
//! inner spaces, full-width characters, lower case) before they are checked.

pub mod access;
pub mod calendar;
pub mod disclosure;
mod id_number;
pub mod masking;
mod normalise;
mod phone;
mod uscc;

pub use id_number::{Gender, IdNumber, IdNumberError};
pub use normalise::to_half_width;
pub use phone::is_phone;
pub use uscc::{USCC_ALPHABET, Uscc, UsccCheck, UsccError, UsccWarning};
