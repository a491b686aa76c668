//! What an institution has used of its quotas (BRIEF P5, P10), counted in one place:
//! the job submission's checks ([`job_use_in`], inside its write transaction) and the
//! usage view ([`usage`]) read the same figures the same way. The limits themselves
//! are the account's (`accounts::Quotas`); samples and statistical releases are counted
//! by the gate, which enforces them.

use storage::ids::InstitutionId;
use storage::store::{Store, StoreError, Tx, china_day_starts, china_today};

use crate::db::jobs::Jobs as _;

use governance::accounts::{self, Quotas};

/// An institution's jobs as the job quotas count them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobUse {
    /// Jobs queued or running.
    pub active: i64,
    /// Wall time of its jobs that ended today (in China), in ms.
    pub ran_ms: i64,
    /// Jobs that failed today in a way that can depend on the data
    /// (`failed_jobs_per_day`).
    pub failed: i64,
}

/// An institution's jobs as the quotas count them now, read in `tx` (the submission
/// reads them inside the transaction that inserts the job, so that two submissions
/// cannot both pass a limit).
pub async fn job_use_in(
    store: &Store,
    tx: &mut Tx,
    institution_id: &InstitutionId,
) -> Result<JobUse, StoreError> {
    store
        .job_use_in(tx, institution_id, &china_day_starts(china_today()))
        .await
}

/// What an institution has used of every quota, and its limits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Its limits.
    pub quotas: Quotas,
    /// Its jobs.
    pub jobs: JobUse,
    /// Bytes its workspace holds.
    pub storage_bytes: u64,
    /// Bytes held for the results of its queued and running jobs.
    pub reserved_bytes: u64,
    /// Rows released as samples in the last 24 hours.
    pub sampled_rows: i64,
    /// Cells released as samples in the last 24 hours.
    pub sampled_cells: i64,
    /// When the oldest sample of the last 24 hours stops counting.
    pub sampled_frees_at: String,
    /// Aggregates and evaluations in the last 24 hours.
    pub statistical_releases: i64,
}

/// What institution `institution_id` has used of every quota.
pub async fn usage(store: &Store, institution_id: &InstitutionId) -> Result<Usage, StoreError> {
    let quotas = accounts::quotas(store, institution_id)
        .await?
        .unwrap_or_default();
    let jobs = store
        .job_use(institution_id, &china_day_starts(china_today()))
        .await?;
    let (sampled_rows, sampled_cells, sampled_frees_at) =
        crate::gate::released_today(store, institution_id).await?;
    let statistical_releases = crate::gate::statistical_today(store, institution_id).await?;
    let (storage_bytes, reserved_bytes) =
        match accounts::workspace_path(store, institution_id).await? {
            Some(path) => (
                crate::workspace::folder_bytes(&path),
                crate::workspace::reserved_bytes(store, &path, institution_id).await?,
            ),
            None => (0, 0),
        };
    Ok(Usage {
        quotas,
        jobs,
        storage_bytes,
        reserved_bytes,
        sampled_rows,
        sampled_cells,
        sampled_frees_at,
        statistical_releases,
    })
}

/// An institution's workspace storage as its quota counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Storage {
    /// Its limit (`storage_bytes`).
    pub limit: u64,
    /// What the folder holds.
    pub used: u64,
    /// What its queued and running jobs have reserved for their results.
    pub reserved: u64,
}

impl Storage {
    /// What is left: the limit less what is used and reserved.
    pub fn left(&self) -> u64 {
        self.limit
            .saturating_sub(self.used)
            .saturating_sub(self.reserved)
    }
}

/// The storage of institution `institution_id`, whose workspace is at `root`.
pub async fn storage(
    store: &Store,
    institution_id: &InstitutionId,
    root: &std::path::Path,
) -> Result<Storage, StoreError> {
    let quotas = accounts::quotas(store, institution_id)
        .await?
        .unwrap_or_default();
    Ok(Storage {
        limit: quotas.storage_bytes.max(0) as u64,
        used: crate::workspace::folder_bytes(root),
        reserved: crate::workspace::reserved_bytes(store, root, institution_id).await?,
    })
}
