//! Releases from a job's result through the output gate (BRIEF P8): one function per
//! kind, each checking that the caller is one of the institution's own users, deciding
//! which own and shared tables its jobs see, and asking the gate. Every front door (the
//! JSON API, next the web pages) calls these.

use governance::identity::Caller;
use policies::access::Action;
use storage::ids::{InstitutionId, JobId, RequestId};
use workbench::gate::{
    self, AggregateFigures, AggregateRequest, EvaluationFigures, EvaluationRequest, GateError,
    Released, Sample,
};
use workbench::own_data::{OwnDataError, Visible};

use crate::{Platform, Refusal};

/// Why a release was not made.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The caller may not release from this institution's results.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The tables the institution's jobs see could not be decided.
    #[error(transparent)]
    OwnData(#[from] OwnDataError),
    /// The gate refused or failed.
    #[error(transparent)]
    Gate(#[from] GateError),
}

/// A release asked for: of job `job_id` of institution `institution_id`, by `caller`.
#[derive(Clone, Copy, Debug)]
pub struct Asked<'a> {
    /// Who asks.
    pub caller: &'a Caller,
    /// Whose result.
    pub institution_id: &'a InstitutionId,
    /// Which job's result.
    pub job_id: &'a JobId,
    /// The request, for the audit log.
    pub request_id: &'a RequestId,
}

impl Platform {
    /// The own and shared tables the institution's jobs see, once the caller is known
    /// to be one of its own users, who alone release from its results.
    async fn releaser(&self, asked: Asked<'_>) -> Result<Vec<Visible>, ReleaseError> {
        self.own_institution(
            asked.caller,
            asked.institution_id,
            Action::UseWorkspace,
            "release from its results",
        )?;
        Ok(self.visible_tables(asked.caller).await?)
    }

    /// A random sample of the job's result (`gate::sample`).
    pub async fn release_sample(&self, asked: Asked<'_>) -> Result<Sample, ReleaseError> {
        let tables = self.releaser(asked).await?;
        Ok(gate::sample(
            &self.store,
            &self.workspaces,
            &self.settings.gate,
            asked.institution_id,
            asked.job_id,
            &tables,
            &asked.caller.user_id,
            asked.request_id,
        )
        .await?)
    }

    /// Threshold-checked aggregates of the job's result (`gate::aggregate`).
    pub async fn release_aggregate(
        &self,
        asked: Asked<'_>,
        request: &AggregateRequest,
    ) -> Result<Released<AggregateFigures>, ReleaseError> {
        let tables = self.releaser(asked).await?;
        Ok(gate::aggregate(
            &self.store,
            &self.workspaces,
            &self.settings.gate,
            asked.institution_id,
            asked.job_id,
            request,
            &tables,
            &asked.caller.user_id,
            asked.request_id,
        )
        .await?)
    }

    /// A model's evaluation over the job's result (`gate::evaluate`).
    pub async fn release_evaluation(
        &self,
        asked: Asked<'_>,
        request: &EvaluationRequest,
    ) -> Result<Released<EvaluationFigures>, ReleaseError> {
        let tables = self.releaser(asked).await?;
        Ok(gate::evaluate(
            &self.store,
            &self.workspaces,
            &self.settings.gate,
            asked.institution_id,
            asked.job_id,
            request,
            &tables,
            &asked.caller.user_id,
            asked.request_id,
        )
        .await?)
    }

    /// The ledger of releases (P8), newest first, at most `limit`: an institution's own
    /// users see their institution's; administrators every institution's, or one's.
    pub async fn release_ledger(
        &self,
        caller: &Caller,
        institution_id: Option<&InstitutionId>,
        before: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<gate::LedgerEntry>, ReleaseError> {
        let institution_id = match (caller.role, institution_id) {
            // An institution's users read their own, whether or not they name it.
            (governance::identity::Role::Institution, asked) => {
                let own = asked
                    .cloned()
                    .or_else(|| caller.institution_id.clone())
                    .ok_or(Refusal::NotFound("institution"))?;
                self.institution(caller, &own, Action::UseWorkspace).await?;
                Some(own)
            }
            (_, Some(id)) => {
                self.institution(caller, id, Action::ReadInstitution)
                    .await?;
                Some(id.clone())
            }
            (_, None) => {
                self.authorize(
                    caller,
                    Action::ReadAuditLog,
                    &policies::access::Resource::Platform,
                )?;
                None
            }
        };
        Ok(gate::ledger(&self.store, institution_id.as_ref(), before, limit).await?)
    }

    /// Whether `caller` may trace leaks (administrators, who read the audit log).
    pub fn may_trace(&self, caller: &Caller) -> Result<(), ReleaseError> {
        Ok(self.authorize(
            caller,
            Action::ReadAuditLog,
            &policies::access::Resource::Platform,
        )?)
    }

    /// The sample releases leaked rows came from (`gate::trace`): `rows` as found (their
    /// cells as text, any columns in any order) and `row_hashes` (of result rows, as the
    /// gate computes them), for administrators.
    pub async fn trace_leak(
        &self,
        caller: &Caller,
        rows: &[Vec<String>],
        row_hashes: &[String],
    ) -> Result<Vec<gate::Traced>, ReleaseError> {
        self.may_trace(caller)?;
        Ok(gate::trace(&self.store, &self.settings.gate.secret, rows, row_hashes).await?)
    }
}
