//! Natural persons as every front door serves them (BRIEF Q4): registering against the
//! population register, a person's own record and report, and the authorisations —
//! scoped, expiring, revocable — by which others may see them. Whether a caller may see
//! a person's record is one Cedar rule over the person's live authorisations; every look
//! at another person's record is audited with the authorisation it used. The JSON API
//! and the web pages call these.

use chrono::NaiveDate;
use desk::authorisations::{self, Authorisation, AuthorisationError, Granted, NewAuthorisation};
use governance::identity::{self, Caller, IdentityError};
use policies::access::{Action, Resource};
use storage::ids::{RequestId, UserId};
use storage::said::Said;

use ::public::records::{Person, Section};

use crate::{Platform, Refusal, principal};

/// Why a person's request was refused.
#[derive(Debug, thiserror::Error)]
pub enum PersonFailure {
    /// A field is not acceptable.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: Said,
    },
    /// The name and ID number match no one in the population register.
    #[error("this name and ID number do not match a person in the population register")]
    NotInRegister,
    /// The caller may not see this person's record (or there is no such person: the
    /// two are not told apart, so that who is registered is not revealed).
    #[error(
        "no record of that person is visible to you: a person's record needs that person's live authorisation"
    )]
    NotVisible,
    /// The login could not be made.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The authorisation's own rules refused it.
    #[error(transparent)]
    Authorisation(#[from] AuthorisationError),
    /// The caller may not do this.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl PersonFailure {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            PersonFailure::Invalid { message, .. } => message.zh.clone(),
            PersonFailure::NotInRegister => {
                "姓名与公民身份号码和人口信息库的登记不符，请核对后重新填写。".into()
            }
            PersonFailure::NotVisible => "您无权查看这个人的信用记录：须有本人的有效授权。".into(),
            PersonFailure::Identity(e) => e.zh(),
            PersonFailure::Authorisation(e) => e.zh(),
            PersonFailure::Refused(e) => e.zh(),
        }
    }
}

impl From<storage::store::StoreError> for PersonFailure {
    fn from(e: storage::store::StoreError) -> Self {
        PersonFailure::Refused(e.into())
    }
}

/// A person registering, as they typed it.
#[derive(Clone, Copy, Debug)]
pub struct Registration<'a> {
    /// The login name they choose.
    pub username: &'a str,
    /// The password they choose.
    pub password: &'a str,
    /// Their name as registered.
    pub name: &'a str,
    /// Their citizen ID number.
    pub id_number: &'a str,
}

/// A person registered: their login and who they are in the register.
#[derive(Clone, Debug)]
pub struct Registered {
    /// Their user id.
    pub user_id: UserId,
    /// Their login name.
    pub username: String,
    /// Who they are in the register (ID number masked).
    pub person: Person,
}

/// A person's records as a reader is allowed to see them today.
#[derive(Clone, Debug)]
pub struct PersonRecords {
    /// The person (ID number masked).
    pub person: Person,
    /// The day the disclosure rules were applied for.
    pub as_of: NaiveDate,
    /// The authorisation the reader used; `None` for the person themselves.
    pub authorisation: Option<String>,
    /// The records by section of 附录A.
    pub sections: Vec<Section>,
}

/// An authorisation as a person grants it.
#[derive(Clone, Copy, Debug)]
pub struct Grant<'a> {
    /// The grantee's login name.
    pub grantee: &'a str,
    /// `records` or `report`.
    pub scope: &'a str,
    /// What it is for.
    pub purpose: &'a str,
    /// For how many days.
    pub days: i64,
}

impl Platform {
    /// A natural person registers: their name and citizen ID number must match the
    /// population register the platform holds. (Real-name verification of the person
    /// behind the keyboard — a face or SMS check by the provincial identity service —
    /// sits in front of this in production.) Audited.
    pub async fn register_person(
        &self,
        registration: &Registration<'_>,
        request_id: &RequestId,
    ) -> Result<Registered, PersonFailure> {
        let id_number = policies::IdNumber::parse(registration.id_number.trim()).map_err(|e| {
            PersonFailure::Invalid {
                field: "id_number",
                message: Said::new(format!("not a valid citizen ID number: {e}"), e.zh()),
            }
        })?;
        let name = registration.name.trim();
        if name.is_empty() || name.chars().count() > 50 {
            return Err(PersonFailure::Invalid {
                field: "name",
                message: Said::new(
                    "give your name as registered, 1 to 50 characters",
                    "请填写登记的姓名，1 到 50 个字。",
                ),
            });
        }
        let person = self
            .records
            .person(Some(name), id_number.as_str())
            .ok_or(PersonFailure::NotInRegister)?;
        let user_id = identity::register_person(
            &self.store,
            registration.username,
            registration.password,
            &person.name,
            &person.subject_id,
            request_id,
        )
        .await?;
        Ok(Registered {
            user_id,
            username: registration.username.to_owned(),
            person,
        })
    }

    /// Person `subject`'s records as disclosed today (Q1–Q3), masked: for the person,
    /// or for a holder of their live authorisation (the look audited with it).
    pub async fn person_records(
        &self,
        caller: &Caller,
        subject: &str,
        request_id: &RequestId,
    ) -> Result<PersonRecords, PersonFailure> {
        let used = self
            .person_access(caller, subject, Action::ReadPersonRecords)
            .await?;
        let person = self.person(subject)?;
        let (as_of, sections) = self.disclosed_today(subject).await?;
        self.audit_look(caller, subject, &used, "records", request_id)
            .await?;
        Ok(PersonRecords {
            person,
            as_of,
            authorisation: used,
            sections,
        })
    }

    /// Person `subject`, for a credit report issued to the person or to a holder of
    /// their live `report` authorisation (the issue audited with it).
    pub async fn person_for_report(
        &self,
        caller: &Caller,
        subject: &str,
        request_id: &RequestId,
    ) -> Result<Person, PersonFailure> {
        let used = self
            .person_access(caller, subject, Action::IssuePersonReport)
            .await?;
        let person = self.person(subject)?;
        self.audit_look(caller, subject, &used, "report", request_id)
            .await?;
        Ok(person)
    }

    /// A person authorises another user (by login name) to see their record, or their
    /// record and report, for a purpose and a number of days. Audited.
    pub async fn grant_authorisation(
        &self,
        caller: &Caller,
        grant: &Grant<'_>,
        request_id: &RequestId,
    ) -> Result<Granted, PersonFailure> {
        self.authorize(caller, Action::ManageAuthorisations, &Resource::Platform)?;
        Ok(authorisations::grant(
            &self.store,
            NewAuthorisation {
                grantor_id: &caller.user_id,
                grantee: grant.grantee,
                scope: grant.scope,
                purpose: grant.purpose,
                days: grant.days,
            },
            request_id,
        )
        .await?)
    }

    /// The grantor revokes an authorisation; it stops at once. Audited.
    pub async fn revoke_authorisation(
        &self,
        caller: &Caller,
        id: &str,
        request_id: &RequestId,
    ) -> Result<(), PersonFailure> {
        self.authorize(caller, Action::ManageAuthorisations, &Resource::Platform)?;
        authorisations::revoke(&self.store, &caller.user_id, id, request_id).await?;
        Ok(())
    }

    /// The authorisations `caller` granted and those granted to them, newest first.
    pub async fn authorisations(
        &self,
        caller: &Caller,
    ) -> Result<(Vec<Authorisation>, Vec<Authorisation>), PersonFailure> {
        Ok(authorisations::of_user(&self.store, &caller.user_id).await?)
    }

    /// Checks `action` on person `subject`'s record for `caller`; answers the live
    /// authorisation used (`None` when it is the person themselves).
    async fn person_access(
        &self,
        caller: &Caller,
        subject: &str,
        action: Action,
    ) -> Result<Option<String>, PersonFailure> {
        let live = authorisations::live_on(&self.store, subject).await?;
        let grantees = |report: bool| -> Vec<String> {
            live.iter()
                .filter(|a| !report || a.scope.covers_report())
                .map(|a| a.grantee_id.clone())
                .collect()
        };
        let resource = Resource::PersonRecord {
            subject: subject.to_owned(),
            readers: grantees(false),
            report_readers: grantees(true),
        };
        let allowed = self
            .access
            .is_allowed(&principal(caller), action, &resource)
            .map_err(|e| Refusal::Internal(e.to_string()))?;
        if !allowed {
            return Err(PersonFailure::NotVisible);
        }
        if caller.subject_id.as_deref() == Some(subject) {
            return Ok(None);
        }
        let report = action == Action::IssuePersonReport;
        Ok(live
            .iter()
            .find(|a| a.grantee_id == caller.user_id && (!report || a.scope.covers_report()))
            .map(|a| a.id.clone()))
    }

    /// The person with this subject id.
    fn person(&self, subject: &str) -> Result<Person, PersonFailure> {
        self.records
            .person_by_subject(subject)
            .ok_or(PersonFailure::NotVisible)
    }

    /// Audits a look at another person's record (`what`: `records` or `report`).
    async fn audit_look(
        &self,
        caller: &Caller,
        subject: &str,
        used: &Option<String>,
        what: &str,
        request_id: &RequestId,
    ) -> Result<(), PersonFailure> {
        let Some(authorisation) = used else {
            return Ok(());
        };
        authorisations::audit_read(
            &self.store,
            &caller.user_id,
            subject,
            authorisation,
            what,
            request_id,
        )
        .await?;
        Ok(())
    }
}
