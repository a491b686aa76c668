//! Users and staff accounts as administrators manage them, for every front door: the
//! list, a staff account created (administrators, reviewers, agency staff with their
//! agency, source-unit users with their unit as its records name it), and a user
//! disabled, enabled, their credentials revoked or their second factor reset, each with
//! its reason in the audit log.

use governance::identity::{self, Caller, IdentityError, NewUser, Role, UserAction, UserInfo};
use policies::access::{Action, Resource};
use storage::ids::{RequestId, UserId};
use storage::said::Said;

use crate::{Platform, Refusal};

/// Why a request about users was refused.
#[derive(Debug, thiserror::Error)]
pub enum StaffFailure {
    /// The caller may not manage users, or a field is refused.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The identity rules refused it (a taken name, a weak password, a short reason).
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl From<crate::store::StoreError> for StaffFailure {
    fn from(e: crate::store::StoreError) -> Self {
        StaffFailure::Identity(e.into())
    }
}

/// A staff account to create.
#[derive(Clone, Copy, Debug)]
pub struct NewStaff<'a> {
    /// Login name.
    pub username: &'a str,
    /// Name shown to people.
    pub display_name: &'a str,
    /// First password.
    pub password: &'a str,
    /// `administrator`, `reviewer`, `agency_staff` or `source_unit`.
    pub role: &'a str,
    /// The agency, or the source unit as its records name it.
    pub organisation: Option<&'a str>,
}

fn invalid(field: &str, en: impl Into<String>, zh: impl Into<String>) -> Refusal {
    Refusal::Invalid {
        field: field.into(),
        message: Said::new(en, zh),
    }
}

impl Platform {
    /// Every user account (administrators).
    pub async fn users(&self, caller: &Caller) -> Result<Vec<UserInfo>, StaffFailure> {
        self.authorize(caller, Action::ManageUsers, &Resource::Platform)?;
        Ok(identity::list_users(&self.store).await?)
    }

    /// Creates a staff account (administrators): the role one of staff's, an
    /// organisation for agency staff and source units (a unit as its records name it),
    /// none for the others. The new user's id and role.
    pub async fn create_staff(
        &self,
        caller: &Caller,
        staff: NewStaff<'_>,
        request_id: &RequestId,
    ) -> Result<(UserId, Role, Option<String>), StaffFailure> {
        self.authorize(caller, Action::ManageUsers, &Resource::Platform)?;
        let role = match Role::parse(staff.role) {
            Some(
                r @ (Role::Administrator | Role::Reviewer | Role::AgencyStaff | Role::SourceUnit),
            ) => r,
            _ => {
                return Err(invalid(
                    "role",
                    "role is administrator, reviewer, agency_staff or source_unit (institutions, applicants and persons register themselves)",
                    "角色是管理员、评审专家、机关工作人员或数源单位用户之一（机构、申请人和自然人自行注册）。",
                )
                .into());
            }
        };
        let organisation = staff.organisation.map(str::trim).filter(|o| !o.is_empty());
        let needs = matches!(role, Role::AgencyStaff | Role::SourceUnit);
        match (needs, organisation) {
            (true, None) => {
                return Err(invalid(
                    "organisation",
                    "agency staff need their agency, source-unit users their unit (as its records name it)",
                    "机关工作人员须填写所在机关，数源单位用户须填写所在单位（与记录中的名称一致）。",
                )
                .into());
            }
            (false, Some(_)) => {
                return Err(invalid(
                    "organisation",
                    "only agency staff and source-unit users belong to an organisation",
                    "只有机关工作人员和数源单位用户填写所在单位。",
                )
                .into());
            }
            (true, Some(o)) if o.chars().count() > 100 => {
                return Err(
                    invalid("organisation", "at most 100 characters", "最多 100 个字。").into(),
                );
            }
            (true, Some(unit)) if role == Role::SourceUnit => self.source_unit_named(unit)?,
            _ => {}
        }
        let display_name = staff.display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 100 {
            return Err(invalid(
                "display_name",
                "give a name of 1 to 100 characters",
                "请填写姓名，1 到 100 个字。",
            )
            .into());
        }
        let id = identity::add_user(
            &self.store,
            NewUser {
                username: staff.username,
                display_name,
                role,
                institution_id: None,
                organisation,
                subject_id: None,
                password: staff.password,
            },
            &caller.user_id,
            request_id,
        )
        .await?;
        Ok((id, role, organisation.map(str::to_owned)))
    }

    /// A source unit as the records name it; else what it may have meant.
    fn source_unit_named(&self, unit: &str) -> Result<(), Refusal> {
        let units = self.records.source_units();
        if units.contains(unit) {
            return Ok(());
        }
        let wanted = ::public::search::normalise(unit);
        let near: Vec<&str> = units
            .iter()
            .filter(|_| !wanted.is_empty())
            .filter(|u| {
                let u = ::public::search::normalise(u);
                u.contains(&wanted) || wanted.contains(&u)
            })
            .map(String::as_str)
            .take(5)
            .collect();
        let (hint, hint_zh) = if near.is_empty() {
            (
                "give the unit's name exactly as its records name it (the source_unit of a record)"
                    .to_owned(),
                "请按记录中的数源单位名称填写。".to_owned(),
            )
        } else {
            (
                format!("did you mean {}?", near.join("、")),
                format!("是否是：{}？", near.join("、")),
            )
        };
        Err(invalid(
            "organisation",
            format!("no record names the source unit '{unit}': {hint}"),
            format!("没有记录的数源单位是“{unit}”。{hint_zh}"),
        ))
    }

    /// Applies `action` to user `id` with its reason (administrators); how many of
    /// their credentials were revoked.
    pub async fn administer(
        &self,
        caller: &Caller,
        id: &UserId,
        action: UserAction,
        reason: &str,
        request_id: &RequestId,
    ) -> Result<u64, StaffFailure> {
        self.authorize(caller, Action::ManageUsers, &Resource::Platform)?;
        Ok(
            identity::administer_user(&self.store, &caller.user_id, id, action, reason, request_id)
                .await?,
        )
    }
}
