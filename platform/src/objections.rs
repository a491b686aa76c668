//! Objections as every front door files and handles them (BRIEF Q8, standard 6.4):
//! the filing's completeness check, the record located, the applicant matched to the
//! record's subject, and who files deciding whether the service provider's check is
//! still to come; the provider accepting (受理) or returning (退回) a received one; the
//! access check on one objection. The JSON API calls these, and the web pages will.

use desk::objections::{self, Applicant, Filed, Filer, Filing, Objection, ObjectionError, Outcome};
use governance::identity::{Caller, Role};
use policies::access::{Action, Resource};
use storage::ids::RequestId;
use storage::said::Said;
use storage::states::ObjectionStatus;

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

impl ObjectionFailure {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            ObjectionFailure::Objection(e) => e.zh(),
            ObjectionFailure::Refused(e) => e.zh(),
        }
    }
}

/// The objections a caller's ledger holds.
#[derive(Clone, Debug)]
pub struct Ledger {
    /// The source unit whose queue this is; `None` for the whole ledger.
    pub source_unit: Option<String>,
    /// The objections, newest first.
    pub items: Vec<Objection>,
}

/// The fewest and most characters of a resolution (it is sent to the applicant).
pub const RESOLUTION_CHARS: std::ops::RangeInclusive<usize> = 4..=2000;

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

    /// The objection ledger (6.4.5) as `caller` may see it: a source unit's users their
    /// unit's queue (only objections dispatched to it), the service's administrators the
    /// whole ledger with the applicants' phone numbers whole (they answer them);
    /// optionally only objections in one `status`, or only the overdue ones.
    pub async fn objection_ledger(
        &self,
        caller: &Caller,
        status: Option<&str>,
        overdue: bool,
    ) -> Result<Ledger, Refusal> {
        if let Some(s) = status
            && ObjectionStatus::parse(s).is_none()
        {
            return Err(Refusal::Invalid {
                field: "status".into(),
                message: Said::new(
                    "status is one of received, open, corrected, withdrawn, upheld, returned",
                    "状态是待受理、办理中、已更正、已撤销、已维持或已退回之一。",
                ),
            });
        }
        let source_unit = if caller.role == Role::SourceUnit {
            // A source unit's user without a unit sees no one's queue, not everyone's.
            Some(caller.organisation.clone().ok_or(Refusal::Forbidden {
                code: "forbidden",
                message:
                    "your account names no source unit: ask the administrators to set it".into(),
            })?)
        } else {
            self.authorize(caller, Action::ReadObjectionLedger, &Resource::Platform)?;
            None
        };
        let mut items =
            objections::ledger(&self.store, source_unit.as_deref(), status, overdue).await?;
        if caller.role == Role::Administrator {
            for item in &mut items {
                item.phone = item.phone_as_given.clone();
            }
        }
        Ok(Ledger { source_unit, items })
    }

    /// The record's source unit resolves an objection: corrected, withdrawn (gone from
    /// disclosure at once) or upheld (the mark lifted), saying what was found and done
    /// (sent to the applicant). Audited.
    pub async fn resolve_objection(
        &self,
        caller: &Caller,
        id: &str,
        outcome: Outcome,
        resolution: &str,
        request_id: &RequestId,
    ) -> Result<Objection, ObjectionFailure> {
        self.objection(caller, id, Action::ResolveObjection).await?;
        let text = resolution.trim();
        if !RESOLUTION_CHARS.contains(&text.chars().count()) {
            return Err(Refusal::Invalid {
                field: "resolution".into(),
                message: Said::new(
                    "say what was found and done, in 4 to 2000 characters (it is sent to the applicant)",
                    "请写明核实了什么、如何处理，4 到 2000 个字（处理意见告知申请人）。",
                ),
            }
            .into());
        }
        let resolved =
            objections::resolve(&self.store, id, outcome, text, &caller.user_id, request_id).await;
        // Even a failed resolution may have raced with another: the marks are re-read.
        self.marks.invalidate();
        Ok(resolved?)
    }

    /// The record `objection` is about, as disclosed today (masked as everywhere); `None`
    /// once it is no longer disclosed (withdrawn, or past its disclosure period).
    pub async fn objected_record(
        &self,
        objection: &Objection,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, Refusal> {
        let (_, sections) = self.disclosed_today(&objection.subject_id).await?;
        Ok(sections
            .into_iter()
            .filter(|s| s.table == objection.record_table)
            .flat_map(|s| s.records)
            .find(|r| {
                r.get("record_id").and_then(serde_json::Value::as_str)
                    == Some(objection.record_id.as_str())
            }))
    }
}
