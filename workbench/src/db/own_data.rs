//! The SQL of institutions' own tables and their sharing (`crate::own_data`).

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use storage::ids::InstitutionId;

use storage::store::{Store, StoreError, Tx};

use crate::own_data::OwnTable;

/// An own table as it is first stored, private.
pub(crate) struct NewRow<'a> {
    pub id: &'a str,
    pub institution_id: &'a InstitutionId,
    pub name: &'a str,
    /// Its columns (JSON).
    pub columns: &'a str,
    pub rows: i64,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub path: &'a str,
    pub uploaded_by: &'a str,
    pub uploaded_at: &'a str,
}

/// Where own tables are kept: what a backend implements.
pub(crate) trait OwnData {
    /// Moves every own table's recorded file under `root` (`root/<institution
    /// id>/own/<file>`: a restore elsewhere); how many.
    async fn relocate_own_tables(&self, tx: &mut Tx, root: &str) -> Result<u64, StoreError>;
    /// The files of every institution's live own tables.
    async fn live_own_paths(&self) -> Result<Vec<String>, StoreError>;
    /// Whether an institution has a live table of this name, read in `tx`.
    async fn own_table_named(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        name: &str,
    ) -> Result<bool, StoreError>;
    /// Stores a new table, private.
    async fn insert_own_table(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError>;
    /// Every live own table of every institution with its owner's status, by owner and
    /// name.
    async fn live_own_tables(&self) -> Result<Vec<(OwnTable, String)>, StoreError>;
    /// One live table of an institution.
    async fn own_table(
        &self,
        institution_id: &InstitutionId,
        id: &str,
    ) -> Result<Option<OwnTable>, StoreError>;
    /// An institution's live tables, by name.
    async fn own_tables(&self, institution_id: &InstitutionId)
    -> Result<Vec<OwnTable>, StoreError>;
    /// The ids of every table an institution owns, deleted ones too.
    async fn own_table_ids(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<String>, StoreError>;
    /// Sets how a table is shared and with whom (replacing every share).
    async fn set_sharing(
        &self,
        tx: &mut Tx,
        id: &str,
        mode: &str,
        with: &[String],
    ) -> Result<(), StoreError>;
    /// Sets a table's columns (JSON).
    async fn set_own_columns(&self, tx: &mut Tx, id: &str, columns: &str)
    -> Result<(), StoreError>;
    /// Marks a table deleted at `at` and drops its shares.
    async fn delete_own_table(&self, tx: &mut Tx, id: &str, at: &str) -> Result<(), StoreError>;
}

/// A table from its row, with whom it is shared.
async fn own_table_of(store: &Store, r: &SqliteRow) -> Result<OwnTable, StoreError> {
    let id: String = r.get("id");
    let shared_with: Vec<String> = sqlx::query_scalar(
        "SELECT institution_id FROM own_table_shares WHERE table_id = ? \
             ORDER BY institution_id",
    )
    .bind(&id)
    .fetch_all(store.pool())
    .await?;
    Ok(OwnTable {
        id,
        institution_id: r.get("institution_id"),
        name: r.get("name"),
        columns: serde_json::from_str(&r.get::<String, _>("columns")).unwrap_or_default(),
        rows: r.get("rows"),
        size_bytes: r.get("size_bytes"),
        sha256: r.get("sha256"),
        sharing: r.get("sharing"),
        shared_with,
        uploaded_at: r.get("uploaded_at"),
        path: r.get("path"),
    })
}

impl OwnData for Store {
    async fn relocate_own_tables(&self, tx: &mut Tx, root: &str) -> Result<u64, StoreError> {
        super::relocate_rows(tx, super::relocation!("own_tables"), root).await
    }

    async fn live_own_paths(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT path FROM own_tables WHERE deleted_at IS NULL")
                .fetch_all(self.pool())
                .await?,
        )
    }

    async fn own_table_named(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        name: &str,
    ) -> Result<bool, StoreError> {
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT id FROM own_tables WHERE institution_id = ? AND name = ? \
             AND deleted_at IS NULL",
        )
        .bind(institution_id)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(taken.is_some())
    }

    async fn insert_own_table(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO own_tables (id, institution_id, name, columns, rows, size_bytes, \
             sha256, path, sharing, uploaded_by, uploaded_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'private', ?, ?)",
        )
        .bind(row.id)
        .bind(row.institution_id)
        .bind(row.name)
        .bind(row.columns)
        .bind(row.rows)
        .bind(row.size_bytes)
        .bind(row.sha256)
        .bind(row.path)
        .bind(row.uploaded_by)
        .bind(row.uploaded_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn live_own_tables(&self) -> Result<Vec<(OwnTable, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.*, i.status AS owner_status FROM own_tables t \
             JOIN institutions i ON i.id = t.institution_id \
             WHERE t.deleted_at IS NULL ORDER BY t.institution_id, t.name",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.push((
                own_table_of(self, r).await?,
                r.get::<String, _>("owner_status"),
            ));
        }
        Ok(out)
    }

    async fn own_table(
        &self,
        institution_id: &InstitutionId,
        id: &str,
    ) -> Result<Option<OwnTable>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM own_tables WHERE id = ? AND institution_id = ? AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(institution_id)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => Ok(Some(own_table_of(self, &r).await?)),
            None => Ok(None),
        }
    }

    async fn own_tables(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<OwnTable>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM own_tables WHERE institution_id = ? AND deleted_at IS NULL \
             ORDER BY name",
        )
        .bind(institution_id)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.push(own_table_of(self, r).await?);
        }
        Ok(out)
    }

    async fn own_table_ids(
        &self,
        institution_id: &InstitutionId,
    ) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM own_tables WHERE institution_id = ?")
                .bind(institution_id)
                .fetch_all(self.pool())
                .await?,
        )
    }

    async fn set_sharing(
        &self,
        tx: &mut Tx,
        id: &str,
        mode: &str,
        with: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE own_tables SET sharing = ? WHERE id = ?")
            .bind(mode)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM own_table_shares WHERE table_id = ?")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        for other in with {
            sqlx::query("INSERT INTO own_table_shares (table_id, institution_id) VALUES (?, ?)")
                .bind(id)
                .bind(other)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    async fn set_own_columns(
        &self,
        tx: &mut Tx,
        id: &str,
        columns: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE own_tables SET columns = ? WHERE id = ?")
            .bind(columns)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn delete_own_table(&self, tx: &mut Tx, id: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE own_tables SET deleted_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM own_table_shares WHERE table_id = ?")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
