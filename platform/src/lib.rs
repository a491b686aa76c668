//! creditpool's application layer: the platform as every front door sees it. It owns
//! the configuration ([`settings`]), start-up ([`Platform::start`]: the data checked
//! against the catalog, records and the search index loaded, the job queue and the
//! background tasks started), authorization ([`Platform::authorize`] and its helpers,
//! over the Cedar rules), the entry criteria's checks ([`criteria`]), the database as
//! the domain opens it ([`store::open`]), availability ([`uptime`]) and the demo's
//! seeding ([`demo`]). The JSON API, the command line and the demo call it; it knows no
//! HTTP (`.ci/check-deps`).

pub mod applications;
pub mod audit;
pub mod backup;
pub mod calendar;
pub mod credentials;
pub mod criteria;
mod db;
pub mod demo;
pub mod disclosure;
pub mod institutions;
pub mod issuance;
pub mod jobs;
pub mod objections;
pub mod own_data;
pub mod persons;
pub mod releases;
pub mod review;
pub mod settings;
pub mod staff;
pub mod store;
pub mod tickets;
pub mod uptime;

use std::sync::Arc;
use std::time::Duration;
use storage::ids::{ApplicationId, InstitutionId, JobId, RequestId, UserId};
use storage::states::InstitutionStatus;

use governance::identity::{self, Caller};
use governance::progress;
use policies::access::{AccessError, AccessPolicy, Action, InstitutionRef, Principal, Resource};
use storage::store::{Store, StoreError};
use workbench::workspace::Workspaces;

pub use settings::{Network, PublicRate, PublicSettings, Settings};

/// The folder, in the workspaces folder, of compiled models (sealed; no institution's).
pub const COMPILED_MODELS_DIR: &str = ".compiled-models";
/// How often institutions' request counts are written.
const USAGE_FLUSH: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The access rules do not load.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The data folder does not match the catalog.
    #[error("the public-credit data: {0}")]
    Catalog(#[from] catalog::CatalogError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The search index could not be built.
    #[error("building the search index: {0}")]
    Search(String),
    /// The workspaces' folder could not be made.
    #[error("creating the workspaces' folder {0}")]
    Workspaces(String),
    /// Job workers could not be confined on this machine.
    #[error("{0}")]
    Confinement(String),
    /// A runtime of the server's could not be started.
    #[error("starting {0}")]
    Runtime(String),
}

/// Why the platform refused a caller, before any rule of the domain was asked.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The access rules do not allow it (`code`: `forbidden`, or
    /// `institution_suspended` when the caller's institution is suspended or
    /// terminated).
    #[error("{message}")]
    Forbidden {
        /// The stable code.
        code: &'static str,
        /// What the caller is told.
        message: String,
    },
    /// What the caller may not see is, to them, not there.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// A field the rules refuse (a reviewer with a conflict of interest, a query too
    /// long).
    #[error("{message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: storage::said::Said,
    },
    /// The rules or the database failed.
    #[error("{0}")]
    Internal(String),
}

impl Refusal {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            Refusal::Forbidden { .. } => "您的账号无权办理这项业务。".into(),
            Refusal::NotFound("enterprise or organisation") => {
                "没有这个统一社会信用代码的企业或组织，请核对代码。".into()
            }
            Refusal::NotFound("special list") => "没有这个专项名单。".into(),
            Refusal::NotFound(_) => "没有找到，或您无权查看。".into(),
            Refusal::Invalid { message, .. } => message.zh.clone(),
            Refusal::Internal(_) => "服务暂时不可用，请稍后再试。".into(),
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Internal(e.to_string())
    }
}

/// Why a credential of the caller's was not changed.
#[derive(Debug, thiserror::Error)]
pub enum CredentialFailure {
    /// The identity rules refused it (a wrong current password, a weak new one).
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    /// The caller may not do this.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl CredentialFailure {
    /// What a page shows, in Chinese (the API says the English).
    pub fn zh(&self) -> String {
        match self {
            CredentialFailure::Identity(e) => e.zh(),
            CredentialFailure::Refused(e) => e.zh(),
        }
    }
}

/// The caller's own credentials, as a resource of the access rules.
pub fn own_credentials(caller: &Caller) -> Resource {
    Resource::Credential {
        id: "*".into(),
        owner: caller.user_id.to_string(),
    }
}

/// A document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The report font cannot be loaded (the log says why).
    #[error(
        "PDF documents cannot be made at the moment: ask for format=html or json, or try later"
    )]
    FontUnavailable,
    /// Rendering failed inside the platform.
    #[error("{0}")]
    Internal(String),
}

/// The platform: its database, rules, data and queues, shared by every front door.
#[derive(Debug)]
pub struct Platform {
    /// The platform database.
    pub store: Store,
    /// The access rules.
    pub access: Arc<AccessPolicy>,
    /// The institutions' workspaces and jobs.
    pub workspaces: Arc<Workspaces>,
    /// The platform's set-up.
    pub settings: Arc<Settings>,
    /// The public search index of enterprises and organisations (Q4).
    pub search: Arc<::public::search::Index>,
    /// The working-day calendar in force (Q8, Q9).
    pub calendars: Arc<desk::calendar::Calendars>,
    /// Objection marks of records and subjects, cached between changes (Q8).
    pub marks: Arc<desk::objections::Marks>,
    /// Every public record in memory, indexed by subject (Q1–Q7).
    pub records: Arc<::public::records::Records>,
    /// The lists and qualifications of the special queries (Q4).
    pub special: Arc<::public::special::Special>,
    /// Institutions' requests per day, written every few seconds (P7).
    pub usage: Arc<progress::Usage>,
    /// The report font, loaded on first use (the server serves JSON without it).
    face: std::sync::OnceLock<Result<Arc<::public::pdf::Face>, String>>,
    /// One permit per core for rendering documents: under load, documents queue for a
    /// core rather than dozens of threads taking turns on two.
    renders: tokio::sync::Semaphore,
}

impl Platform {
    /// The platform over an opened store: access rules loaded and validated, the data
    /// folder checked against the catalog, the job queue and the background tasks
    /// (heartbeat, calendar refresh, usage counts) started.
    pub async fn start(store: Store, settings: Settings) -> Result<Platform, StartError> {
        let catalog = Arc::new(catalog::Catalog::open(&settings.data_dir)?);
        // The two are independent: decoded side by side, on both cores.
        let indexing = tokio::spawn({
            let catalog = catalog.clone();
            async move { ::public::search::Index::load(&catalog).await }
        });
        let records = ::public::records::Records::load(&catalog)
            .await
            .map_err(|e| StartError::Search(e.to_string()))?;
        let search = indexing
            .await
            .map_err(|e| StartError::Search(e.to_string()))?
            .map_err(|e| StartError::Search(e.to_string()))?;
        let (search, records) = (Arc::new(search), Arc::new(records));
        let special = Arc::new(::public::special::Special::load(&records));
        if workbench::worker::landlock_abi().is_none() && !settings.allow_unconfined_jobs {
            return Err(StartError::Confinement(
                "this kernel has no Landlock, so job workers cannot be confined to their jobs' files: run on Linux 5.13 or later with landlock among the security modules (6.12 or later for every right), or set server.allow_unconfined_jobs = true to try the platform out without it".into(),
            ));
        }
        std::fs::create_dir_all(&settings.workspaces_dir).map_err(|e| {
            StartError::Workspaces(format!("{}: {e}", settings.workspaces_dir.display()))
        })?;
        let swept = workbench::worker::sweep_staging(&settings.workspaces_dir);
        if swept > 0 {
            tracing::warn!(
                folders = swept,
                "staging folders of a previous process removed"
            );
        }
        let workspaces = Workspaces::start(
            store.clone(),
            catalog,
            settings.gate.secret.clone(),
            workbench::workspace::JobSettings {
                slots: settings.job_slots,
                limits: settings.job_limits.clone(),
                worker: settings
                    .job_worker
                    .clone()
                    .on_cpus(workbench::worker::job_cpus(settings.reserved_cores)),
                compiled_models: settings.workspaces_dir.join(COMPILED_MODELS_DIR),
                allow_unconfined: settings.allow_unconfined_jobs,
            },
        )
        .await?;
        // After a crash or a restore: only the files the database records stay.
        workbench::recovery::reconcile(
            &store,
            &settings.workspaces_dir,
            &settings.workspaces_dir.join(COMPILED_MODELS_DIR),
        )
        .await?;
        let calendars =
            Arc::new(desk::calendar::Calendars::load(&store, settings.calendar.clone()).await?);
        let heartbeat_store = store.clone();
        tokio::spawn({
            let calendars = calendars.clone();
            async move {
                let mut every = tokio::time::interval(Duration::from_secs(60));
                loop {
                    every.tick().await;
                    if let Err(e) = uptime::heartbeat(&heartbeat_store).await {
                        tracing::warn!("writing the heartbeat: {e}");
                    }
                    // A year added from the command line, or by another node (the
                    // first tick is at once: deadlines decided while the server was
                    // down are recounted at start).
                    if let Err(e) = calendars.refresh(&heartbeat_store).await {
                        tracing::warn!("reading the working-day calendar: {e}");
                    }
                }
            }
        });
        let usage = Arc::new(progress::Usage::default());
        tokio::spawn({
            let (usage, store) = (usage.clone(), store.clone());
            async move {
                let mut every = tokio::time::interval(USAGE_FLUSH);
                loop {
                    every.tick().await;
                    if let Err(e) = usage.flush(&store).await {
                        tracing::warn!("writing the usage counts: {e}");
                    }
                }
            }
        });
        Ok(Platform {
            store,
            access: Arc::new(AccessPolicy::load()?),
            workspaces,
            settings: Arc::new(settings),
            search,
            calendars,
            marks: Arc::default(),
            records,
            special,
            usage,
            face: std::sync::OnceLock::new(),
            renders: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            ),
        })
    }

    /// The report font, loaded on first use.
    pub fn face(&self) -> Result<Arc<::public::pdf::Face>, DocumentError> {
        self.face
            .get_or_init(|| {
                let path = self.settings.public.font.to_string_lossy().into_owned();
                ::public::pdf::Face::load(&path, 0)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| {
                tracing::error!("{e}");
                DocumentError::FontUnavailable
            })
    }

    /// Runs `render` (a PDF, CPU-bound) on a blocking thread once a core is free.
    pub async fn render<T: Send + 'static>(
        &self,
        render: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, DocumentError> {
        let _core = self
            .renders
            .acquire()
            .await
            .map_err(|e| DocumentError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(render)
            .await
            .map_err(|e| DocumentError::Internal(e.to_string()))
    }

    /// Refuses unless the access rules allow `caller` to do `action` on `resource`. A
    /// suspended or terminated institution is told so; every refusal of an institution's
    /// user counts in its usage.
    pub fn authorize(
        &self,
        caller: &Caller,
        action: Action,
        resource: &Resource,
    ) -> Result<(), Refusal> {
        let principal = principal(caller);
        if self
            .access
            .is_allowed(&principal, action, resource)
            .map_err(rules_failed)?
        {
            return Ok(());
        }
        self.count_refusal(caller);
        match caller.institution_status {
            Some(status @ (InstitutionStatus::Suspended | InstitutionStatus::Terminated)) => {
                Err(Refusal::Forbidden {
                    code: "institution_suspended",
                    message: format!(
                        "your institution is {status}: it may only read its status (GET /api/v1/me) until it is reinstated"
                    ),
                })
            }
            _ => Err(Refusal::Forbidden {
                code: "forbidden",
                message: format!(
                    "your role may not {} here",
                    action.as_str().replace('_', " ")
                ),
            }),
        }
    }

    /// The caller changes their own password, giving the current one (a wrong guess
    /// counts as a failed login from `client`); every other session of theirs is
    /// revoked. Answers how many were. Audited.
    pub async fn change_own_password(
        &self,
        caller: &Caller,
        current: &str,
        new: &str,
        client: &str,
        request_id: &RequestId,
    ) -> Result<u64, CredentialFailure> {
        self.authorize(caller, Action::ManageCredentials, &own_credentials(caller))?;
        Ok(
            identity::change_password(&self.store, caller, current, new, client, request_id)
                .await?,
        )
    }

    /// Counts a refused request in the usage of the caller's institution, if they are one
    /// of its users (measured usage, BRIEF P7): a probe of another institution's id is a
    /// refusal even though it is answered as not found.
    fn count_refusal(&self, caller: &Caller) {
        if let Some(institution) = &caller.institution_id {
            self.usage.count(institution, true);
        }
    }

    /// Authorizes `action` on institution `id` as it is now (its status read from the
    /// store): an institution's users are told that another institution does not exist,
    /// and the probe is still counted as a refusal.
    pub async fn institution(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        action: Action,
    ) -> Result<(), Refusal> {
        let foreign = caller.role == identity::Role::Institution
            && caller.institution_id.as_ref() != Some(id);
        let status = governance::accounts::status(&self.store, id).await?;
        let Some(status) = status.filter(|_| !foreign) else {
            if foreign {
                self.count_refusal(caller);
            }
            return Err(Refusal::NotFound("institution"));
        };
        self.authorize(
            caller,
            action,
            &Resource::Institution(InstitutionRef {
                id: id.into(),
                status: status.as_str().to_owned(),
            }),
        )
    }

    /// Authorizes `action` on institution `id` for that institution's own users only
    /// (uploads, releases, registrations): another institution's users are told it does
    /// not exist, platform staff that only its users may do `what`.
    pub fn own_institution(
        &self,
        caller: &Caller,
        id: &InstitutionId,
        action: Action,
        what: &str,
    ) -> Result<(), Refusal> {
        if caller.role != identity::Role::Institution || caller.institution_id.as_ref() != Some(id)
        {
            if caller.role == identity::Role::Institution {
                self.count_refusal(caller);
                return Err(Refusal::NotFound("institution"));
            }
            return Err(Refusal::Forbidden {
                code: "forbidden",
                message: format!("only the institution's own users {what}"),
            });
        }
        self.authorize(
            caller,
            action,
            &Resource::Institution(InstitutionRef {
                id: id.into(),
                status: caller
                    .institution_status
                    .map_or_else(String::new, |s| s.as_str().to_owned()),
            }),
        )
    }

    /// Refuses, naming the field, any of `reviewer_ids` whom the access rules would not
    /// let do `action` on the target built for them: a declared affiliation with the
    /// institution under review is a conflict of interest.
    pub async fn refuse_conflicts(
        &self,
        reviewer_ids: &[UserId],
        action: Action,
        target: impl Fn(&str) -> Resource,
        (whose, whose_zh): (&str, &str),
    ) -> Result<(), Refusal> {
        for (i, reviewer) in reviewer_ids.iter().enumerate() {
            let principal = Principal {
                user_id: reviewer.to_string(),
                role: "reviewer".into(),
                institution: None,
                affiliations: governance::review::affiliations(&self.store, reviewer).await?,
                ..Default::default()
            };
            let allowed = self
                .access
                .is_allowed(&principal, action, &target(reviewer))
                .map_err(rules_failed)?;
            if !allowed {
                // Named as people know them: their name and login, not an id.
                let name = governance::identity::list_users(&self.store)
                    .await?
                    .into_iter()
                    .find(|u| u.id == reviewer.as_str())
                    .map_or_else(
                        || reviewer.to_string(),
                        |u| format!("{} ({})", u.display_name, u.username),
                    );
                return Err(Refusal::Invalid {
                    field: format!("reviewer_ids[{i}]"),
                    message: storage::said::Said::new(
                        format!(
                            "reviewer {name} ('{reviewer}') has declared an affiliation with {whose} and may not review it; none was assigned"
                        ),
                        format!(
                            "评审专家 {name} 已申报与{whose_zh}存在关联，不能评审（利益冲突）；本次未分配任何专家。"
                        ),
                    ),
                });
            }
        }
        Ok(())
    }
}

impl Platform {
    /// An applicant submits their application (BRIEF P1, P2): the form checked for
    /// submission, then the entry criteria checked from the platform's data and
    /// attached for the reviewers. A failure of the criteria's check is the platform's,
    /// not the applicant's: the submission stands and the operators are told (the log).
    /// Returns the application as submitted, with its criteria when they were checked.
    pub async fn submit_application(
        &self,
        id: &ApplicationId,
        applicant: &UserId,
        request_id: &RequestId,
    ) -> Result<governance::applications::Application, governance::applications::ApplicationError>
    {
        use governance::applications;
        let tables = catalog::Manifest::builtin()
            .tables
            .iter()
            .map(|t| t.id.clone())
            .collect();
        let submitted =
            applications::submit(&self.store, id, applicant, &tables, request_id).await?;
        let today = storage::store::china_today();
        match criteria::check(self.workspaces.catalog(), &submitted.form, today).await {
            Ok(report) => {
                applications::attach_criteria(&self.store, id, &report, request_id).await?
            }
            Err(e) => tracing::error!(application = %id, "entry criteria not checked: {e}"),
        }
        applications::get(&self.store, id).await
    }
}

/// Why suspending or terminating an institution did not go through.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The account's rules refused it, or the database failed.
    #[error(transparent)]
    Account(#[from] governance::accounts::AccountError),
    /// Its jobs could not be stopped.
    #[error(transparent)]
    Workspace(#[from] workbench::workspace::WorkspaceError),
}

impl Platform {
    /// An administrator suspends an institution (BRIEF P7): the account suspended with
    /// its reason and rectification deadline, its queued and running jobs cancelled, and
    /// other institutions' jobs reading its shared tables stopped too (issue 14, class
    /// 6). Returns the jobs cancelled.
    pub async fn suspend_institution(
        &self,
        id: &InstitutionId,
        reason: &str,
        rectification_deadline: chrono::NaiveDate,
        actor: &UserId,
        request_id: &RequestId,
    ) -> Result<Vec<JobId>, LifecycleError> {
        governance::accounts::suspend(
            &self.store,
            id,
            reason,
            rectification_deadline,
            actor,
            request_id,
        )
        .await?;
        let mut cancelled = self.workspaces.cancel_all(id).await?;
        cancelled.extend(
            self.workspaces
                .cancel_revoked_readers(&self.access, id, actor, request_id)
                .await?,
        );
        Ok(cancelled)
    }

    /// An administrator terminates an institution (BRIEF P7): its jobs stopped first, so
    /// that none is still writing into the workspace being deleted; then the account
    /// terminated and its workspace deleted with a deletion record; then others' jobs
    /// reading its shared tables, no one's to read now, stopped. Returns the jobs
    /// cancelled.
    pub async fn terminate_institution(
        &self,
        id: &InstitutionId,
        reason: &str,
        actor: &UserId,
        request_id: &RequestId,
    ) -> Result<Vec<JobId>, LifecycleError> {
        let mut cancelled = self.workspaces.cancel_all(id).await?;
        for job in &cancelled {
            self.workspaces.wait(job).await;
        }
        governance::accounts::terminate(&self.store, id, reason, actor, request_id).await?;
        cancelled.extend(
            self.workspaces
                .cancel_revoked_readers(&self.access, id, actor, request_id)
                .await?,
        );
        Ok(cancelled)
    }
}

/// The access rules could not be evaluated: logged here, since a caller may discard
/// the refusal (a check whose answer only decides what to show).
fn rules_failed(e: AccessError) -> Refusal {
    tracing::error!("evaluating the access rules: {e}");
    Refusal::Internal(e.to_string())
}

/// The caller as the access rules see them.
pub fn principal(caller: &Caller) -> Principal {
    Principal {
        user_id: caller.user_id.to_string(),
        role: caller.role.as_str().to_owned(),
        institution: caller
            .institution_id
            .as_ref()
            .map(InstitutionId::to_string)
            .zip(caller.institution_status.map(|s| s.as_str().to_owned()))
            .map(|(id, status)| InstitutionRef { id, status }),
        affiliations: caller.affiliations.clone(),
        organisation: caller.organisation.clone(),
        subject: caller.subject_id.clone(),
    }
}
