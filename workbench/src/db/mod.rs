//! The workbench's storage interface: every SQL statement of this crate, one trait per
//! area of the domain, each implemented here for the platform's SQLite [`Store`]. The
//! rest of the crate reads and writes only through these traits; a second backend
//! implements the same traits for its own store (`.ci/check-deps` keeps `sqlx` out of
//! every other module).
//!
//! [`Store`]: storage::store::Store

pub(crate) mod jobs;
pub(crate) mod models;
pub(crate) mod own_data;
pub(crate) mod releases;

/// Runs a relocation statement (`?1` the new root) in `tx`: how many rows it moved.
pub(crate) async fn relocate_rows(
    tx: &mut storage::store::Tx,
    sql: &'static str,
    root: &str,
) -> Result<u64, storage::store::StoreError> {
    Ok(sqlx::query(sql)
        .bind(root)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// The statement that moves a table's recorded files under a new root: the part of
/// each path from its institution's folder on is kept.
macro_rules! relocation {
    ($table:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " SET path = ?1 || '/' || institution_id || ",
            "substr(path, instr(path, '/' || institution_id || '/') + length(institution_id) + 1) ",
            "WHERE instr(path, '/' || institution_id || '/') > 0"
        )
    };
}
pub(crate) use relocation;
