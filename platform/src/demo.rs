//! The demo's accounts: a login for every role and an institution admitted through the
//! real workflow (application with evidence, entry criteria, three reviews, decision,
//! account opening), so that every screen and endpoint has something to show. Only
//! `creditpool demo` calls this, on a database of its own.

use crate::Platform;
use crate::criteria;
use governance::accounts;
use governance::form::ApplicationForm;
use governance::identity::{self, NewUser, Role};
use governance::review::{self, Scores};
use governance::{applications, evidence};
use storage::ids::{RequestId, UserId};

/// The password of every demo login.
pub const PASSWORD: &str = "demo-password-not-secret";

/// One demo login.
#[derive(Clone, Debug)]
pub struct DemoLogin {
    /// `administrator`, `reviewer`, `institution`, `applicant`, `agency_staff`,
    /// `source_unit` or `person`.
    pub role: &'static str,
    /// Login name.
    pub username: &'static str,
}

impl DemoLogin {
    /// The TOTP secret (base32) of a staff login, known like its password, given to it
    /// when the demo asks staff for second factors; `None` for the others.
    pub fn second_factor_secret(&self) -> Option<String> {
        Role::parse(self.role)
            .is_some_and(Role::is_staff)
            .then(|| governance::second_factor::base32(&self.secret_bytes()))
    }

    /// Whether this login has a second factor in the demo's database.
    pub async fn has_second_factor(&self, store: &crate::store::Store) -> anyhow::Result<bool> {
        let mut tx = store.write().await?;
        Ok(
            match identity::user_named_in(&mut tx, self.username).await? {
                Some(id) => governance::second_factor::confirmed(&mut tx, &id).await?,
                None => false,
            },
        )
    }

    fn secret_bytes(&self) -> [u8; 20] {
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            format!("creditpool demo second factor {}", self.username).as_bytes(),
        );
        let mut secret = [0u8; 20];
        secret.copy_from_slice(&digest.as_ref()[..20]);
        secret
    }
}

/// The demo's logins of the public side, seeded on every run that lacks them: agency
/// staff (of a demo agency), a source unit's user (of the first unit the records name)
/// and a natural person (the first of the population register).
pub const PUBLIC_LOGINS: [DemoLogin; 3] = [
    DemoLogin {
        role: "agency_staff",
        username: "demo.agency",
    },
    DemoLogin {
        role: "source_unit",
        username: "demo.source",
    },
    DemoLogin {
        role: "person",
        username: "demo.person",
    },
];

/// The agency of the demo's agency staff.
pub const DEMO_AGENCY: &str = "演示市发展和改革委员会";

/// Every demo login but the public side's, in the order printed.
pub const LOGINS: [DemoLogin; 6] = [
    DemoLogin {
        role: "administrator",
        username: "demo.admin",
    },
    DemoLogin {
        role: "reviewer",
        username: "demo.reviewer1",
    },
    DemoLogin {
        role: "reviewer",
        username: "demo.reviewer2",
    },
    DemoLogin {
        role: "reviewer",
        username: "demo.reviewer3",
    },
    DemoLogin {
        role: "institution",
        username: "demo.institution",
    },
    DemoLogin {
        role: "applicant",
        username: "demo.applicant",
    },
];

/// Seeds the demo accounts once (a second run finds them and changes nothing).
pub async fn seed(state: &Platform) -> anyhow::Result<Vec<DemoLogin>> {
    let store = &state.store;
    // The demo's seeding is audited as the actor `demo`, outside any request.
    let (demo, none) = (UserId::from("demo"), RequestId::from("-"));
    let seeded = identity::user_named(store, LOGINS[0].username).await?;
    if seeded.is_some() {
        let logins = seed_public(state).await?;
        // Asked for second factors, a demo seeded without them gives its staff theirs now.
        let mut tx = store.write().await?;
        let required = state.settings.second_factor.required;
        for login in logins
            .iter()
            .filter(|l| required && l.second_factor_secret().is_some())
        {
            let Some(id) = identity::user_named_in(&mut tx, login.username).await? else {
                continue;
            };
            if !governance::second_factor::exists(&mut tx, &id).await? {
                governance::second_factor::enrol_known(
                    &mut tx,
                    &state.settings.second_factor,
                    &id,
                    &login.secret_bytes(),
                    &demo,
                    &none,
                )
                .await?;
            }
        }
        tx.commit().await?;
        return Ok(logins);
    }
    let mut ids = Vec::new();
    {
        let mut tx = store.write().await?;
        for login in &LOGINS {
            let role = match login.role {
                "administrator" => Role::Administrator,
                "reviewer" => Role::Reviewer,
                // The institution's user applies first and becomes the institution's
                // user when its account opens.
                _ => Role::Applicant,
            };
            let id = create_login(
                state,
                &mut tx,
                login,
                NewUser {
                    username: login.username,
                    display_name: login.username,
                    role,
                    institution_id: None,
                    organisation: None,
                    subject_id: None,
                    password: PASSWORD,
                },
            )
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
    }
    let (admin, reviewers, applicant) = (&ids[0], &ids[1..4], &ids[4]);
    let today = crate::store::china_today();
    let eligible = criteria::eligible(state.workspaces.catalog(), today, 1).await?;
    let (uscc, name) = eligible.into_iter().next().ok_or_else(|| {
        anyhow::anyhow!("the sample data has no enterprise meeting the entry criteria")
    })?;
    let mut form: ApplicationForm = serde_json::from_value(serde_json::json!({
        "institution_name": name,
        "uscc": uscc,
        "contact_name": "演示联系人",
        "contact_phone": "0571-87654321",
        "basic_situation": "演示机构：从样例数据中选出的、满足准入条件的企业。",
        "qualifications": [
            { "kind": "security_practice", "description": "网络安全等级保护三级", "evidence": [] }
        ],
        "product_name": "小微企业信用评分（演示）",
        "innovation": "融合公共信用信息与自有贷款表现数据",
        "schedule": [
            { "start": today, "end": today + chrono::Duration::days(180), "description": "建模与验证" }
        ],
        "scenarios": "普惠信贷审批",
        "commitment": { "accepted": true, "signed_by": "演示法定代表人" },
        "data_supply": ["enterprises", "admin_penalties", "abnormal_operations", "credit_evaluations"],
        "own_data": [{ "source_unit": "本机构", "table_name": "贷款表现", "shareable": false }]
    }))?;
    let draft = applications::create(store, applicant, &form, &none).await?;
    let file = evidence::upload(
        store,
        &draft.id,
        applicant,
        "等保三级测评报告（演示）.pdf",
        "application/pdf",
        b"%PDF-1.4\n% creditpool demo evidence\n%%EOF\n",
        &none,
    )
    .await?;
    form.qualifications[0].evidence = vec![file.id];
    applications::update(store, &draft.id, applicant, &form, &none).await?;
    let submitted = state
        .submit_application(&draft.id, applicant, &none)
        .await?;
    anyhow::ensure!(
        submitted.criteria.is_some(),
        "the demo application's entry criteria were not checked (see the log)"
    );
    review::assign(
        store,
        &draft.id,
        reviewers,
        review::MIN_REVIEWERS,
        admin,
        &none,
    )
    .await?;
    for reviewer in reviewers {
        let scores = Scores {
            compliance: 85,
            innovation: 80,
            prospects: 82,
            opinion: "材料齐全，符合准入条件（演示评审意见）。".into(),
        };
        review::submit_review(store, &draft.id, reviewer, &scores, &none).await?;
    }
    review::decide(
        store,
        &draft.id,
        true,
        "三位专家一致同意（演示）",
        admin,
        &none,
    )
    .await?;
    accounts::open_batch(
        store,
        std::slice::from_ref(&draft.id),
        state.settings.default_quotas,
        &state.settings.workspaces_dir,
        admin,
        &none,
    )
    .await?;
    // The other applicant keeps a draft, to show the applicant's side.
    let other = ApplicationForm {
        institution_name: Some("演示申请机构".into()),
        ..ApplicationForm::default()
    };
    applications::create(store, &ids[5], &other, &none).await?;
    seed_public(state).await
}

/// Seeds the public side's logins a database lacks; answers every demo login.
async fn seed_public(state: &Platform) -> anyhow::Result<Vec<DemoLogin>> {
    let unit = state
        .records
        .source_units()
        .iter()
        .next()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the sample data names no source unit"))?;
    let person = first_person(state).await?;
    let mut tx = state.store.write().await?;
    for login in &PUBLIC_LOGINS {
        if identity::user_named_in(&mut tx, login.username)
            .await?
            .is_some()
        {
            continue;
        }
        let (role, organisation, subject_id, display_name) = match login.role {
            "agency_staff" => (Role::AgencyStaff, Some(DEMO_AGENCY), None, "演示核查员"),
            "source_unit" => (
                Role::SourceUnit,
                Some(unit.as_str()),
                None,
                "演示数源单位办理人",
            ),
            _ => (
                Role::Person,
                None,
                Some(person.subject_id.as_str()),
                person.name.as_str(),
            ),
        };
        create_login(
            state,
            &mut tx,
            login,
            NewUser {
                username: login.username,
                display_name,
                role,
                institution_id: None,
                organisation,
                subject_id,
                password: PASSWORD,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(LOGINS.iter().chain(&PUBLIC_LOGINS).cloned().collect())
}

/// Creates demo login `login` as `user`, audited as the actor `demo`; a staff login
/// gets its known second factor when the platform asks staff for one.
async fn create_login(
    state: &Platform,
    tx: &mut crate::store::Tx,
    login: &DemoLogin,
    user: NewUser<'_>,
) -> anyhow::Result<UserId> {
    let (demo, none) = (UserId::from("demo"), RequestId::from("-"));
    let id = identity::create_user(tx, user, &demo, &none).await?;
    if state.settings.second_factor.required && login.second_factor_secret().is_some() {
        governance::second_factor::enrol_known(
            tx,
            &state.settings.second_factor,
            &id,
            &login.secret_bytes(),
            &demo,
            &none,
        )
        .await?;
    }
    Ok(id)
}

/// The first person of the population register.
async fn first_person(state: &Platform) -> anyhow::Result<::public::records::Person> {
    let ctx = datafusion::prelude::SessionContext::new();
    state
        .workspaces
        .catalog()
        .register(&ctx, &["persons"])
        .await?;
    let batches = ctx
        .sql("SELECT subject_id FROM persons ORDER BY subject_id LIMIT 1")
        .await?
        .collect()
        .await?;
    let subject = batches
        .iter()
        .flat_map(workbench::cells::objects)
        .find_map(|row| {
            row.get("subject_id")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .ok_or_else(|| anyhow::anyhow!("the sample data has no person"))?;
    state
        .records
        .person_by_subject(&subject)
        .ok_or_else(|| anyhow::anyhow!("person {subject} is not in the records"))
}
