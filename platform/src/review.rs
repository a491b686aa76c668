//! Expert review (BRIEF P3, P9) as every front door shows it and asks for it: an
//! application or a product as its reader may see it (what one may not see is, to
//! them, not there), the reviews blind until the decision (issue 15), a product's
//! institution management record for its reviewers, a reviewer's assignments, reviews
//! submitted, conflicts of interest declared.

use governance::accounts::{self, LifecycleEvent};
use governance::applications::{self, Application, ApplicationError};
use governance::identity::{Caller, Role};
use governance::products::{self, Assessment, Product, ProductError, ProductReview};
use governance::review::{self, Decision, ReviewError, Scores};
use policies::access::{Action, InstitutionRef, Resource};
use serde::Serialize;
use storage::ids::{ApplicationId, ProductId, RequestId};
use storage::states::{ApplicationStatus, InstitutionStatus};

use crate::store::StoreError;
use crate::{Platform, Refusal};

/// Why a review request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReviewFailure {
    /// The caller may not do it, or may not see the thing at all.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The application is unknown or in the wrong stage.
    #[error(transparent)]
    Application(#[from] ApplicationError),
    /// The review was refused (its scores, the stage, an affiliation in use).
    #[error(transparent)]
    Review(#[from] ReviewError),
    /// The product is unknown, or the request is refused.
    #[error(transparent)]
    Product(#[from] ProductError),
    /// The institution could not be read.
    #[error(transparent)]
    Account(#[from] governance::accounts::AccountError),
    /// The institution's progress reports could not be read.
    #[error(transparent)]
    Report(#[from] governance::progress::ReportError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An application's reviews, as the caller may see them (blind until the decision).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reviews {
    /// The application's status.
    pub status: ApplicationStatus,
    /// How many reviews are in.
    pub reviews_in: usize,
    /// The reviews the caller may read.
    pub reviews: Vec<review::Review>,
    /// The decision, once made.
    pub decision: Option<Decision>,
}

/// A product as its reader may see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductView {
    /// The product.
    pub product: Product,
    /// How many reviews are in.
    pub reviews_in: usize,
    /// The reviews: all once the product is decided; before, a reviewer's own only,
    /// all for administrators, none for the institution (blind review).
    pub reviews: Vec<ProductReview>,
    /// The institution's management record (P9), for reviewers and administrators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub management_record: Option<ManagementRecord>,
}

/// The institution's day-to-day management record, for reviewing its product (P9).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ManagementRecord {
    /// Its status.
    pub status: InstitutionStatus,
    /// Its suspensions, reinstatements and termination.
    pub lifecycle: Vec<LifecycleEvent>,
    /// Its re-evaluations.
    pub evaluations: Vec<governance::progress::Evaluation>,
    /// Its progress reports, period by period.
    pub progress_reports: Vec<governance::progress::Period>,
}

/// An application or a product assigned to a reviewer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Assignment {
    /// `application` or `product`.
    pub kind: String,
    /// Its id.
    pub id: String,
    /// The applicant institution's name, or the product's.
    pub name: String,
    /// Where it is in its review.
    pub status: String,
    /// When the reviewer was assigned.
    pub assigned_at: String,
    /// Whether the reviewer has submitted their review.
    pub reviewed: bool,
}

impl Platform {
    /// The application as a resource of the access rules, with its reviewers.
    async fn application_resource(&self, a: &Application) -> Result<Resource, StoreError> {
        Ok(Resource::Application {
            id: a.id.to_string(),
            applicant: a.applicant_id.to_string(),
            uscc: policies::Uscc::canonical(a.form.uscc.as_deref().unwrap_or_default()),
            reviewers: review::reviewers(&self.store, &a.id).await?,
        })
    }

    /// Application `id` if `caller` may do `action` on it; one they may not even read
    /// is not found.
    pub async fn application(
        &self,
        caller: &Caller,
        id: &ApplicationId,
        action: Action,
    ) -> Result<Application, ReviewFailure> {
        let application = applications::get(&self.store, id).await?;
        let target = self.application_resource(&application).await?;
        if self
            .authorize(caller, Action::ReadApplication, &target)
            .is_err()
        {
            return Err(Refusal::NotFound("application").into());
        }
        self.authorize(caller, action, &target)?;
        Ok(application)
    }

    /// Whether `caller` may read `application` (a list shows only what a read allows).
    pub async fn may_read_application(
        &self,
        caller: &Caller,
        application: &Application,
    ) -> Result<bool, StoreError> {
        let target = self.application_resource(application).await?;
        Ok(self
            .access
            .is_allowed(&crate::principal(caller), Action::ReadApplication, &target)
            .unwrap_or(false))
    }

    /// Application `id`'s reviews as `caller` may see them: until the decision each
    /// reviewer sees only their own, the applicant how many are in and not who wrote
    /// what, administrators all; after it, all.
    pub async fn application_reviews(
        &self,
        caller: &Caller,
        id: &ApplicationId,
    ) -> Result<Reviews, ReviewFailure> {
        let application = self
            .application(caller, id, Action::ReadApplication)
            .await?;
        let decision = review::decision(&self.store, id).await?;
        let mut reviews = review::reviews(&self.store, id).await?;
        let reviews_in = reviews.len();
        if decision.is_none() {
            match caller.role {
                Role::Administrator => {}
                Role::Reviewer => reviews.retain(|r| r.reviewer_id == caller.user_id),
                _ => reviews.clear(),
            }
        }
        Ok(Reviews {
            status: application.status,
            reviews_in,
            reviews,
            decision,
        })
    }

    /// Records `caller`'s review of application `id`.
    pub async fn review_application(
        &self,
        caller: &Caller,
        id: &ApplicationId,
        scores: &Scores,
        request_id: &RequestId,
    ) -> Result<(), ReviewFailure> {
        self.application(caller, id, Action::ReviewApplication)
            .await?;
        review::submit_review(&self.store, id, &caller.user_id, scores, request_id).await?;
        Ok(())
    }

    /// The product as a resource of the access rules, with its reviewers.
    async fn product_resource(&self, p: &Product) -> Result<Resource, ReviewFailure> {
        let status = accounts::get(&self.store, &p.institution_id).await?.status;
        Ok(Resource::Product {
            id: p.id.to_string(),
            institution: InstitutionRef {
                id: p.institution_id.to_string(),
                status: status.to_string(),
            },
            uscc: p.uscc.clone(),
            reviewers: products::reviewers(&self.store, &p.id).await?,
        })
    }

    /// Product `id` if `caller` may do `action` on it; not found if they may not even
    /// read it (a suspended institution reading its own is told it is suspended).
    pub async fn product(
        &self,
        caller: &Caller,
        id: &ProductId,
        action: Action,
    ) -> Result<Product, ReviewFailure> {
        let product = products::get(&self.store, id).await?;
        let target = self.product_resource(&product).await?;
        let can_read = self
            .access
            .is_allowed(&crate::principal(caller), Action::ReadProduct, &target)
            .map_err(|e| Refusal::Internal(e.to_string()))?;
        if !can_read {
            if caller.institution_id.as_deref() == Some(product.institution_id.as_str()) {
                self.authorize(caller, Action::ReadProduct, &target)?;
            }
            return Err(Refusal::NotFound("product").into());
        }
        if action != Action::ReadProduct {
            self.authorize(caller, action, &target)?;
        }
        Ok(product)
    }

    /// Product `id` with its reviews as `caller` may see them (blind until the
    /// decision) and, for reviewers and administrators, the institution's management
    /// record (P9).
    pub async fn product_view(
        &self,
        caller: &Caller,
        id: &ProductId,
    ) -> Result<ProductView, ReviewFailure> {
        let product = self.product(caller, id, Action::ReadProduct).await?;
        let decided = matches!(product.status.as_str(), "recommended" | "not_recommended");
        let only = (caller.role == Role::Reviewer && !decided).then_some(caller.user_id.as_str());
        let mut reviews = products::reviews(&self.store, id, only).await?;
        let reviews_in = if only.is_some() {
            products::reviews(&self.store, id, None).await?.len()
        } else {
            reviews.len()
        };
        if !decided && !matches!(caller.role, Role::Administrator | Role::Reviewer) {
            reviews.clear();
        }
        let management_record = if caller.role == Role::Institution {
            None
        } else {
            let institution = accounts::get(&self.store, &product.institution_id).await?;
            let today = crate::store::china_today();
            Some(ManagementRecord {
                status: institution.status,
                lifecycle: institution.lifecycle,
                evaluations: governance::progress::evaluations(
                    &self.store,
                    &product.institution_id,
                )
                .await?,
                progress_reports: governance::progress::schedule(
                    &self.store,
                    &product.institution_id,
                    today,
                    self.settings.reports,
                )
                .await?,
            })
        };
        Ok(ProductView {
            product,
            reviews_in,
            reviews,
            management_record,
        })
    }

    /// Records `caller`'s review of product `id`.
    pub async fn review_product(
        &self,
        caller: &Caller,
        id: &ProductId,
        assessment: &Assessment,
        request_id: &RequestId,
    ) -> Result<(), ReviewFailure> {
        self.product(caller, id, Action::ReviewProduct).await?;
        products::review(&self.store, id, &caller.user_id, assessment, request_id).await?;
        Ok(())
    }

    /// The applications and products assigned to `caller` (a reviewer), newest first.
    pub async fn assignments(&self, caller: &Caller) -> Result<Vec<Assignment>, ReviewFailure> {
        if caller.role != Role::Reviewer {
            return Err(Refusal::Forbidden {
                code: "forbidden",
                message: "only reviewers are assigned applications and products".into(),
            }
            .into());
        }
        Ok(review::assignments(&self.store, &caller.user_id)
            .await?
            .into_iter()
            .map(|a| Assignment {
                kind: a.kind,
                id: a.id,
                name: a.name,
                status: a.status,
                assigned_at: a.assigned_at,
                reviewed: a.reviewed,
            })
            .collect())
    }

    /// `caller` (a reviewer) declares the institutions they belong to, replacing any
    /// earlier list: the codes as stored.
    pub async fn declare_affiliations(
        &self,
        caller: &Caller,
        usccs: &[String],
        request_id: &RequestId,
    ) -> Result<Vec<String>, ReviewFailure> {
        self.authorize(caller, Action::DeclareAffiliations, &Resource::Platform)?;
        Ok(review::declare_affiliations(&self.store, &caller.user_id, usccs, request_id).await?)
    }

    /// The institutions `caller` (a reviewer) has declared.
    pub async fn affiliations(&self, caller: &Caller) -> Result<Vec<String>, ReviewFailure> {
        self.authorize(caller, Action::DeclareAffiliations, &Resource::Platform)?;
        Ok(review::affiliations(&self.store, &caller.user_id).await?)
    }

    /// Registers a product (附件3) of institution `id` from a job whose sample was
    /// released, for one of its own users; every field at fault named at once.
    pub async fn register_product(
        &self,
        caller: &Caller,
        id: &storage::ids::InstitutionId,
        registration: &products::Registration,
        request_id: &RequestId,
    ) -> Result<Product, ReviewFailure> {
        self.own_institution(caller, id, Action::UseWorkspace, "register its products")?;
        Ok(products::register(&self.store, id, registration, &caller.user_id, request_id).await?)
    }

    /// Institution `id`'s products, for its own users and administrators.
    pub async fn institution_products(
        &self,
        caller: &Caller,
        id: &storage::ids::InstitutionId,
    ) -> Result<Vec<Product>, ReviewFailure> {
        self.institution(caller, id, crate::jobs::read_action(caller))
            .await?;
        Ok(products::of_institution(&self.store, id).await?)
    }

    /// Assigns `reviewer_ids` to application `id` (administrators); a reviewer with a
    /// conflict of interest is refused by the same rule that would stop their review,
    /// named with the reason. The reviewers assigned.
    pub async fn assign_application_reviewers(
        &self,
        caller: &Caller,
        id: &ApplicationId,
        reviewer_ids: &[storage::ids::UserId],
        request_id: &RequestId,
    ) -> Result<Vec<String>, ReviewFailure> {
        let application = self
            .application(caller, id, Action::AssignReviewers)
            .await?;
        let uscc = policies::Uscc::canonical(application.form.uscc.as_deref().unwrap_or_default());
        self.refuse_conflicts(
            reviewer_ids,
            Action::ReviewApplication,
            |reviewer| Resource::Application {
                id: id.to_string(),
                applicant: application.applicant_id.to_string(),
                uscc: uscc.clone(),
                reviewers: vec![reviewer.to_owned()],
            },
            (
                &format!("the applicant ({uscc})"),
                &format!("申请机构（{uscc}）"),
            ),
        )
        .await?;
        Ok(review::assign(
            &self.store,
            id,
            reviewer_ids,
            self.settings.min_reviewers,
            &caller.user_id,
            request_id,
        )
        .await?)
    }

    /// Records the decision on application `id` (administrators), once every assigned
    /// reviewer has reviewed.
    pub async fn decide_application(
        &self,
        caller: &Caller,
        id: &ApplicationId,
        approved: bool,
        reason: &str,
        request_id: &RequestId,
    ) -> Result<Decision, ReviewFailure> {
        self.application(caller, id, Action::DecideApplication)
            .await?;
        Ok(review::decide(
            &self.store,
            id,
            approved,
            reason,
            &caller.user_id,
            request_id,
        )
        .await?)
    }

    /// Assigns `reviewer_ids` to product `id` (administrators), conflicts refused as
    /// for applications.
    pub async fn assign_product_reviewers(
        &self,
        caller: &Caller,
        id: &ProductId,
        reviewer_ids: &[storage::ids::UserId],
        request_id: &RequestId,
    ) -> Result<Vec<String>, ReviewFailure> {
        let product = self
            .product(caller, id, Action::AssignProductReviewers)
            .await?;
        let institution = accounts::get(&self.store, &product.institution_id).await?;
        let owner = InstitutionRef {
            id: institution.id.to_string(),
            status: institution.status.to_string(),
        };
        self.refuse_conflicts(
            reviewer_ids,
            Action::ReviewProduct,
            |reviewer| Resource::Product {
                id: id.to_string(),
                institution: owner.clone(),
                uscc: product.uscc.clone(),
                reviewers: vec![reviewer.to_owned()],
            },
            (
                &format!("the institution ({})", product.uscc),
                &format!("产品所属机构（{}）", product.uscc),
            ),
        )
        .await?;
        Ok(products::assign(
            &self.store,
            id,
            reviewer_ids,
            self.settings.min_reviewers,
            &caller.user_id,
            request_id,
        )
        .await?)
    }

    /// Records whether product `id` is recommended (administrators), with the reason.
    pub async fn decide_product(
        &self,
        caller: &Caller,
        id: &ProductId,
        recommended: bool,
        reason: &str,
        request_id: &RequestId,
    ) -> Result<Product, ReviewFailure> {
        self.product(caller, id, Action::DecideProduct).await?;
        Ok(products::decide(
            &self.store,
            id,
            recommended,
            reason,
            &caller.user_id,
            request_id,
        )
        .await?)
    }

    /// The applications `caller` may read, after `after` (an id), at most `limit`:
    /// administrators all, an applicant their own.
    pub async fn applications(
        &self,
        caller: &Caller,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Vec<Application>, ReviewFailure> {
        Ok(self.applications_page(caller, limit, after).await?.0)
    }

    /// [`Self::applications`], with the id a next page starts after when the stored
    /// page was full.
    pub async fn applications_page(
        &self,
        caller: &Caller,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<Application>, Option<String>), ReviewFailure> {
        let all = self
            .authorize(caller, Action::ListApplications, &Resource::Platform)
            .is_ok();
        let own = (!all).then_some(caller.user_id.as_str());
        let page = applications::list(&self.store, own, limit, after).await?;
        let last = (page.len() == limit as usize)
            .then(|| page.last().map(|a| a.id.to_string()))
            .flatten();
        // Each listed as the single read would allow it (a suspended institution's
        // applicant reads none), so the list never shows what a read refuses.
        let mut items = Vec::with_capacity(page.len());
        for application in page {
            if self.may_read_application(caller, &application).await? {
                items.push(application);
            }
        }
        Ok((items, last))
    }

    /// Every product, newest first (administrators).
    pub async fn all_products(&self, caller: &Caller) -> Result<Vec<Product>, ReviewFailure> {
        self.authorize(caller, Action::ListInstitutions, &Resource::Platform)?;
        Ok(products::all(&self.store).await?)
    }

    /// The reviewers who may be assigned (administrators): every reviewer account, each
    /// with the institutions they declared.
    pub async fn reviewers(
        &self,
        caller: &Caller,
    ) -> Result<Vec<(governance::identity::UserInfo, Vec<String>)>, ReviewFailure> {
        self.authorize(caller, Action::ListApplications, &Resource::Platform)?;
        let mut out = Vec::new();
        for user in governance::identity::list_users(&self.store).await? {
            if user.role == "reviewer" && user.disabled_at.is_none() {
                let declared = review::affiliations(
                    &self.store,
                    &storage::ids::UserId::from(user.id.as_str()),
                )
                .await?;
                out.push((user, declared));
            }
        }
        Ok(out)
    }

    /// Opens the accounts of approved applications `ids` in one batch (administrators):
    /// all or none; each refused id is named in the refusal.
    pub async fn open_accounts(
        &self,
        caller: &Caller,
        ids: &[ApplicationId],
        request_id: &RequestId,
    ) -> Result<Vec<accounts::Opened>, ReviewFailure> {
        self.authorize(caller, Action::OpenAccounts, &Resource::Platform)?;
        Ok(accounts::open_batch(
            &self.store,
            ids,
            self.settings.default_quotas,
            &self.settings.workspaces_dir,
            &caller.user_id,
            request_id,
        )
        .await?)
    }

    /// The reviewers assigned to application `id` (administrators).
    pub async fn application_reviewers(
        &self,
        caller: &Caller,
        id: &ApplicationId,
    ) -> Result<Vec<String>, ReviewFailure> {
        self.application(caller, id, Action::AssignReviewers)
            .await?;
        Ok(review::reviewers(&self.store, id).await?)
    }

    /// The reviewers assigned to product `id` (administrators).
    pub async fn product_reviewers(
        &self,
        caller: &Caller,
        id: &ProductId,
    ) -> Result<Vec<String>, ReviewFailure> {
        self.product(caller, id, Action::AssignProductReviewers)
            .await?;
        Ok(products::reviewers(&self.store, id).await?)
    }
}
