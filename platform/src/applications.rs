//! Applications to join the product pool (BRIEF P1, P2) as every front door asks for
//! them: a draft created and saved by its applicant, evidence files uploaded and read,
//! the submission that checks every field and then the entry criteria. Each checks the
//! caller on the application as it is now (`Platform::application`).

use governance::applications::{self, Application, ApplicationError};
use governance::evidence::{self, EvidenceError, EvidenceFile};
use governance::form::ApplicationForm;
use governance::identity::{self, Caller, IdentityError, NewUser, Role};
use policies::access::{Action, Resource};
use storage::ids::{ApplicationId, RequestId, UserId};
use storage::said::Said;

use crate::Platform;
use crate::review::ReviewFailure;

/// Why an applicant's request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApplicantFailure {
    /// The caller may not do it, or may not see the application.
    #[error(transparent)]
    Refused(#[from] ReviewFailure),
    /// The application refused it (a field, its stage).
    #[error(transparent)]
    Application(#[from] ApplicationError),
    /// The evidence file was refused (its type, size, name, the stage).
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
}

impl From<crate::Refusal> for ApplicantFailure {
    fn from(e: crate::Refusal) -> Self {
        ApplicantFailure::Refused(e.into())
    }
}

impl From<crate::store::StoreError> for ApplicantFailure {
    fn from(e: crate::store::StoreError) -> Self {
        ApplicantFailure::Application(e.into())
    }
}

impl Platform {
    /// Registers someone who will apply for an institution (附件2): a user of the
    /// applicant role, named `display_name` (1 to 100 characters), who then drafts the
    /// application signed in. Audited.
    pub async fn register_applicant(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
        request_id: &RequestId,
    ) -> Result<UserId, IdentityError> {
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 100 {
            return Err(IdentityError::Invalid {
                field: "display_name",
                message: Said::new(
                    "give a name of 1 to 100 characters",
                    "请填写您的姓名（1 到 100 个字）。",
                ),
            });
        }
        identity::add_user(
            &self.store,
            NewUser {
                username,
                display_name,
                role: Role::Applicant,
                institution_id: None,
                organisation: None,
                subject_id: None,
                password,
            },
            &UserId::from("self-registration"),
            request_id,
        )
        .await
    }

    /// A new draft application of `caller` (an applicant), as complete as `form` is.
    pub async fn create_application(
        &self,
        caller: &Caller,
        form: &ApplicationForm,
        request_id: &RequestId,
    ) -> Result<Application, ApplicantFailure> {
        self.authorize(caller, Action::CreateApplication, &Resource::Platform)?;
        Ok(applications::create(&self.store, &caller.user_id, form, request_id).await?)
    }

    /// Saves draft `id` as `form`.
    pub async fn update_application(
        &self,
        caller: &Caller,
        id: &ApplicationId,
        form: &ApplicationForm,
        request_id: &RequestId,
    ) -> Result<Application, ApplicantFailure> {
        self.application(caller, id, Action::EditApplication)
            .await?;
        Ok(applications::update(&self.store, id, &caller.user_id, form, request_id).await?)
    }

    /// Submits draft `id`: every field checked and each one at fault named, then the
    /// entry criteria checked from the data and attached.
    pub async fn submit_own_application(
        &self,
        caller: &Caller,
        id: &ApplicationId,
        request_id: &RequestId,
    ) -> Result<Application, ApplicantFailure> {
        self.application(caller, id, Action::SubmitApplication)
            .await?;
        Ok(self
            .submit_application(id, &caller.user_id, request_id)
            .await?)
    }

    /// Uploads an evidence file to draft `id`: its declared type refused before its
    /// content is read, its content checked against the type.
    pub async fn upload_evidence(
        &self,
        caller: &Caller,
        id: &ApplicationId,
        (filename, media_type): (&str, &str),
        content: &[u8],
        request_id: &RequestId,
    ) -> Result<EvidenceFile, ApplicantFailure> {
        self.application(caller, id, Action::EditApplication)
            .await?;
        evidence::accepted_type(media_type)?;
        Ok(evidence::upload(
            &self.store,
            id,
            &caller.user_id,
            filename,
            media_type,
            content,
            request_id,
        )
        .await?)
    }

    /// The evidence files of application `id`.
    pub async fn evidence_files(
        &self,
        caller: &Caller,
        id: &ApplicationId,
    ) -> Result<Vec<EvidenceFile>, ApplicantFailure> {
        self.application(caller, id, Action::ReadApplication)
            .await?;
        Ok(evidence::list(&self.store, id).await?)
    }

    /// One evidence file of application `id`, with its content.
    pub async fn evidence_file(
        &self,
        caller: &Caller,
        id: &ApplicationId,
        file: &str,
    ) -> Result<(EvidenceFile, Vec<u8>), ApplicantFailure> {
        self.application(caller, id, Action::ReadApplication)
            .await?;
        Ok(evidence::content(&self.store, id, file).await?)
    }
}
