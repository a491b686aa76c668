//! The access rules, one test per rule, denials included (issue #4 §3).

use std::sync::OnceLock;

use policies::access::{AccessPolicy, Action, InstitutionRef, Principal, Resource};

fn policy() -> &'static AccessPolicy {
    static POLICY: OnceLock<AccessPolicy> = OnceLock::new();
    POLICY.get_or_init(|| AccessPolicy::load().expect("the policies validate against the schema"))
}

fn institution(id: &str, status: &str) -> InstitutionRef {
    InstitutionRef {
        id: id.into(),
        status: status.into(),
    }
}

fn admin() -> Principal {
    Principal {
        user_id: "admin-1".into(),
        role: "administrator".into(),
        institution: None,
        affiliations: vec![],
        ..Default::default()
    }
}

/// A reviewer belonging to the institutions with these codes.
fn reviewer(id: &str, affiliations: &[&str]) -> Principal {
    Principal {
        user_id: id.into(),
        role: "reviewer".into(),
        institution: None,
        affiliations: affiliations.iter().map(|u| u.to_string()).collect(),
        ..Default::default()
    }
}

fn applicant(id: &str) -> Principal {
    Principal {
        user_id: id.into(),
        role: "applicant".into(),
        institution: None,
        affiliations: vec![],
        ..Default::default()
    }
}

/// The code of the institution `acme` in these tests.
const ACME_USCC: &str = "91110000600037341L";

fn member(of: &InstitutionRef) -> Principal {
    Principal {
        user_id: format!("user-of-{}", of.id),
        role: "institution".into(),
        institution: Some(of.clone()),
        affiliations: vec![],
        ..Default::default()
    }
}

/// An application drafted by `applicant` for the institution with code `uscc`.
fn application(applicant: &str, uscc: &str, reviewers: &[&str]) -> Resource {
    Resource::Application {
        id: format!("app-of-{applicant}"),
        applicant: applicant.into(),
        uscc: uscc.into(),
        reviewers: reviewers.iter().map(|r| r.to_string()).collect(),
    }
}

fn allowed(p: &Principal, a: Action, r: &Resource) -> bool {
    policy().is_allowed(p, a, r).expect("evaluates")
}

#[test]
fn administrators_run_the_platform_and_nobody_else_does() {
    let acme = institution("acme", "active");
    for action in [
        Action::SuspendInstitution,
        Action::ReinstateInstitution,
        Action::TerminateInstitution,
        Action::ReadInstitution,
        Action::EvaluateInstitution,
        Action::SetQuotas,
    ] {
        let target = Resource::Institution(acme.clone());
        assert!(allowed(&admin(), action, &target), "{action:?}");
        assert!(
            !allowed(&reviewer("r1", &[]), action, &target),
            "{action:?}"
        );
        assert!(!allowed(&member(&acme), action, &target), "{action:?}");
    }
    for action in [
        Action::OpenAccounts,
        Action::ReadAuditLog,
        Action::ListApplications,
        Action::ListInstitutions,
    ] {
        assert!(allowed(&admin(), action, &Resource::Platform));
        assert!(!allowed(&reviewer("r1", &[]), action, &Resource::Platform));
        assert!(!allowed(&member(&acme), action, &Resource::Platform));
    }
    let app = application("a1", ACME_USCC, &[]);
    assert!(allowed(&admin(), Action::AssignReviewers, &app));
    assert!(allowed(&admin(), Action::DecideApplication, &app));
    assert!(!allowed(
        &reviewer("r1", &[]),
        Action::DecideApplication,
        &app
    ));
    assert!(!allowed(&member(&acme), Action::DecideApplication, &app));
    // Administrators decide; they do not review.
    assert!(!allowed(&admin(), Action::ReviewApplication, &app));
}

#[test]
fn an_institution_sees_and_acts_on_its_own_things_only() {
    let (acme, other) = (
        institution("acme", "active"),
        institution("other", "active"),
    );
    for action in [
        Action::UseWorkspace,
        Action::SubmitReport,
        Action::ReadOwnStatus,
    ] {
        assert!(allowed(
            &member(&acme),
            action,
            &Resource::Institution(acme.clone())
        ));
        assert!(!allowed(
            &member(&acme),
            action,
            &Resource::Institution(other.clone())
        ));
    }
    assert!(!allowed(
        &member(&acme),
        Action::ListInstitutions,
        &Resource::Platform
    ));
    // It reads the application it was admitted with, and no other.
    let user = member(&acme);
    let own = application(&user.user_id, ACME_USCC, &[]);
    assert!(allowed(&user, Action::ReadApplication, &own));
    assert!(
        !allowed(&user, Action::EditApplication, &own),
        "admitted: no more edits"
    );
    assert!(!allowed(
        &user,
        Action::ReadApplication,
        &application("someone", ACME_USCC, &[])
    ));
}

#[test]
fn applicants_draft_submit_and_read_their_own_applications_only() {
    let me = applicant("ap1");
    assert!(allowed(&me, Action::CreateApplication, &Resource::Platform));
    let own = application("ap1", "", &[]);
    let theirs = application("ap2", ACME_USCC, &[]);
    for action in [
        Action::ReadApplication,
        Action::EditApplication,
        Action::SubmitApplication,
    ] {
        assert!(allowed(&me, action, &own), "{action:?}");
        assert!(!allowed(&me, action, &theirs), "{action:?}");
    }
    for action in [
        Action::DecideApplication,
        Action::ReviewApplication,
        Action::AssignReviewers,
    ] {
        assert!(!allowed(&me, action, &own), "{action:?}");
    }
    assert!(!allowed(&me, Action::ListApplications, &Resource::Platform));
    // Nobody else creates applications.
    assert!(!allowed(
        &admin(),
        Action::CreateApplication,
        &Resource::Platform
    ));
    assert!(!allowed(
        &reviewer("r1", &[]),
        Action::CreateApplication,
        &Resource::Platform
    ));
    assert!(!allowed(
        &member(&institution("acme", "active")),
        Action::CreateApplication,
        &Resource::Platform
    ));
}

#[test]
fn a_suspended_or_terminated_institution_may_only_read_its_own_status() {
    for status in ["suspended", "terminated"] {
        let acme = institution("acme", status);
        let user = member(&acme);
        let home = Resource::Institution(acme.clone());
        assert!(allowed(&user, Action::ReadOwnStatus, &home), "{status}");
        assert!(
            allowed(&user, Action::ReadOwnStatus, &Resource::Platform),
            "{status}"
        );
        for action in [Action::UseWorkspace, Action::SubmitReport] {
            assert!(!allowed(&user, action, &home), "{status} {action:?}");
        }
        let own = application(&user.user_id, ACME_USCC, &[]);
        assert!(!allowed(&user, Action::ReadApplication, &own), "{status}");
        let key = Resource::Credential {
            id: "k1".into(),
            owner: user.user_id.clone(),
        };
        assert!(!allowed(&user, Action::ManageCredentials, &key), "{status}");
        // Issue 15: but it may list and revoke its own keys, and nobody else's.
        assert!(
            allowed(&user, Action::WithdrawOwnCredentials, &key),
            "{status}"
        );
        let others = Resource::Credential {
            id: "k2".into(),
            owner: "someone-else".into(),
        };
        assert!(
            !allowed(&user, Action::WithdrawOwnCredentials, &others),
            "{status}"
        );
    }
    // The same user, active, may do all of it.
    let acme = institution("acme", "active");
    assert!(allowed(
        &member(&acme),
        Action::UseWorkspace,
        &Resource::Institution(acme.clone())
    ));
}

#[test]
fn reviewers_review_only_what_they_are_assigned() {
    let app = application("a1", ACME_USCC, &["r1", "r2", "r3"]);
    assert!(allowed(
        &reviewer("r1", &[]),
        Action::ReviewApplication,
        &app
    ));
    assert!(allowed(&reviewer("r1", &[]), Action::ReadApplication, &app));
    assert!(!allowed(
        &reviewer("r9", &[]),
        Action::ReviewApplication,
        &app
    ));
    assert!(!allowed(
        &reviewer("r9", &[]),
        Action::ReadApplication,
        &app
    ));
    // An institution user named as a reviewer by mistake still may not review.
    let mut intruder = member(&institution("other", "active"));
    intruder.user_id = "r2".into();
    assert!(!allowed(&intruder, Action::ReviewApplication, &app));
}

#[test]
fn only_reviewers_declare_affiliations() {
    assert!(allowed(
        &reviewer("r1", &[]),
        Action::DeclareAffiliations,
        &Resource::Platform
    ));
    assert!(!allowed(
        &admin(),
        Action::DeclareAffiliations,
        &Resource::Platform
    ));
    assert!(!allowed(
        &applicant("a1"),
        Action::DeclareAffiliations,
        &Resource::Platform
    ));
}

#[test]
fn a_reviewer_may_not_review_an_institution_they_belong_to() {
    let acme = institution("acme", "active");
    let conflicted = reviewer("r1", &[ACME_USCC]);
    let app = application("a1", ACME_USCC, &["r1"]);
    assert!(!allowed(&conflicted, Action::ReviewApplication, &app));
    let product = Resource::Product {
        id: "p1".into(),
        institution: acme.clone(),
        uscc: ACME_USCC.into(),
        reviewers: vec!["r1".into()],
    };
    assert!(!allowed(&conflicted, Action::ReviewProduct, &product));
    // Belonging to another institution is no conflict.
    let elsewhere = reviewer("r1", &["91110000710926094P"]);
    assert!(allowed(&elsewhere, Action::ReviewApplication, &app));
    assert!(allowed(&elsewhere, Action::ReviewProduct, &product));
}

#[test]
fn credentials_are_managed_by_their_owner_only() {
    let key = Resource::Credential {
        id: "k1".into(),
        owner: "r1".into(),
    };
    assert!(allowed(
        &reviewer("r1", &[]),
        Action::ManageCredentials,
        &key
    ));
    assert!(!allowed(
        &reviewer("r2", &[]),
        Action::ManageCredentials,
        &key
    ));
    assert!(!allowed(&admin(), Action::ManageCredentials, &key));
    // Issue 15: withdrawing (listing, revoking) is the owner's too, and nobody else's:
    // an administrator stops another user's access through manage_users instead.
    assert!(allowed(
        &reviewer("r1", &[]),
        Action::WithdrawOwnCredentials,
        &key
    ));
    assert!(!allowed(
        &reviewer("r2", &[]),
        Action::WithdrawOwnCredentials,
        &key
    ));
    assert!(!allowed(&admin(), Action::WithdrawOwnCredentials, &key));
    assert!(allowed(&admin(), Action::ManageUsers, &Resource::Platform));
    assert!(!allowed(
        &reviewer("r1", &[]),
        Action::ManageUsers,
        &Resource::Platform
    ));
    let acme = institution("acme", "active");
    assert!(!allowed(
        &member(&acme),
        Action::ManageUsers,
        &Resource::Platform
    ));
}

#[test]
fn everyone_signed_in_reads_their_own_status_and_nothing_is_allowed_by_default() {
    assert!(allowed(
        &admin(),
        Action::ReadOwnStatus,
        &Resource::Platform
    ));
    assert!(allowed(
        &reviewer("r1", &[]),
        Action::ReadOwnStatus,
        &Resource::Platform
    ));
    // A role the rules do not know gets nothing but its own status.
    let stranger = Principal {
        user_id: "x".into(),
        role: "superuser".into(),
        institution: None,
        affiliations: vec![],
        ..Default::default()
    };
    assert!(!allowed(
        &stranger,
        Action::SuspendInstitution,
        &Resource::Institution(institution("acme", "active"))
    ));
    assert!(!allowed(
        &stranger,
        Action::OpenAccounts,
        &Resource::Platform
    ));
}

fn own_table(owner: &InstitutionRef, sharing: &str, with: &[&str]) -> Resource {
    Resource::OwnTable {
        id: format!("table-of-{}", owner.id),
        owner: owner.clone(),
        sharing: sharing.into(),
        shared_with: with.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn an_own_table_is_read_by_its_owner_the_named_and_the_pool_only() {
    // P5: private, named institutions, or the whole pool.
    let (acme, named, stranger) = (
        institution("acme", "active"),
        institution("named", "active"),
        institution("stranger", "active"),
    );
    let private = own_table(&acme, "private", &["named"]);
    assert!(allowed(&member(&acme), Action::ReadTable, &private));
    assert!(!allowed(&member(&named), Action::ReadTable, &private));
    let shared = own_table(&acme, "institutions", &["named"]);
    assert!(allowed(&member(&named), Action::ReadTable, &shared));
    assert!(!allowed(&member(&stranger), Action::ReadTable, &shared));
    let pool = own_table(&acme, "pool", &[]);
    assert!(allowed(&member(&stranger), Action::ReadTable, &pool));
    // Staff do not read institutions' tables.
    assert!(!allowed(&admin(), Action::ReadTable, &pool));
    assert!(!allowed(&reviewer("r1", &[]), Action::ReadTable, &pool));
}

#[test]
fn tables_of_inactive_institutions_are_not_shared() {
    let suspended = institution("acme", "suspended");
    let reader = institution("reader", "active");
    let pool = own_table(&suspended, "pool", &[]);
    assert!(!allowed(&member(&reader), Action::ReadTable, &pool));
    let active = institution("acme", "active");
    assert!(allowed(
        &member(&reader),
        Action::ReadTable,
        &own_table(&active, "pool", &[])
    ));
}

fn product(of: &InstitutionRef, reviewers: &[&str]) -> Resource {
    Resource::Product {
        id: format!("product-of-{}", of.id),
        institution: of.clone(),
        uscc: ACME_USCC.into(),
        reviewers: reviewers.iter().map(|r| r.to_string()).collect(),
    }
}

#[test]
fn products_are_read_by_their_institution_assigned_reviewers_and_administrators() {
    // P8, P9.
    let (acme, other) = (
        institution("acme", "active"),
        institution("other", "active"),
    );
    let p = product(&acme, &["r1"]);
    assert!(allowed(&member(&acme), Action::ReadProduct, &p));
    assert!(!allowed(&member(&other), Action::ReadProduct, &p));
    assert!(allowed(&reviewer("r1", &[]), Action::ReadProduct, &p));
    assert!(!allowed(&reviewer("r2", &[]), Action::ReadProduct, &p));
    assert!(allowed(&admin(), Action::ReadProduct, &p));
    for action in [Action::AssignProductReviewers, Action::DecideProduct] {
        assert!(allowed(&admin(), action, &p), "{action:?}");
        assert!(!allowed(&member(&acme), action, &p), "{action:?}");
        assert!(!allowed(&reviewer("r1", &[]), action, &p), "{action:?}");
    }
}

fn staff(role: &str, organisation: &str) -> Principal {
    Principal {
        user_id: format!("{role}-1"),
        role: role.into(),
        organisation: Some(organisation.into()),
        ..Default::default()
    }
}

#[test]
fn the_public_service_ledgers_are_the_administrators_and_verification_the_agencies() {
    // Q7, Q8, Q10: administrators keep the ledgers; agency staff verify subjects and see
    // only their own letters (checked by the gateway), never the whole ledger.
    let ledgers = [
        Action::ManageUsers,
        Action::ReadObjectionLedger,
        Action::ReadVerificationLedger,
        Action::HandleTickets,
        Action::ReadServiceQuality,
        // Q8, Q9: the working-day calendar is the administrators' to extend.
        Action::ManageCalendar,
        // Q8: recording an objection received by letter is the provider's check.
        Action::RecordObjection,
    ];
    for action in ledgers {
        assert!(allowed(&admin(), action, &Resource::Platform), "{action:?}");
        for other in [
            staff("agency_staff", "杭州市发展和改革委员会"),
            staff("source_unit", "杭州市市场监督管理局"),
            reviewer("r1", &[]),
            applicant("a1"),
            member(&institution("acme", "active")),
        ] {
            assert!(
                !allowed(&other, action, &Resource::Platform),
                "{} {action:?}",
                other.role
            );
        }
    }
    let agency = staff("agency_staff", "杭州市发展和改革委员会");
    assert!(allowed(
        &agency,
        Action::VerifySubjects,
        &Resource::Platform
    ));
    for other in [admin(), staff("source_unit", "杭州市市场监督管理局")] {
        assert!(!allowed(
            &other,
            Action::VerifySubjects,
            &Resource::Platform
        ));
    }
}

#[test]
fn only_the_provider_accepts_objections_and_only_a_subject_objects_as_one() {
    // Q8 / 6.4.2: administrators (the service provider) check a received objection and
    // accept or return it; the source unit resolves it only once accepted, and cannot
    // accept it; nobody else can.
    let objection = Resource::Objection {
        id: "o1".into(),
        source_unit: "杭州市市场监督管理局".into(),
        dispatched: false,
    };
    assert!(allowed(&admin(), Action::AcceptObjection, &objection));
    assert!(allowed(&admin(), Action::ReadObjection, &objection));
    // 6.4.3: the source unit has it only once accepted, and then resolves it.
    let unit = staff("source_unit", "杭州市市场监督管理局");
    assert!(!allowed(&unit, Action::ReadObjection, &objection));
    assert!(!allowed(&unit, Action::ResolveObjection, &objection));
    let dispatched = Resource::Objection {
        id: "o1".into(),
        source_unit: "杭州市市场监督管理局".into(),
        dispatched: true,
    };
    assert!(allowed(&unit, Action::ReadObjection, &dispatched));
    assert!(allowed(&unit, Action::ResolveObjection, &dispatched));
    assert!(!allowed(&unit, Action::AcceptObjection, &dispatched));
    let other_unit = staff("source_unit", "杭州市发展和改革委员会");
    assert!(!allowed(&other_unit, Action::ReadObjection, &dispatched));
    for other in [
        staff("source_unit", "杭州市市场监督管理局"),
        staff("agency_staff", "杭州市发展和改革委员会"),
        reviewer("r1", &[]),
        applicant("a1"),
        member(&institution("acme", "active")),
    ] {
        assert!(
            !allowed(&other, Action::AcceptObjection, &objection),
            "{}",
            other.role
        );
    }
    // A person objects as the subject of their own records only.
    let person = |subject: &str| Principal {
        user_id: format!("person-{subject}"),
        role: "person".into(),
        subject: Some(subject.into()),
        ..Default::default()
    };
    let record_of = |subject: &str| Resource::PersonRecord {
        subject: subject.into(),
        readers: vec!["person-P2".into()],
        report_readers: vec![],
    };
    assert!(allowed(
        &person("P1"),
        Action::ObjectAsSubject,
        &record_of("P1")
    ));
    // An authorisation to read someone's record is not the right to object as them.
    assert!(!allowed(
        &person("P2"),
        Action::ObjectAsSubject,
        &record_of("P1")
    ));
    for other in [
        admin(),
        staff("source_unit", "杭州市市场监督管理局"),
        applicant("a1"),
    ] {
        assert!(
            !allowed(&other, Action::ObjectAsSubject, &record_of("P1")),
            "{}",
            other.role
        );
    }
}
