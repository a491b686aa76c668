//! Objections as every front door files and handles them (BRIEF Q8, standard 6.4):
//! the filing's completeness check, the record located, the applicant matched to the
//! record's subject, and who files deciding whether the service provider's check is
//! still to come; the provider accepting (受理) or returning (退回) a received one; the
//! access check on one objection. The JSON API calls these, and the web pages will.

use desk::objections::{self, Applicant, Filed, Filer, Filing, Objection, ObjectionError};
use governance::identity::{Caller, Role};
use policies::access::{Action, Resource};
use storage::ids::RequestId;

use crate::{Platform, Refusal};

/// Why an objection was not filed, accepted or returned.
#[derive(Debug, thiserror::Error)]
pub enum ObjectionFailure {
    /// The objection's own rules refused it (a field, the record, its state).
    #[error(transparent)]
    Objection(#[from] ObjectionError),
    /// The caller may not do this.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// What the provider decides about a received objection.
#[derive(Clone, Debug)]
pub enum Acceptance {
    /// Accepted (受理): marked and dispatched.
    Accept,
    /// Returned (退回), with the reason the applicant reads.
    Return(String),
}

impl Platform {
    /// Files an objection. Every field at fault is named (6.4.2); the record must exist
    /// and the applicant's code and registered name must be its subject's. Filed by
    /// anyone without signing in (`caller` `None`), it is received and marks nothing
    /// until the provider accepts it. Filed signed in, by a person objecting to their
    /// own record or by staff recording an objection received by letter, it is accepted
    /// as filed; any other signed-in caller is refused.
    pub async fn file_objection(
        &self,
        filing: &Filing,
        caller: Option<&Caller>,
        request_id: &RequestId,
    ) -> Result<Filed, ObjectionFailure> {
        let applicant = objections::check(filing)?;
        let record_id = filing.record_id.trim();
        let located = self
            .records
            .locate(record_id)
            .ok_or_else(|| ObjectionError::NoRecord(record_id.to_owned()))?;
        let same =
            |a: &str, b: &str| ::public::search::normalise(a) == ::public::search::normalise(b);
        // (subject id, registered name) of the applicant, as the registers know them.
        let registered = match &applicant {
            Applicant::Organisation(code) => self
                .search
                .by_uscc(code)
                .map(|e| (e.subject_id.clone(), e.name.clone())),
            Applicant::Person(id_number) => self
                .records
                .person(None, id_number)
                .map(|p| (p.subject_id, p.name)),
        };
        match registered {
            Some((subject, name)) if subject == located.subject_id => {
                if !same(&name, &filing.applicant_name) {
                    return Err(ObjectionError::NotTheSubject(
                        record_id.to_owned(),
                        "applicant_name",
                    )
                    .into());
                }
            }
            _ => {
                return Err(
                    ObjectionError::NotTheSubject(record_id.to_owned(), "applicant_code").into(),
                );
            }
        }
        let filer = match caller {
            None => Filer::Public,
            Some(caller) if caller.role == Role::Person => {
                let own = Resource::PersonRecord {
                    subject: located.subject_id.clone(),
                    readers: Vec::new(),
                    report_readers: Vec::new(),
                };
                self.authorize(caller, Action::ObjectAsSubject, &own)
                    .map_err(|_| Refusal::Forbidden {
                        code: "forbidden",
                        message: "signed in, you object only to your own records; to object to another subject's record as its representative, file it without signing in (POST /api/v1/public/objections) and the service provider checks it".into(),
                    })?;
                Filer::Subject(&caller.user_id)
            }
            Some(caller) if caller.role == Role::Institution => {
                // An institution's users represent the enterprise it is: its code and
                // its authorisation were checked when its application was approved. For
                // that enterprise's own records, while the institution is in good
                // standing, the provider's check is done.
                let institution = match &caller.institution_id {
                    Some(id) => governance::accounts::get(&self.store, id).await.ok(),
                    None => None,
                };
                let represented = institution.filter(|i| {
                    i.status == storage::states::InstitutionStatus::Active
                        && matches!(&applicant, Applicant::Organisation(code)
                            if policies::Uscc::canonical(code) == policies::Uscc::canonical(&i.uscc))
                });
                let Some(institution) = represented else {
                    return Err(Refusal::Forbidden {
                        code: "forbidden",
                        message: "signed in as an institution, you object at once only to the records of the enterprise your institution is, while it is active; to object to another subject's record as its representative, file it without signing in (POST /api/v1/public/objections) and the service provider checks it".into(),
                    }
                    .into());
                };
                tracing::info!(institution = %institution.id, "objection filed by the enterprise's representative");
                Filer::Subject(&caller.user_id)
            }
            Some(caller) => {
                self.authorize(caller, Action::RecordObjection, &Resource::Platform)?;
                Filer::Staff(&caller.user_id)
            }
        };
        let filed = objections::file(
            &self.store,
            &self.calendars,
            filing,
            &located,
            filer,
            storage::store::china_today(),
            request_id,
        )
        .await?;
        if matches!(filer, Filer::Subject(_) | Filer::Staff(_)) {
            self.marks.invalidate();
        }
        Ok(filed)
    }

    /// One objection, if `caller` may do `action` on it; another source unit's
    /// objections are, to its users, not there.
    pub async fn objection(
        &self,
        caller: &Caller,
        id: &str,
        action: Action,
    ) -> Result<Objection, Refusal> {
        let found = objections::get(&self.store, id)
            .await?
            .ok_or(Refusal::NotFound("objection"))?;
        let resource = Resource::Objection {
            id: found.id.clone(),
            source_unit: found.source_unit.clone(),
            dispatched: found.accepted_at.is_some(),
        };
        if self
            .authorize(caller, Action::ReadObjection, &resource)
            .is_err()
        {
            return Err(Refusal::NotFound("objection"));
        }
        self.authorize(caller, action, &resource)?;
        Ok(found)
    }

    /// The provider's decision on a received objection (6.4.2): accepted, it marks its
    /// record and goes to its source unit, due 5 working days from today; returned, the
    /// applicant reads why. Audited.
    pub async fn accept_objection(
        &self,
        caller: &Caller,
        id: &str,
        decision: &Acceptance,
        request_id: &RequestId,
    ) -> Result<Objection, ObjectionFailure> {
        self.objection(caller, id, Action::AcceptObjection).await?;
        let decided = match decision {
            Acceptance::Accept => {
                let accepted = objections::accept(
                    &self.store,
                    &self.calendars,
                    id,
                    &caller.user_id,
                    storage::store::china_today(),
                    request_id,
                )
                .await;
                // Re-read even after a failure that may have raced with another change.
                self.marks.invalidate();
                accepted?
            }
            Acceptance::Return(reason) => {
                objections::send_back(&self.store, id, reason, &caller.user_id, request_id).await?
            }
        };
        Ok(decided)
    }
}
