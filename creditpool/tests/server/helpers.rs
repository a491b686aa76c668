//! A gateway on a loopback port with its own database, and a client for it.

use std::net::SocketAddr;

use gateway::api::{self, AppState, Settings};
use governance::identity::{self, NewUser, Role};
use platform::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A running gateway.
pub struct TestApp {
    pub address: SocketAddr,
    pub store: Store,
    pub workspaces: std::sync::Arc<workbench::workspace::Workspaces>,
    pub client: reqwest::Client,
    /// Keeps the database folder alive.
    pub dir: tempfile::TempDir,
}

/// The sample data set every test gateway serves, generated once per test binary
/// (scale 0.02: 2,000 enterprises).
pub fn sample_data() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        samples::generate(
            &samples::GenerateOptions {
                scale: 0.02,
                seed: 99,
                as_of: samples::default_as_of(),
                out: dir.path().to_path_buf(),
                threads: 0,
            },
            &|_| {},
        )
        .expect("sample data generates");
        dir
    })
    .path()
}

/// Tests that time the server (a deadline kept, a cancel or a kill acted on within
/// seconds) and the tests that load the machine's cores for minutes (the Python suites:
/// contract.rs, python_client.rs) each hold this lock, so that none of them runs while
/// another does: on two cores a timing would otherwise measure the other test.
pub async fn exclusive_cores() -> tokio::sync::MutexGuard<'static, ()> {
    static CORES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    CORES.lock().await
}

/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// Starts a gateway on 127.0.0.1:0 over a fresh database.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Starts a gateway whose settings `adjust` changes first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("tmp");
        let store = platform::store::open(&dir.path().join("creditpool.db"))
            .await
            .expect("database");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let address = listener.local_addr().expect("address");
        let mut settings = Settings::new(sample_data(), dir.path().join("workspaces"));
        settings.job_worker = worker();
        // Staff log in with a password alone here, as in the demo; second_factor.rs
        // turns second factors on (the server's default).
        settings.second_factor.required = false;
        // Reports' QR codes and verification addresses point at this server.
        settings.public.base_url = format!("http://{address}");
        adjust(&mut settings);
        let state = AppState::start(store.clone(), settings)
            .await
            .expect("the gateway starts");
        let workspaces = state.workspaces.clone();
        tokio::spawn(async move { api::serve(listener, state).await });
        TestApp {
            address,
            store,
            workspaces,
            client: reqwest::Client::new(),
            dir,
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Creates a platform user with [`PASSWORD`].
    pub async fn user(&self, username: &str, role: Role) -> String {
        self.user_of(username, role, None).await
    }

    /// Creates a user with [`PASSWORD`], of an institution if one is given.
    pub async fn user_of(&self, username: &str, role: Role, institution: Option<&str>) -> String {
        self.user_in(username, role, institution, None, None).await
    }

    /// Creates a user with [`PASSWORD`] with every attachment a role may need: an
    /// institution, an organisation (agency or source unit), a person's subject id.
    pub async fn user_in(
        &self,
        username: &str,
        role: Role,
        institution: Option<&str>,
        organisation: Option<&str>,
        subject_id: Option<&str>,
    ) -> String {
        let mut tx = self.store.write().await.expect("tx");
        let id = identity::create_user(
            &mut tx,
            NewUser {
                username,
                display_name: username,
                role,
                institution_id: institution,
                organisation,
                subject_id,
                password: PASSWORD,
            },
            &"test".into(),
            &"-".into(),
        )
        .await
        .expect("user");
        tx.commit().await.expect("commit");
        id.into_string()
    }

    /// Logs in and returns the session token.
    pub async fn login(&self, username: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/sessions",
                None,
                Some(serde_json::json!({ "username": username, "password": PASSWORD })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Sends a request with an optional bearer token and JSON body; returns the status
    /// and the JSON body (`null` if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let method_name = method.as_str().to_lowercase();
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        assert!(
            response.headers().contains_key("x-request-id"),
            "every response has a request id"
        );
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        conforms(&method_name, path, status, &value);
        (status, value)
    }
}

/// The contract the answers are held to: `/api/openapi.json` as the server describes
/// itself, with a validator for each answer it gives a schema (issue 17: every answer
/// any test receives through [`TestApp::call`] or [`TestApp::upload`] is checked
/// against its operation's schema for that status).
struct Contract {
    document: Value,
    validators:
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

fn contract() -> &'static Contract {
    static CONTRACT: std::sync::OnceLock<Contract> = std::sync::OnceLock::new();
    CONTRACT.get_or_init(|| Contract {
        document: gateway::api::openapi::document(),
        validators: Default::default(),
    })
}

/// The operation's path template that `path` (without its query) matches, preferring
/// literal segments.
fn template_of<'d>(paths: &'d serde_json::Map<String, Value>, path: &str) -> Option<&'d str> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    paths
        .keys()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') {
                    continue;
                }
                if part != segment {
                    return None;
                }
                literal += 1;
            }
            Some((literal, template.as_str()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template)
}

/// Checks a JSON answer against the schema its operation declares for its status.
pub fn conforms(method: &str, path: &str, status: StatusCode, value: &Value) {
    let contract = contract();
    let Some(paths) = contract.document["paths"].as_object() else {
        return;
    };
    let Some(template) = template_of(paths, path) else {
        return;
    };
    let schema = &paths[template][method]["responses"][status.as_str()]["content"]["application/json"]
        ["schema"];
    if !schema.is_object() {
        return;
    }
    let key = format!("{method} {template} {status}");
    let validator = {
        let mut validators = contract.validators.lock().expect("validators");
        validators
            .entry(key.clone())
            .or_insert_with(|| {
                let root = serde_json::json!({
                    "allOf": [schema],
                    "components": contract.document["components"],
                });
                std::sync::Arc::new(
                    jsonschema::draft202012::new(&root)
                        .unwrap_or_else(|e| panic!("{key}: the schema does not compile: {e}")),
                )
            })
            .clone()
    };
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{key}: the answer does not conform to its schema:\n{}\n{value}",
        errors.join("\n")
    );
}

impl TestApp {
    /// Uploads raw bytes with a content type (evidence files).
    pub async fn upload(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        conforms("post", path, status, &value);
        (status, value)
    }

    /// One registered enterprise of the sample data, as the public search returns it.
    pub async fn search_sample(&self) -> Value {
        self.search_samples(1).await.remove(0)
    }

    /// The first `limit` subjects a search for 公司 finds.
    pub async fn search_samples(&self, limit: usize) -> Vec<Value> {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/api/v1/public/subjects?q=%E5%85%AC%E5%8F%B8&limit={limit}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["items"].as_array().cloned().unwrap_or_default();
        assert!(!items.is_empty(), "{body}");
        items
    }

    /// The audit log's actions about `subject`, in order.
    pub async fn audit_actions(&self, subject: &str) -> Vec<String> {
        sqlx::query_scalar("SELECT action FROM audit_log WHERE subject = ? ORDER BY seq")
            .bind(subject)
            .fetch_all(self.store.pool())
            .await
            .expect("the audit log reads")
    }

    /// Creates a draft of `form` for the applicant `token`, uploads an evidence file for
    /// each qualification and lists it there; returns the application's path.
    pub async fn draft_with_evidence(&self, token: &str, mut form: Value) -> String {
        let (status, draft) = self
            .call(
                Method::POST,
                "/api/v1/applications",
                Some(token),
                Some(form.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{draft}");
        let path = format!("/api/v1/applications/{}", draft["id"].as_str().expect("id"));
        let count = form["qualifications"].as_array().map_or(0, Vec::len);
        for i in 0..count {
            let (status, file) = self
                .upload(
                    &format!("{path}/evidence?filename=evidence-{i}.pdf"),
                    token,
                    "application/pdf",
                    format!("%PDF-1.4\n% evidence {i}\n%%EOF\n").into_bytes(),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{file}");
            form["qualifications"][i]["evidence"] = serde_json::json!([file["id"]]);
        }
        let (status, body) = self.call(Method::PUT, &path, Some(token), Some(form)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        path
    }
}

/// Asserts an API error: status, code, and that the message and request id are there.
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.len() > 10),
        "{body}"
    );
    assert!(body["error"]["request_id"].as_str().is_some(), "{body}");
}

/// [`assert_error`], and the message says `says`.
pub fn assert_error_saying(
    status: StatusCode,
    body: &Value,
    expected: StatusCode,
    code: &str,
    says: &str,
) {
    assert_error(status, body, expected, code);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(says)),
        "'{says}' not in {body}"
    );
}

/// The job worker: this build's `creditpool` binary (the test binary itself is not one).
pub fn worker() -> workbench::worker::WorkerCommand {
    workbench::worker::WorkerCommand::new(env!("CARGO_BIN_EXE_creditpool"))
}
