//! An institution's own data and models (BRIEF P5) as every front door asks for them:
//! an upload streamed to the workspace under the smaller of the upload cap and the
//! storage left, then read by a confined worker into a table with its validation
//! report; sharing (a reader that loses a table stops reading it at once), sensitivity
//! tags, deletion; models checked by the sandbox on upload, listed and deleted. Only the
//! institution's own users manage its data.

use std::io::Write;
use std::path::PathBuf;

use futures::{Stream, StreamExt};
use governance::accounts;
use governance::identity::Caller;
use policies::access::Action;
use storage::ids::{InstitutionId, RequestId};
use workbench::models::{self, ModelError, ModelInfo};
use workbench::own_data::{self, ImportReport, OwnDataError, OwnTable, Upload};
use workbench::workspace::WorkspaceError;

use crate::store::StoreError;
use crate::{Platform, Refusal};

/// Why an own table or a model was not taken, changed or listed.
#[derive(Debug, thiserror::Error)]
pub enum OwnFailure {
    /// The caller may not manage this institution's data.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The institution has no open workspace.
    #[error("the institution has no open workspace")]
    NoWorkspace,
    /// The upload is past the platform's cap on one upload.
    #[error("an upload may be at most {} MiB", .max_bytes >> 20)]
    TooLarge {
        /// The cap.
        max_bytes: u64,
    },
    /// The upload does not fit in the storage left.
    #[error(
        "quota storage_bytes: the upload does not fit in the {left} bytes left of your workspace's {limit} bytes; delete tables or results first"
    )]
    Storage {
        /// Bytes left.
        left: u64,
        /// The quota.
        limit: u64,
    },
    /// The upload stopped before its end.
    #[error("the upload was interrupted")]
    Interrupted,
    /// The table was refused (its name, format, content) or is unknown.
    #[error(transparent)]
    OwnData(#[from] OwnDataError),
    /// The model was refused or is unknown.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Cancelling the jobs that read a table no longer theirs failed.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// A file could not be written.
    #[error("writing the upload: {0}")]
    Files(String),
}

impl From<StoreError> for OwnFailure {
    fn from(e: StoreError) -> Self {
        OwnFailure::OwnData(OwnDataError::Store(e))
    }
}

impl OwnFailure {
    /// What is wrong, in Chinese, for the pages.
    pub fn zh(&self) -> Option<String> {
        Some(match self {
            OwnFailure::NoWorkspace => "本机构没有开放的工作区。".to_owned(),
            OwnFailure::TooLarge { max_bytes } => {
                format!("单个文件最大 {} MiB，请拆分后分次上传。", max_bytes >> 20)
            }
            OwnFailure::Storage { left, limit } => format!(
                "存储配额不足：工作区共 {limit} 字节，剩余 {left} 字节，放不下这个文件。请先删除不用的数据表或作业结果。"
            ),
            OwnFailure::Interrupted => "上传中断，未保存任何内容，请重新上传。".to_owned(),
            _ => return None,
        })
    }
}

impl Platform {
    /// The workspace folder of institution `id`, for one of its own users: only they
    /// manage its data.
    pub async fn own_workspace(
        &self,
        caller: &Caller,
        id: &InstitutionId,
    ) -> Result<PathBuf, OwnFailure> {
        self.own_institution(caller, id, Action::UseWorkspace, "manage its data")?;
        accounts::workspace_path(&self.store, id)
            .await?
            .ok_or(OwnFailure::NoWorkspace)
    }

    /// Takes the file `body` streams as own table `upload.name` of institution `id`:
    /// written to the workspace under the smaller of the upload cap and the storage
    /// left (past it, the partial file is removed and nothing remains), then read by a
    /// confined worker. The table and its validation report.
    pub async fn import_own_table<B, E>(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        upload: &Upload<'_>,
        body: impl Stream<Item = Result<B, E>>,
        request_id: &RequestId,
    ) -> Result<(OwnTable, ImportReport), OwnFailure>
    where
        B: AsRef<[u8]>,
    {
        let workspace = self.own_workspace(caller, id).await?;
        own_data::check_upload(upload)?;
        let storage = workbench::quotas::storage(&self.store, id, &workspace).await?;
        let left = storage.left();
        let cap = left.min(own_data::MAX_UPLOAD_BYTES);
        let dir = workspace.join("uploads");
        std::fs::create_dir_all(&dir).map_err(|e| OwnFailure::Files(e.to_string()))?;
        let file = dir.join(format!("{}.{}", crate::store::new_id(), upload.format));
        let written = async {
            let mut out =
                std::fs::File::create(&file).map_err(|e| OwnFailure::Files(e.to_string()))?;
            let mut size = 0u64;
            let mut body = std::pin::pin!(body);
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|_| OwnFailure::Interrupted)?;
                let chunk = chunk.as_ref();
                size += chunk.len() as u64;
                if size > cap {
                    return Err(if cap < own_data::MAX_UPLOAD_BYTES {
                        OwnFailure::Storage {
                            left,
                            limit: storage.limit,
                        }
                    } else {
                        OwnFailure::TooLarge {
                            max_bytes: own_data::MAX_UPLOAD_BYTES,
                        }
                    });
                }
                out.write_all(chunk)
                    .map_err(|e| OwnFailure::Files(e.to_string()))?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = written {
            let _ = std::fs::remove_file(&file);
            return Err(e);
        }
        Ok(own_data::import(
            &self.store,
            &self.workspaces,
            &workspace,
            id,
            &caller.user_id,
            upload,
            &file,
            request_id,
        )
        .await?)
    }

    /// Institution `id`'s own tables, for its own users.
    pub async fn own_tables(
        &self,
        caller: &Caller,
        id: &InstitutionId,
    ) -> Result<Vec<OwnTable>, OwnFailure> {
        self.own_workspace(caller, id).await?;
        Ok(own_data::list(&self.store, id).await?)
    }

    /// Shares own table `table` as `mode` (`private`, `institutions` with
    /// `institutions`, `pool`); a reader that lost it stops reading it at once.
    pub async fn share_own_table(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        table: &str,
        mode: &str,
        institutions: &[String],
        request_id: &RequestId,
    ) -> Result<OwnTable, OwnFailure> {
        self.own_workspace(caller, id).await?;
        let shared = own_data::share(
            &self.store,
            id,
            table,
            mode,
            institutions,
            &caller.user_id,
            request_id,
        )
        .await?;
        self.workspaces
            .cancel_revoked_readers(&self.access, id, &caller.user_id, request_id)
            .await?;
        Ok(shared)
    }

    /// Tags columns of own table `table` `public`, `masked` or `secret`.
    pub async fn tag_own_columns(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        table: &str,
        tags: &std::collections::BTreeMap<String, String>,
        request_id: &RequestId,
    ) -> Result<OwnTable, OwnFailure> {
        self.own_workspace(caller, id).await?;
        Ok(
            own_data::set_sensitivity(&self.store, id, table, tags, &caller.user_id, request_id)
                .await?,
        )
    }

    /// Deletes own table `table`; a job reading it, the owner's or a reader's, stops.
    pub async fn delete_own_table(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        table: &str,
        request_id: &RequestId,
    ) -> Result<(), OwnFailure> {
        self.own_workspace(caller, id).await?;
        own_data::delete(&self.store, id, table, &caller.user_id, request_id).await?;
        self.workspaces
            .cancel_revoked_readers(&self.access, id, &caller.user_id, request_id)
            .await?;
        Ok(())
    }

    /// Takes a model for institution `id`: the binary module, or its text format when
    /// `text`, checked by the sandbox (its exports and manifest) before it is kept.
    pub async fn upload_model(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        module: &[u8],
        text: bool,
        request_id: &RequestId,
    ) -> Result<ModelInfo, OwnFailure> {
        self.institution(caller, id, Action::UseWorkspace).await?;
        let assembled;
        let module = if text {
            assembled =
                sandbox::assemble(module).map_err(|e| ModelError::Refused(e.to_string()))?;
            assembled.as_slice()
        } else {
            module
        };
        let workspace = accounts::workspace_path(&self.store, id)
            .await?
            .ok_or(OwnFailure::NoWorkspace)?;
        let sandbox = self
            .workspaces
            .sandbox()
            .map_err(|e| OwnFailure::Files(e.to_string()))?;
        Ok(models::upload(
            &self.store,
            &sandbox,
            &workspace,
            id,
            &caller.user_id,
            module,
            request_id,
        )
        .await?)
    }

    /// Institution `id`'s models.
    pub async fn models(
        &self,
        caller: &Caller,
        id: &InstitutionId,
    ) -> Result<Vec<ModelInfo>, OwnFailure> {
        self.institution(caller, id, crate::jobs::read_action(caller))
            .await?;
        Ok(models::list(&self.store, id).await?)
    }

    /// Deletes model `model` of institution `id`.
    pub async fn delete_model(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        model: &str,
        request_id: &RequestId,
    ) -> Result<(), OwnFailure> {
        self.institution(caller, id, Action::UseWorkspace).await?;
        Ok(models::delete(&self.store, id, model, &caller.user_id, request_id).await?)
    }
}
