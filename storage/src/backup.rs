//! A consistent copy of the database while it is in use (issue 17, item 8).

use std::path::Path;

use crate::store::{Store, StoreError};

/// Writes a consistent copy of the database to `to`, a file that must not exist, while
/// the server goes on: SQLite's `VACUUM INTO` reads the database in one read
/// transaction (writers go on, in the write-ahead log) and writes a compact copy, as
/// the online backup API would, page by page.
pub async fn snapshot(store: &Store, to: &Path) -> Result<(), StoreError> {
    let to = to
        .to_str()
        .ok_or_else(|| StoreError::Failed(format!("{} is not a UTF-8 path", to.display())))?;
    sqlx::query("VACUUM INTO ?")
        .bind(to)
        .execute(store.pool())
        .await?;
    Ok(())
}
