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
    }
}

fn reviewer(id: &str, affiliations: &[InstitutionRef]) -> Principal {
    Principal {
        user_id: id.into(),
        role: "reviewer".into(),
        institution: None,
        affiliations: affiliations.to_vec(),
    }
}

fn member(of: &InstitutionRef) -> Principal {
    Principal {
        user_id: format!("user-of-{}", of.id),
        role: "institution".into(),
        institution: Some(of.clone()),
        affiliations: vec![],
    }
}

fn application(of: &InstitutionRef, reviewers: &[&str]) -> Resource {
    Resource::Application {
        id: format!("app-of-{}", of.id),
        institution: of.clone(),
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
    ] {
        assert!(allowed(&admin(), action, &Resource::Platform));
        assert!(!allowed(&reviewer("r1", &[]), action, &Resource::Platform));
        assert!(!allowed(&member(&acme), action, &Resource::Platform));
    }
    let app = application(&acme, &[]);
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
    let own = application(&acme, &[]);
    let theirs = application(&other, &[]);
    for action in [
        Action::ReadApplication,
        Action::EditApplication,
        Action::SubmitApplication,
    ] {
        assert!(allowed(&member(&acme), action, &own), "{action:?}");
        assert!(!allowed(&member(&acme), action, &theirs), "{action:?}");
    }
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
        for action in [
            Action::UseWorkspace,
            Action::SubmitReport,
            Action::CreateApplication,
        ] {
            assert!(!allowed(&user, action, &home), "{status} {action:?}");
        }
        let own = application(&acme, &[]);
        assert!(!allowed(&user, Action::ReadApplication, &own), "{status}");
        let key = Resource::Credential {
            id: "k1".into(),
            owner: user.user_id.clone(),
        };
        assert!(!allowed(&user, Action::ManageCredentials, &key), "{status}");
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
    let acme = institution("acme", "active");
    let app = application(&acme, &["r1", "r2", "r3"]);
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
fn a_reviewer_may_not_review_an_institution_they_belong_to() {
    let acme = institution("acme", "active");
    let conflicted = reviewer("r1", std::slice::from_ref(&acme));
    let app = application(&acme, &["r1"]);
    assert!(!allowed(&conflicted, Action::ReviewApplication, &app));
    let product = Resource::Product {
        id: "p1".into(),
        institution: acme.clone(),
        reviewers: vec!["r1".into()],
    };
    assert!(!allowed(&conflicted, Action::ReviewProduct, &product));
    // Belonging to another institution is no conflict.
    let elsewhere = reviewer("r1", &[institution("other", "active")]);
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
