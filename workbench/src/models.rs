//! An institution's WebAssembly models (BRIEF P4, P5): uploaded through the API,
//! validated by the sandbox before anything is stored, kept in the workspace by
//! SHA-256, listed and deleted. Each active model is a SQL function in the
//! institution's jobs, under its manifest's name.

use std::path::Path;
use storage::ids::{InstitutionId, RequestId, UserId};

use sandbox::{Model, SandboxError};
use serde::Serialize;

use storage::audit::{self, Event};
use storage::store::{Store, StoreError, new_id, now, sha256_hex};

use crate::db::models::Models as _;

/// A model as listed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ModelInfo {
    /// Id.
    pub id: String,
    /// SQL function name (from the manifest).
    pub name: String,
    /// Version (from the manifest).
    pub version: String,
    /// What it computes.
    pub description: String,
    /// Arguments and result, as `name: type`.
    pub signature: String,
    /// SHA-256 of the module.
    pub sha256: String,
    /// Size of the module.
    pub size_bytes: i64,
    /// Who.
    pub uploaded_by: String,
    /// When.
    pub uploaded_at: String,
}

/// Why a model operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The sandbox refused the module.
    #[error("{0}")]
    Refused(String),
    /// A model of that name is active.
    #[error(
        "a model named '{0}' is already active; delete it first (DELETE /api/v1/institutions/{{id}}/models/{{model}}) or give the new one another name"
    )]
    Exists(String),
    /// No such model.
    #[error("no such model")]
    NotFound,
    /// The module could not be written.
    #[error("storing the model: {0}")]
    Files(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn signature(model: &Model) -> String {
    let m = model.manifest();
    let args: Vec<String> = m
        .inputs
        .iter()
        .map(|c| format!("{}: {:?}", c.name, c.column_type))
        .collect();
    format!("{}({}) -> {:?}", m.name, args.join(", "), m.output_type())
}

/// Validates `bytes` with the sandbox, then stores the module under the workspace and
/// records it; audited.
pub async fn upload(
    store: &Store,
    sandbox: &sandbox::Sandbox,
    workspace: &Path,
    institution_id: &InstitutionId,
    user_id: &UserId,
    bytes: &[u8],
    request_id: &RequestId,
) -> Result<ModelInfo, ModelError> {
    let model = sandbox.load(bytes).map_err(|e| match e {
        SandboxError::Invalid(reason) => ModelError::Refused(format!("model refused: {reason}")),
        other => {
            tracing::error!("loading an uploaded model: {other}");
            ModelError::Refused(
                "the model could not be compiled; check it with `creditpool model check`".into(),
            )
        }
    })?;
    let manifest = model.manifest();
    let sha256 = sha256_hex(bytes);
    let dir = workspace.join("models");
    std::fs::create_dir_all(&dir).map_err(|e| ModelError::Files(e.to_string()))?;
    let path = dir.join(format!("{sha256}.wasm"));
    let info = ModelInfo {
        id: new_id(),
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        description: manifest.description.clone(),
        signature: signature(&model),
        sha256,
        size_bytes: bytes.len() as i64,
        uploaded_by: user_id.into(),
        uploaded_at: now(),
    };
    let mut tx = store.write().await?;
    if store
        .model_named(&mut tx, institution_id, &info.name)
        .await?
    {
        return Err(ModelError::Exists(info.name));
    }
    // Another active model may have the same bytes, and so the same file.
    let existed = path.exists();
    let recorded = async {
        // Written beside and renamed into place, so that a crash never leaves a file
        // half-written (issue 17); recorded in the same transaction as the check.
        let partial = dir.join(format!(".{}.wasm.partial", info.sha256));
        std::fs::write(&partial, bytes)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&partial);
                ModelError::Files(e.to_string())
            })?;
        storage::crash::point("model.written");
        store
            .insert_model(&mut tx, institution_id, &info, &path.display().to_string())
            .await?;
        audit::append(
            &mut tx,
            Event {
                actor: user_id,
                action: "model.uploaded",
                subject: &info.id,
                detail: serde_json::json!({
                    "institution_id": institution_id,
                    "name": info.name,
                    "version": info.version,
                    "sha256": info.sha256,
                    "size_bytes": info.size_bytes,
                }),
                request_id,
            },
        )
        .await?;
        tx.commit().await?;
        Ok::<_, ModelError>(())
    }
    .await;
    if let Err(e) = recorded {
        if !existed {
            let _ = std::fs::remove_file(&path);
        }
        return Err(e);
    }
    Ok(info)
}

/// The institution's active models, by name.
pub async fn list(
    store: &Store,
    institution_id: &InstitutionId,
) -> Result<Vec<ModelInfo>, ModelError> {
    Ok(store.models(institution_id).await?)
}

/// The module files of the institution's active models.
pub async fn active_paths(
    store: &Store,
    institution_id: &InstitutionId,
) -> Result<Vec<String>, StoreError> {
    store.model_paths(institution_id).await
}

/// Deletes a model: it stops being a function in new jobs; its file goes when no other
/// active model of the institution has the same bytes. Audited.
pub async fn delete(
    store: &Store,
    institution_id: &InstitutionId,
    id: &str,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<(), ModelError> {
    let mut tx = store.write().await?;
    let (name, sha256, path) = store
        .delete_model(&mut tx, institution_id, id, &now())
        .await?
        .ok_or(ModelError::NotFound)?;
    let still_used = store
        .models_with_bytes(&mut tx, institution_id, &sha256)
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "model.deleted",
            subject: id,
            detail: serde_json::json!({ "institution_id": institution_id, "name": name, "sha256": sha256 }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    if still_used == 0 {
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}
