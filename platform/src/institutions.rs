//! Institutions as administrators oversee them (BRIEF P7) and as every front door asks
//! for it: the list, one institution's record, suspension with its reason and
//! rectification deadline, reinstatement, termination with its deletion record, and the
//! progress reports overdue across institutions. Each checks the caller on the
//! institution as it is now; the state changes are `Platform::suspend_institution`,
//! `terminate_institution` and `governance::accounts::reinstate`.

use chrono::NaiveDate;
use governance::accounts::{self, AccountError, Institution, Quotas};
use governance::identity::{Caller, Role};
use governance::progress::{self, Evaluation, Measures, Overdue, ReportError};
use policies::access::{Action, Resource};
use storage::ids::{InstitutionId, JobId, RequestId};

use crate::{LifecycleError, Platform, Refusal};

/// Why a request about an institution was refused.
#[derive(Debug, thiserror::Error)]
pub enum InstitutionFailure {
    /// The caller may not do it, or may not see the institution.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The account's rules refused it (its state, a reason), or the database failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The change went through the account but its jobs could not be stopped.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// The progress reports could not be read.
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl Platform {
    /// The institutions after `after` (an id), at most `limit`, as (id, name, code,
    /// status) (administrators).
    pub async fn institutions(
        &self,
        caller: &Caller,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, String, String)>, InstitutionFailure> {
        self.authorize(caller, Action::ListInstitutions, &Resource::Platform)?;
        Ok(accounts::list(&self.store, after, limit).await?)
    }

    /// Institution `id`'s record: status, grants, quotas, lifecycle, deletion record.
    /// An institution's users read their own, even while it is suspended.
    pub async fn institution_record(
        &self,
        caller: &Caller,
        id: &InstitutionId,
    ) -> Result<Institution, InstitutionFailure> {
        let action = if caller.role == Role::Institution {
            Action::ReadOwnStatus
        } else {
            Action::ReadInstitution
        };
        self.institution(caller, id, action).await?;
        Ok(accounts::get(&self.store, id).await?)
    }

    /// Suspends institution `id` with its reason and rectification deadline: its
    /// sessions and keys stop at once, its jobs and its readers' are cancelled. The
    /// institution as it is now, and the jobs cancelled.
    pub async fn suspend(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        reason: &str,
        rectification_deadline: NaiveDate,
        request_id: &RequestId,
    ) -> Result<(Institution, Vec<JobId>), InstitutionFailure> {
        self.institution(caller, id, Action::SuspendInstitution)
            .await?;
        let cancelled = self
            .suspend_institution(
                id,
                reason,
                rectification_deadline,
                &caller.user_id,
                request_id,
            )
            .await?;
        Ok((accounts::get(&self.store, id).await?, cancelled))
    }

    /// Reinstates suspended institution `id`, with the reason.
    pub async fn reinstate(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        reason: &str,
        request_id: &RequestId,
    ) -> Result<Institution, InstitutionFailure> {
        self.institution(caller, id, Action::ReinstateInstitution)
            .await?;
        accounts::reinstate(&self.store, id, reason, &caller.user_id, request_id).await?;
        Ok(accounts::get(&self.store, id).await?)
    }

    /// Terminates institution `id`: its jobs cancelled, its workspace deleted with a
    /// record of every file, its account closed for good.
    pub async fn terminate(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        reason: &str,
        request_id: &RequestId,
    ) -> Result<(Institution, Vec<JobId>), InstitutionFailure> {
        self.institution(caller, id, Action::TerminateInstitution)
            .await?;
        let cancelled = self
            .terminate_institution(id, reason, &caller.user_id, request_id)
            .await?;
        Ok((accounts::get(&self.store, id).await?, cancelled))
    }

    /// Changes institution `id`'s quotas, as (name, new value), with the reason
    /// (administrators): each within the range `governance::accounts::QUOTA_RULES`
    /// allows, every one out of it named. The quotas now.
    pub async fn set_quotas(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        changes: &[(&str, i64)],
        reason: &str,
        request_id: &RequestId,
    ) -> Result<Quotas, InstitutionFailure> {
        self.institution(caller, id, Action::SetQuotas).await?;
        Ok(accounts::set_quotas(
            &self.store,
            id,
            changes,
            reason,
            &caller.user_id,
            request_id,
        )
        .await?)
    }

    /// What institution `id` did over `[start, end]` (days in China), as a re-evaluation
    /// would record it: requests, refusals, jobs, releases, reports (administrators).
    pub async fn measure_institution(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Measures, InstitutionFailure> {
        self.institution(caller, id, Action::EvaluateInstitution)
            .await?;
        // The measures include the requests counted since the last write.
        self.usage
            .flush(&self.store)
            .await
            .map_err(ReportError::from)?;
        Ok(progress::measure(&self.store, id, start, end, self.settings.reports).await?)
    }

    /// Records a re-evaluation of institution `id` (BRIEF P7) over `[start, end]`, its
    /// measures taken from usage, with a conclusion (`good`, `adequate`, `poor`) and a
    /// note (administrators).
    pub async fn evaluate_institution(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        (start, end): (NaiveDate, NaiveDate),
        conclusion: &str,
        note: &str,
        request_id: &RequestId,
    ) -> Result<Evaluation, InstitutionFailure> {
        self.institution(caller, id, Action::EvaluateInstitution)
            .await?;
        self.usage
            .flush(&self.store)
            .await
            .map_err(ReportError::from)?;
        Ok(progress::evaluate(
            &self.store,
            id,
            start,
            end,
            conclusion,
            note,
            self.settings.reports,
            &caller.user_id,
            request_id,
        )
        .await?)
    }

    /// Institution `id`'s re-evaluations (administrators).
    pub async fn institution_evaluations(
        &self,
        caller: &Caller,
        id: &InstitutionId,
    ) -> Result<Vec<Evaluation>, InstitutionFailure> {
        self.institution(caller, id, Action::ReadInstitution)
            .await?;
        Ok(progress::evaluations(&self.store, id).await?)
    }

    /// The progress reports overdue across institutions (administrators).
    pub async fn overdue_reports(
        &self,
        caller: &Caller,
    ) -> Result<Vec<Overdue>, InstitutionFailure> {
        self.authorize(caller, Action::ListInstitutions, &Resource::Platform)?;
        let today = crate::store::china_today();
        Ok(progress::overdue(&self.store, today, self.settings.reports).await?)
    }
}
