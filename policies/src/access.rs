//! Access rules as Cedar policies (`policies/cedar/*.cedar`, schema
//! `platform.cedarschema`), evaluated by the gateway on every request. The policies are
//! compiled into the binary and validated against the schema when loaded, so a policy
//! that names an unknown action or attribute fails at start-up, not at request time.

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityUid, PolicyId, PolicySet, Request, Schema,
    ValidationMode, Validator,
};
use serde_json::{Value, json};

const SCHEMA: &str = include_str!("../cedar/platform.cedarschema");
const POLICIES: [(&str, &str); 3] = [
    ("roles.cedar", include_str!("../cedar/roles.cedar")),
    ("tenancy.cedar", include_str!("../cedar/tenancy.cedar")),
    (
        "restrictions.cedar",
        include_str!("../cedar/restrictions.cedar"),
    ),
];

/// What a principal asks to do. Each maps to one Cedar action of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
    missing_docs,
    reason = "the names say it; the Cedar schema documents them"
)]
pub enum Action {
    ReadOwnStatus,
    ManageCredentials,
    WithdrawOwnCredentials,
    CreateApplication,
    UseWorkspace,
    SubmitReport,
    ReadApplication,
    EditApplication,
    SubmitApplication,
    ReviewApplication,
    AssignReviewers,
    DecideApplication,
    ReviewProduct,
    OpenAccounts,
    ReadAuditLog,
    ListApplications,
    ListInstitutions,
    SuspendInstitution,
    ReinstateInstitution,
    TerminateInstitution,
    ReadInstitution,
    DeclareAffiliations,
    EvaluateInstitution,
    SetQuotas,
    ReadTable,
    ReadProduct,
    AssignProductReviewers,
    DecideProduct,
    ManageUsers,
    ReadPersonRecords,
    IssuePersonReport,
    ManageAuthorisations,
    ReadObjection,
    ResolveObjection,
    AcceptObjection,
    RecordObjection,
    ObjectAsSubject,
    ReadObjectionLedger,
    ReadVerificationLedger,
    HandleTickets,
    VerifySubjects,
    ReadServiceQuality,
    ManageCalendar,
}

impl Action {
    /// The Cedar action id.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReadOwnStatus => "read_own_status",
            Action::ManageCredentials => "manage_credentials",
            Action::WithdrawOwnCredentials => "withdraw_own_credentials",
            Action::CreateApplication => "create_application",
            Action::UseWorkspace => "use_workspace",
            Action::SubmitReport => "submit_report",
            Action::ReadApplication => "read_application",
            Action::EditApplication => "edit_application",
            Action::SubmitApplication => "submit_application",
            Action::ReviewApplication => "review_application",
            Action::AssignReviewers => "assign_reviewers",
            Action::DecideApplication => "decide_application",
            Action::ReviewProduct => "review_product",
            Action::OpenAccounts => "open_accounts",
            Action::ReadAuditLog => "read_audit_log",
            Action::ListApplications => "list_applications",
            Action::ListInstitutions => "list_institutions",
            Action::SuspendInstitution => "suspend_institution",
            Action::ReinstateInstitution => "reinstate_institution",
            Action::TerminateInstitution => "terminate_institution",
            Action::ReadInstitution => "read_institution",
            Action::DeclareAffiliations => "declare_affiliations",
            Action::EvaluateInstitution => "evaluate_institution",
            Action::SetQuotas => "set_quotas",
            Action::ReadTable => "read_table",
            Action::ReadProduct => "read_product",
            Action::AssignProductReviewers => "assign_product_reviewers",
            Action::DecideProduct => "decide_product",
            Action::ManageUsers => "manage_users",
            Action::ReadPersonRecords => "read_person_records",
            Action::IssuePersonReport => "issue_person_report",
            Action::ManageAuthorisations => "manage_authorisations",
            Action::ReadObjection => "read_objection",
            Action::ResolveObjection => "resolve_objection",
            Action::AcceptObjection => "accept_objection",
            Action::RecordObjection => "record_objection",
            Action::ObjectAsSubject => "object_as_subject",
            Action::ReadObjectionLedger => "read_objection_ledger",
            Action::ReadVerificationLedger => "read_verification_ledger",
            Action::HandleTickets => "handle_tickets",
            Action::VerifySubjects => "verify_subjects",
            Action::ReadServiceQuality => "read_service_quality",
            Action::ManageCalendar => "manage_calendar",
        }
    }
}

/// An institution as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstitutionRef {
    /// Its id.
    pub id: String,
    /// `active`, `suspended` or `terminated`.
    pub status: String,
}

/// Who asks.
#[derive(Clone, Debug, Default)]
pub struct Principal {
    /// User id.
    pub user_id: String,
    /// `administrator`, `reviewer` or `institution`.
    pub role: String,
    /// The institution an institution user acts for.
    pub institution: Option<InstitutionRef>,
    /// Unified social credit codes of the institutions a reviewer belongs to.
    pub affiliations: Vec<String>,
    /// Agency staff: their agency; source-unit users: their unit.
    pub organisation: Option<String>,
    /// Natural persons: their subject_id in the persons register.
    pub subject: Option<String>,
}

/// What is asked about.
#[derive(Clone, Debug)]
pub enum Resource {
    /// The platform as a whole.
    Platform,
    /// An institution's own space.
    Institution(InstitutionRef),
    /// An application, with its reviewers' user ids.
    Application {
        /// Its id.
        id: String,
        /// The user who drafted it.
        applicant: String,
        /// The applying institution's unified social credit code ("" in an early draft).
        uscc: String,
        /// Assigned reviewers (user ids).
        reviewers: Vec<String>,
    },
    /// A registered product, with its reviewers' user ids.
    Product {
        /// Its id.
        id: String,
        /// The institution that registered it.
        institution: InstitutionRef,
        /// That institution's unified social credit code.
        uscc: String,
        /// Assigned reviewers (user ids).
        reviewers: Vec<String>,
    },
    /// A session token or API key.
    Credential {
        /// Its id.
        id: String,
        /// Its owner's user id.
        owner: String,
    },
    /// A natural person's record (Q4), with who holds a live authorisation for it.
    PersonRecord {
        /// The person's subject_id.
        subject: String,
        /// Users authorised to read the disclosed records.
        readers: Vec<String>,
        /// Users authorised to have the credit report issued.
        report_readers: Vec<String>,
    },
    /// An objection to a record (Q8).
    Objection {
        /// Its id.
        id: String,
        /// The source unit of the record objected to.
        source_unit: String,
        /// Accepted by the service provider and so dispatched to the source unit
        /// (6.4.3); a received or returned objection never was.
        dispatched: bool,
    },
    /// An institution's own table (BRIEF P5).
    OwnTable {
        /// Its id.
        id: String,
        /// The institution that imported it.
        owner: InstitutionRef,
        /// `private`, `institutions` or `pool`.
        sharing: String,
        /// With `institutions`: the institutions it is shared with.
        shared_with: Vec<String>,
    },
}

/// Why the policies could not be used, or a request evaluated: a bug, never a user's
/// fault.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The schema or a policy does not parse or validate.
    #[error("access policies are invalid: {0}")]
    Invalid(String),
    /// Building the request's entities failed.
    #[error("cannot evaluate an access request: {0}")]
    Request(String),
}

/// The compiled, validated access policies.
pub struct AccessPolicy {
    schema: Schema,
    policies: PolicySet,
    authorizer: Authorizer,
}

impl std::fmt::Debug for AccessPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessPolicy")
            .field("policies", &self.policies.policies().count())
            .finish()
    }
}

fn uid(kind: &str, id: &str) -> Value {
    json!({ "type": kind, "id": id })
}

fn entity_ref(kind: &str, id: &str) -> Value {
    json!({ "__entity": uid(kind, id) })
}

fn institution_entity(i: &InstitutionRef) -> Value {
    json!({ "uid": uid("Institution", &i.id), "attrs": { "status": i.status }, "parents": [] })
}

impl AccessPolicy {
    /// Parses the policies and the schema and validates one against the other.
    pub fn load() -> Result<AccessPolicy, AccessError> {
        let (schema, _warnings) = Schema::from_cedarschema_str(SCHEMA)
            .map_err(|e| AccessError::Invalid(format!("platform.cedarschema: {e}")))?;
        let mut policies = PolicySet::new();
        for (file, text) in POLICIES {
            let set: PolicySet = text
                .parse()
                .map_err(|e| AccessError::Invalid(format!("{file}: {e}")))?;
            // Every rule carries an @id, which names it in decisions and errors.
            for policy in set.policies() {
                let id = policy.annotation("id").ok_or_else(|| {
                    AccessError::Invalid(format!("{file}: a policy has no @id(\"…\") annotation"))
                })?;
                policies
                    .add(policy.new_id(PolicyId::new(id)))
                    .map_err(|e| AccessError::Invalid(format!("{file}: {e}")))?;
            }
        }
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
            return Err(AccessError::Invalid(errors.join("; ")));
        }
        Ok(AccessPolicy {
            schema,
            policies,
            authorizer: Authorizer::new(),
        })
    }

    /// Whether `principal` may do `action` on `resource`. Denied unless a policy
    /// permits it and none forbids it.
    pub fn is_allowed(
        &self,
        principal: &Principal,
        action: Action,
        resource: &Resource,
    ) -> Result<bool, AccessError> {
        let mut entities: Vec<Value> = Vec::new();
        let mut institutions: Vec<&InstitutionRef> = Vec::new();
        let mut user_attrs = json!({
            "role": principal.role,
            "affiliations": principal.affiliations,
        });
        if let Some(o) = &principal.organisation {
            user_attrs["organisation"] = json!(o);
        }
        if let Some(subject) = &principal.subject {
            user_attrs["subject"] = json!(subject);
        }
        if let Some(i) = &principal.institution {
            user_attrs["institution"] = entity_ref("Institution", &i.id);
            institutions.push(i);
        }
        entities.push(
            json!({ "uid": uid("User", &principal.user_id), "attrs": user_attrs, "parents": [] }),
        );

        let resource_uid = match resource {
            Resource::Platform => {
                entities.push(
                    json!({ "uid": uid("Platform", "platform"), "attrs": {}, "parents": [] }),
                );
                uid("Platform", "platform")
            }
            Resource::Institution(i) => {
                institutions.push(i);
                uid("Institution", &i.id)
            }
            Resource::Application {
                id,
                applicant,
                uscc,
                reviewers,
            } => {
                entities.push(json!({
                    "uid": uid("Application", id),
                    "attrs": {
                        "applicant": entity_ref("User", applicant),
                        "uscc": uscc,
                        "reviewers": reviewers.iter().map(|r| entity_ref("User", r)).collect::<Vec<_>>(),
                    },
                    "parents": [],
                }));
                uid("Application", id)
            }
            Resource::Product {
                id,
                institution,
                uscc,
                reviewers,
            } => {
                institutions.push(institution);
                entities.push(json!({
                    "uid": uid("Product", id),
                    "attrs": {
                        "institution": entity_ref("Institution", &institution.id),
                        "uscc": uscc,
                        "reviewers": reviewers.iter().map(|r| entity_ref("User", r)).collect::<Vec<_>>(),
                    },
                    "parents": [],
                }));
                uid("Product", id)
            }
            Resource::OwnTable {
                id,
                owner,
                sharing,
                shared_with,
            } => {
                institutions.push(owner);
                entities.push(json!({
                    "uid": uid("OwnTable", id),
                    "attrs": {
                        "owner": entity_ref("Institution", &owner.id),
                        "sharing": sharing,
                        "shared_with": shared_with.iter().map(|i| entity_ref("Institution", i)).collect::<Vec<_>>(),
                    },
                    "parents": [],
                }));
                uid("OwnTable", id)
            }
            Resource::PersonRecord {
                subject,
                readers,
                report_readers,
            } => {
                let users = |ids: &[String]| {
                    ids.iter()
                        .map(|r| entity_ref("User", r))
                        .collect::<Vec<_>>()
                };
                entities.push(json!({
                    "uid": uid("PersonRecord", subject),
                    "attrs": {
                        "subject": subject,
                        "readers": users(readers),
                        "report_readers": users(report_readers),
                    },
                    "parents": [],
                }));
                uid("PersonRecord", subject)
            }
            Resource::Objection {
                id,
                source_unit,
                dispatched,
            } => {
                entities.push(json!({
                    "uid": uid("Objection", id),
                    "attrs": { "source_unit": source_unit, "dispatched": dispatched },
                    "parents": [],
                }));
                uid("Objection", id)
            }
            Resource::Credential { id, owner } => {
                entities.push(json!({
                    "uid": uid("Credential", id),
                    "attrs": { "owner": entity_ref("User", owner) },
                    "parents": [],
                }));
                uid("Credential", id)
            }
        };
        // One entity per institution, whichever role it plays in the request.
        let mut seen = std::collections::HashSet::new();
        for i in institutions {
            if seen.insert(i.id.clone()) {
                entities.push(institution_entity(i));
            }
        }
        let entities = Entities::from_json_value(Value::Array(entities), Some(&self.schema))
            .map_err(|e| AccessError::Request(e.to_string()))?;
        let parse =
            |v: Value| EntityUid::from_json(v).map_err(|e| AccessError::Request(e.to_string()));
        let request = Request::new(
            parse(uid("User", &principal.user_id))?,
            parse(uid("Action", action.as_str()))?,
            parse(resource_uid)?,
            Context::empty(),
            Some(&self.schema),
        )
        .map_err(|e| AccessError::Request(e.to_string()))?;
        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &entities);
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| e.to_string())
            .collect();
        if !errors.is_empty() {
            return Err(AccessError::Request(errors.join("; ")));
        }
        Ok(response.decision() == Decision::Allow)
    }
}
