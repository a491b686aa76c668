//! An institution's products as pages (issue 19, BRIEF P8, P9): the registration form
//! of 附件3, made from a job whose sample was released, with every field at fault named
//! at once; the institution's products with their review (how many reviews are in until
//! the decision; then every review) and the recommendation. Every rule is the
//! platform's (`Platform::register_product`, `institution_products`, `product_view`).

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use governance::identity::Caller;
use governance::products::{Description, ProductError, Registration};
use platform::review::ReviewFailure;
use serde::Deserialize;

use super::csrf::{Checked, Posted};
use super::session::{SignedIn, see_other};
use super::workspace::own;
use super::{Chrome, Faults, PageError, render_with_token};
use crate::api::{ApiError, AppState, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/workspace/products", get(products).post(register))
}

/// A product in the list.
struct ProductRow {
    name: String,
    status: &'static str,
    registered: String,
    reviews_in: usize,
    /// The reviews, once decided: who, scores and opinion.
    reviews: Vec<String>,
}

/// A job a product may be registered from.
struct JobChoice {
    id: String,
    label: String,
}

#[derive(Template)]
#[template(path = "workspace/products.html")]
struct ProductsPage {
    chrome: Chrome,
    csrf: String,
    products: Vec<ProductRow>,
    jobs: Vec<JobChoice>,
    fields: HashMap<String, String>,
    faults: Faults,
    registered: bool,
}

impl ProductsPage {
    /// What was typed in `field`.
    fn typed(&self, field: &str) -> &str {
        self.fields.get(field).map_or("", String::as_str)
    }
}

/// The form's fields, as the registration names them.
const FIELDS: [&str; 10] = [
    "product_name",
    "contact_name",
    "contact_phone",
    "job_id",
    "developed_as_planned",
    "plan_adjustment",
    "description.data_used",
    "description.model",
    "description.product",
    "description.scenarios",
];

async fn products_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    fields: HashMap<String, String>,
    faults: Faults,
    registered: bool,
    status: StatusCode,
) -> Result<Response, PageError> {
    let id = own(caller)?;
    let mut products = Vec::new();
    for p in state
        .institution_products(caller, &id)
        .await
        .map_err(ApiError::from)?
    {
        let view = state
            .product_view(caller, &p.id)
            .await
            .map_err(ApiError::from)?;
        products.push(ProductRow {
            name: p.form.product_name.clone(),
            status: super::review::status_zh(p.status.as_str()),
            registered: super::moment(&p.registered_at),
            reviews_in: view.reviews_in,
            reviews: view
                .reviews
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    format!(
                        "评审专家 {}：{}。{}",
                        i + 1,
                        if r.recommend { "推荐" } else { "不推荐" },
                        r.opinion
                    )
                })
                .collect(),
        });
    }
    let jobs = state
        .jobs(caller, &id, None, 50)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .filter(|j| j.state.as_str() == "succeeded")
        .map(|j| JobChoice {
            label: format!("{}（{}）", j.id, super::moment(&j.submitted_at)),
            id: j.id.to_string(),
        })
        .collect();
    Ok(render_with_token(state, headers, status, |csrf| {
        ProductsPage {
            chrome: Chrome::new("workspace"),
            csrf,
            products,
            jobs,
            fields,
            faults,
            registered,
        }
    }))
}

#[derive(Deserialize, Default)]
struct RegisteredQuery {
    registered: Option<String>,
}

/// `GET /workspace/products`: the institution's products and the registration form.
async fn products(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    query: Result<axum::extract::Query<RegisteredQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let registered = query.is_ok_and(|q| q.registered.is_some());
    products_page(
        &state,
        &headers,
        &caller,
        HashMap::from([("developed_as_planned".to_owned(), "yes".to_owned())]),
        Faults::default(),
        registered,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct RegistrationForm {
    csrf: Option<String>,
    #[serde(flatten)]
    fields: HashMap<String, String>,
}

impl Posted for RegistrationForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /workspace/products`: registers the product; a refusal names every field at
/// fault at once, with what was typed kept.
async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<RegistrationForm>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    let fields: HashMap<String, String> = form
        .fields
        .into_iter()
        .filter(|(k, _)| FIELDS.contains(&k.as_str()))
        .collect();
    let text = |k: &str| fields.get(k).map_or("", |v| v.trim()).to_owned();
    let registration = Registration {
        product_name: text("product_name"),
        contact_name: text("contact_name"),
        contact_phone: text("contact_phone"),
        job_id: text("job_id").as_str().into(),
        developed_as_planned: match text("developed_as_planned").as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        plan_adjustment: Some(text("plan_adjustment")).filter(|t| !t.is_empty()),
        description: Description {
            data_used: text("description.data_used"),
            model: text("description.model"),
            product: text("description.product"),
            scenarios: text("description.scenarios"),
        },
    };
    match state
        .register_product(&caller, &id, &registration, &request_id())
        .await
    {
        Ok(_) => Ok(see_other("/workspace/products?registered=1")),
        Err(ReviewFailure::Product(ProductError::Invalid(errors))) => {
            let mut faults = Faults::default();
            for e in errors {
                faults.add(&e.field, &e.zh);
            }
            products_page(
                &state,
                &headers,
                &caller,
                fields,
                faults,
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => {
            let error = ApiError::from(e);
            if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
                return Err(error.into());
            }
            let status = error.status();
            let faults = Faults::of(&error, &FIELDS);
            products_page(&state, &headers, &caller, fields, faults, false, status).await
        }
    }
}
