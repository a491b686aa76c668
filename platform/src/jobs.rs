//! Jobs in an institution's workspace (BRIEF P4, P5): submission as every front door
//! asks for it. The caller is authorized on the institution, the own and shared tables
//! its jobs may read are decided by the access rules, and the workbench checks the
//! quotas and queues the job.

use governance::identity::Caller;
use policies::access::Action;
use storage::ids::{InstitutionId, RequestId};
use workbench::own_data::{self, OwnDataError, Visible};
use workbench::workspace::{Job, WorkspaceError};

use crate::{Platform, Refusal, principal};

/// Why a job was not submitted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The caller may not use this institution's workspace.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The tables the institution's jobs see could not be decided.
    #[error(transparent)]
    OwnData(#[from] OwnDataError),
    /// The workspace refused it (its SQL, a quota) or failed.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
}

impl Platform {
    /// The own and shared tables the caller's institution's jobs see, by the access
    /// rules: what a job reads and what a release is judged against.
    pub async fn visible_tables(&self, caller: &Caller) -> Result<Vec<Visible>, OwnDataError> {
        own_data::visible(&self.store, &self.access, &principal(caller)).await
    }

    /// Queues `sql` in institution `institution_id`'s workspace for `caller`.
    pub async fn submit_job(
        &self,
        caller: &Caller,
        institution_id: &InstitutionId,
        sql: &str,
        request_id: &RequestId,
    ) -> Result<Job, SubmitError> {
        self.institution(caller, institution_id, Action::UseWorkspace)
            .await?;
        let own = self.visible_tables(caller).await?;
        Ok(self
            .workspaces
            .submit(institution_id, &caller.user_id, sql, own, request_id)
            .await?)
    }
}
