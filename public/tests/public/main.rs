//! The public query module over the sample data.

mod records;
mod search;
