//! The public query module (BRIEF Q1–Q11): what the public, enterprises and agencies
//! may look up. Today: the search index of enterprises and organisations (Q4).

pub mod html;
pub mod layout;
pub mod pdf;
pub mod qr;
pub mod records;
pub mod report;
pub mod report_id;
pub mod search;
pub mod special;
pub mod verification;
