//! Governance's storage interface: every SQL statement of this crate, one trait per area
//! of the domain, each implemented here for the platform's SQLite [`Store`]. The rest of
//! the crate reads and writes only through these traits; a second backend implements
//! the same traits for its own store (`.ci/check-deps` keeps `sqlx` out of every other
//! module).
//!
//! [`Store`]: storage::store::Store

pub(crate) mod accounts;
pub(crate) mod applications;
pub(crate) mod evidence;
pub(crate) mod identity;
pub(crate) mod products;
pub(crate) mod progress;
pub(crate) mod review;
pub(crate) mod second_factor;
