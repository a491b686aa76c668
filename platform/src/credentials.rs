//! The caller's own API keys (BRIEF P10: programmatic access, one per purpose, named,
//! expiring, rotated and revoked by their owner), as every front door asks for them.
//! The same rules as the caller's sessions: managing them needs `ManageCredentials`,
//! listing and revoking only `WithdrawOwnCredentials`, so a suspended institution's
//! users can still withdraw a key they fear has leaked.

use governance::identity::{self, Caller, CredentialInfo, Issued};
use governance::second_factor::{self, Enrolment};
use policies::access::Action;
use storage::ids::RequestId;

use crate::{CredentialFailure, Platform, own_credentials};

impl Platform {
    /// The caller's API keys that are not revoked.
    pub async fn api_keys(
        &self,
        caller: &Caller,
    ) -> Result<Vec<CredentialInfo>, CredentialFailure> {
        self.authorize(
            caller,
            Action::WithdrawOwnCredentials,
            &own_credentials(caller),
        )?;
        Ok(identity::list_api_keys(&self.store, caller).await?)
    }

    /// A new API key of the caller's, named, living `days` (90 unless said); its token
    /// is answered once. Audited.
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        name: &str,
        days: Option<i64>,
        request_id: &RequestId,
    ) -> Result<Issued, CredentialFailure> {
        self.authorize(caller, Action::ManageCredentials, &own_credentials(caller))?;
        Ok(identity::create_api_key(&self.store, caller, name, days, request_id).await?)
    }

    /// Replaces the caller's live API key `id` by a new one of the same name; the old
    /// stops at once. `None` if the caller has no such key. Audited.
    pub async fn rotate_api_key(
        &self,
        caller: &Caller,
        id: &str,
        request_id: &RequestId,
    ) -> Result<Option<Issued>, CredentialFailure> {
        self.authorize(caller, Action::ManageCredentials, &own_credentials(caller))?;
        Ok(identity::rotate_api_key(&self.store, caller, id, request_id).await?)
    }

    /// Revokes the caller's credential `id`; false if they have no such live one.
    /// Audited.
    pub async fn revoke_api_key(
        &self,
        caller: &Caller,
        id: &str,
        request_id: &RequestId,
    ) -> Result<bool, CredentialFailure> {
        self.authorize(
            caller,
            Action::WithdrawOwnCredentials,
            &own_credentials(caller),
        )?;
        Ok(identity::revoke(&self.store, caller, id, request_id).await?)
    }

    /// When the caller's second factor was confirmed, if they have one.
    pub async fn own_second_factor(
        &self,
        caller: &Caller,
    ) -> Result<Option<String>, CredentialFailure> {
        self.authorize(
            caller,
            Action::WithdrawOwnCredentials,
            &own_credentials(caller),
        )?;
        Ok(second_factor::since(&self.store, &caller.user_id)
            .await
            .map_err(identity::IdentityError::from)?)
    }

    /// Starts setting up a second factor for the caller, from their session: its secret,
    /// shown once; the next login with one of its codes confirms it. Refused once they
    /// have a confirmed one.
    pub async fn start_own_second_factor(
        &self,
        caller: &Caller,
        request_id: &RequestId,
    ) -> Result<Enrolment, CredentialFailure> {
        self.authorize(caller, Action::ManageCredentials, &own_credentials(caller))?;
        Ok(identity::start_own_second_factor(
            &self.store,
            &self.settings.second_factor,
            caller,
            request_id,
        )
        .await?)
    }

    /// New recovery codes for the caller (the old stop), after a code of their
    /// authenticator app given from `client` (a wrong one counts as a failed login).
    pub async fn renew_recovery_codes(
        &self,
        caller: &Caller,
        one_time_code: &str,
        client: &str,
        request_id: &RequestId,
    ) -> Result<Vec<String>, CredentialFailure> {
        self.authorize(caller, Action::ManageCredentials, &own_credentials(caller))?;
        Ok(identity::renew_recovery_codes(
            &self.store,
            &self.settings.second_factor,
            caller,
            one_time_code,
            client,
            request_id,
        )
        .await?)
    }
}
