//! The SQL of institutions' uploaded models (`crate::models`).

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use storage::ids::InstitutionId;

use storage::store::{Store, StoreError, Tx};

use crate::models::ModelInfo;

/// A model being deleted: `(name, sha256, path)`.
pub(crate) type Deleting = (String, String, String);

/// Where models are kept: what a backend implements.
pub(crate) trait Models {
    /// Moves every model's recorded file under `root` (`root/<institution
    /// id>/models/<file>`: a restore elsewhere); how many.
    async fn relocate_models(&self, tx: &mut Tx, root: &str) -> Result<u64, StoreError>;
    /// The files of every institution's active models.
    async fn live_model_paths(&self) -> Result<Vec<String>, StoreError>;
    /// Whether an institution has an active model of this name, read in `tx`.
    async fn model_named(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        name: &str,
    ) -> Result<bool, StoreError>;
    /// Stores an uploaded model kept at `path`.
    async fn insert_model(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        info: &ModelInfo,
        path: &str,
    ) -> Result<(), StoreError>;
    /// An institution's active models, by name.
    async fn models(&self, institution_id: &InstitutionId) -> Result<Vec<ModelInfo>, StoreError>;
    /// The module files of an institution's active models, by name.
    async fn model_paths(&self, institution_id: &InstitutionId) -> Result<Vec<String>, StoreError>;
    /// Marks an active model of an institution deleted at `at`; what it was, if it was.
    async fn delete_model(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        id: &str,
        at: &str,
    ) -> Result<Option<Deleting>, StoreError>;
    /// How many active models of an institution have these bytes, read in `tx`.
    async fn models_with_bytes(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        sha256: &str,
    ) -> Result<i64, StoreError>;
}

fn model(r: &SqliteRow) -> ModelInfo {
    let manifest: serde_json::Value =
        serde_json::from_str(&r.get::<String, _>("manifest")).unwrap_or_default();
    ModelInfo {
        id: r.get("id"),
        name: r.get("name"),
        version: r.get("version"),
        description: manifest["description"].as_str().unwrap_or_default().into(),
        signature: manifest["signature"].as_str().unwrap_or_default().into(),
        sha256: r.get("sha256"),
        size_bytes: r.get("size_bytes"),
        uploaded_by: r.get("uploaded_by"),
        uploaded_at: r.get("uploaded_at"),
    }
}

impl Models for Store {
    async fn relocate_models(&self, tx: &mut Tx, root: &str) -> Result<u64, StoreError> {
        super::relocate_rows(tx, super::relocation!("models"), root).await
    }

    async fn live_model_paths(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT path FROM models WHERE deleted_at IS NULL")
                .fetch_all(self.pool())
                .await?,
        )
    }

    async fn model_named(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        name: &str,
    ) -> Result<bool, StoreError> {
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT id FROM models WHERE institution_id = ? AND name = ? AND deleted_at IS NULL",
        )
        .bind(institution_id)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(taken.is_some())
    }

    async fn insert_model(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        info: &ModelInfo,
        path: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO models (id, institution_id, name, version, sha256, size_bytes, \
             manifest, path, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&info.id)
        .bind(institution_id)
        .bind(&info.name)
        .bind(&info.version)
        .bind(&info.sha256)
        .bind(info.size_bytes)
        .bind(
            serde_json::json!({
                "description": info.description,
                "signature": info.signature,
            })
            .to_string(),
        )
        .bind(path)
        .bind(&info.uploaded_by)
        .bind(&info.uploaded_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn models(&self, institution_id: &InstitutionId) -> Result<Vec<ModelInfo>, StoreError> {
        Ok(sqlx::query(
            "SELECT * FROM models WHERE institution_id = ? AND deleted_at IS NULL ORDER BY name",
        )
        .bind(institution_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(model)
        .collect())
    }

    async fn model_paths(&self, institution_id: &InstitutionId) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT path FROM models WHERE institution_id = ? AND deleted_at IS NULL \
             ORDER BY name",
        )
        .bind(institution_id)
        .fetch_all(self.pool())
        .await?)
    }

    async fn delete_model(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        id: &str,
        at: &str,
    ) -> Result<Option<Deleting>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT name, sha256, path FROM models WHERE id = ? AND institution_id = ? \
             AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(institution_id)
        .fetch_optional(&mut **tx)
        .await?
        else {
            return Ok(None);
        };
        sqlx::query("UPDATE models SET deleted_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(Some((row.get(0), row.get(1), row.get(2))))
    }

    async fn models_with_bytes(
        &self,
        tx: &mut Tx,
        institution_id: &InstitutionId,
        sha256: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM models WHERE institution_id = ? AND sha256 = ? \
             AND deleted_at IS NULL",
        )
        .bind(institution_id)
        .bind(sha256)
        .fetch_one(&mut **tx)
        .await?)
    }
}
