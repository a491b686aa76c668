//! Crash safety (issue 17, item 7): the server killed as `kill -9` kills it in the middle
//! of an own-data upload, a model upload, a running job, a sample release and a report
//! issuance. After a restart nothing is half-visible, no file is left that no record
//! keeps, the storage charged equals the files on disk, every release and report is in
//! the audit chain and the chain verifies; and the interrupted action can be done again.
//!
//! Each case runs the `creditpool demo` binary over a database of its own. Most die at a
//! crash point (`storage::crash`: the process sends itself SIGKILL at the worst moment of
//! a state change, so the moment is exact); two are killed from outside, while a job runs
//! and while an upload streams in.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::sample_data;

/// A `creditpool demo` server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub address: String,
    pub client: reqwest::Client,
}

impl Server {
    /// Starts the demo over `dir`'s database, with the crash point `crash_at` armed.
    pub fn start(dir: &Path, crash_at: Option<&str>) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_creditpool"));
        command
            .args([
                "demo",
                "--scale",
                "0.02",
                "--listen",
                "127.0.0.1:0",
                "--data",
            ])
            .arg(sample_data())
            .arg("--database")
            .arg(dir.join("demo.db"))
            .env_remove("CREDITPOOL_CONFIG")
            .env_remove(storage::crash::VARIABLE)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(point) = crash_at {
            command.env(storage::crash::VARIABLE, point);
        }
        let mut child = command.spawn().expect("the binary runs");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let mut address = None;
        for line in lines.by_ref() {
            let line = line.expect("line");
            if let Some(rest) = line.strip_prefix("creditpool listening on http://") {
                address = rest.split_whitespace().next().map(str::to_owned);
                break;
            }
        }
        // The rest of its words are read, so that a full pipe never stops it.
        std::thread::spawn(move || lines.for_each(drop));
        Server {
            child,
            address: address.expect("the demo says where it listens"),
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A JSON request; the status and body, or None when the server gave no answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Option<(StatusCode, Value)> {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.ok()?;
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        Some((status, body))
    }

    /// A raw body with a content type.
    pub async fn send(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Option<(StatusCode, Value)> {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .ok()?;
        let status = response.status();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Uploads the loans CSV as own table `name`; the answer, or None when the server
    /// gave none.
    pub async fn upload_loans(
        &self,
        token: &str,
        institution: &str,
        name: &str,
    ) -> Option<(StatusCode, Value)> {
        self.send(
            &upload_path(institution, name),
            token,
            "text/csv",
            LOANS.into(),
        )
        .await
    }

    /// The demo institution's token and id.
    pub async fn institution(&self) -> (String, String) {
        let (status, session) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/sessions",
                None,
                Some(
                    json!({ "username": "demo.institution", "password": platform::demo::PASSWORD }),
                ),
            )
            .await
            .expect("login");
        assert_eq!(status, StatusCode::CREATED, "{session}");
        let token = session["token"].as_str().expect("token").to_owned();
        let (_, me) = self
            .call(reqwest::Method::GET, "/api/v1/me", Some(&token), None)
            .await
            .expect("me");
        let institution = me["institution_id"]
            .as_str()
            .expect("institution")
            .to_owned();
        (token, institution)
    }

    /// Waits for the server to end by SIGKILL.
    pub fn killed(mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert_eq!(status.signal(), Some(9), "ended by SIGKILL: {status}");
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not die"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const LOANS: &str = "loan_id,amount\nL1,100\nL2,250\nL3,75\n";

fn upload_path(institution: &str, name: &str) -> String {
    format!("/api/v1/institutions/{institution}/own-tables?name={name}&format=csv")
}

pub async fn job(server: &Server, token: &str, institution: &str, sql: &str) -> Value {
    let (status, job) = server
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/institutions/{institution}/jobs"),
            Some(token),
            Some(json!({ "sql": sql })),
        )
        .await
        .expect("submitted");
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    job
}

/// The job, once `done` says so (or None if the server stopped answering).
pub async fn job_until(
    server: &Server,
    token: &str,
    institution: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let started = Instant::now();
    loop {
        let (_, job) = server
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/institutions/{institution}/jobs/{id}"),
                Some(token),
                None,
            )
            .await?;
        if done(&job) {
            return Some(job);
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `sql` as a job to its end, which must be success; its id.
pub async fn succeeded(server: &Server, token: &str, institution: &str, sql: &str) -> String {
    let submitted = job(server, token, institution, sql).await;
    let id = submitted["id"].as_str().expect("id").to_owned();
    let done = job_until(server, token, institution, &id, |j| {
        j["ended_at"].is_string()
    })
    .await
    .expect("answered");
    assert_eq!(done["state"], "succeeded", "{done}");
    id
}

/// Every file under `dir`, with its size.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                folders.push(entry.path());
            } else {
                out.push((entry.path(), meta.len()));
            }
        }
    }
    out.sort();
    out
}

/// What must hold after a restart, whatever was interrupted.
pub async fn consistent(dir: &Path, server: &Server, token: &str, institution: &str) {
    let database = dir.join("demo.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", database.display()))
        .await
        .expect("the database");
    let workspace = dir.join("workspaces").join(institution);
    let recorded: Vec<String> = sqlx::query_scalar(
        "SELECT path FROM own_tables WHERE deleted_at IS NULL AND institution_id = ?1 \
         UNION SELECT path FROM models WHERE deleted_at IS NULL AND institution_id = ?1",
    )
    .bind(institution)
    .fetch_all(&pool)
    .await
    .expect("paths");
    let results: Vec<String> =
        sqlx::query_scalar("SELECT id FROM jobs WHERE state = 'succeeded' AND institution_id = ?")
            .bind(institution)
            .fetch_all(&pool)
            .await
            .expect("jobs");
    let files = files_under(&workspace);
    for (file, _) in &files {
        let kept = recorded.iter().any(|p| Path::new(p) == file)
            || results
                .iter()
                .any(|id| *file == workspace.join("results").join(format!("{id}.parquet")));
        assert!(kept, "{} is left that no record keeps", file.display());
    }
    for path in &recorded {
        assert!(Path::new(path).is_file(), "{path} is recorded but missing");
    }
    // The storage charged is the files on disk.
    let (status, usage) = server
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/institutions/{institution}/usage"),
            Some(token),
            None,
        )
        .await
        .expect("usage");
    assert_eq!(status, StatusCode::OK, "{usage}");
    let on_disk: u64 = files.iter().map(|(_, size)| size).sum();
    assert_eq!(usage["storage_bytes"]["used"], on_disk, "{usage}");
    // Every release and issued report is in the audit chain, and every audited one
    // exists.
    let count = |sql: &'static str| {
        let pool = &pool;
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(pool)
                .await
                .expect("count")
        }
    };
    let unaudited_releases = count(concat!(
        "SELECT COUNT(*) FROM releases t WHERE NOT EXISTS (SELECT 1 FROM audit_log a ",
        "WHERE a.subject = t.id AND a.action IN ",
        "('release.sample', 'release.aggregate', 'release.evaluation'))"
    ))
    .await;
    let unrecorded_releases = count(concat!(
        "SELECT COUNT(*) FROM audit_log a WHERE a.action IN ",
        "('release.sample', 'release.aggregate', 'release.evaluation') ",
        "AND NOT EXISTS (SELECT 1 FROM releases t WHERE t.id = a.subject)"
    ))
    .await;
    let unaudited_reports = count(concat!(
        "SELECT COUNT(*) FROM issued_reports t WHERE NOT EXISTS (SELECT 1 FROM audit_log a ",
        "WHERE a.subject = t.number AND a.action = 'report.issued')"
    ))
    .await;
    let unrecorded_reports = count(concat!(
        "SELECT COUNT(*) FROM audit_log a WHERE a.action = 'report.issued' ",
        "AND NOT EXISTS (SELECT 1 FROM issued_reports t WHERE t.number = a.subject)"
    ))
    .await;
    assert_eq!(
        (
            unaudited_releases,
            unrecorded_releases,
            unaudited_reports,
            unrecorded_reports
        ),
        (0, 0, 0, 0),
        "the ledgers and the audit log disagree"
    );
    pool.close().await;
    let verified = Command::new(env!("CARGO_BIN_EXE_creditpool"))
        .args(["audit", "verify", "--database"])
        .arg(&database)
        .env_remove("CREDITPOOL_CONFIG")
        .output()
        .expect("audit verify");
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_by_a_crash_leaves_nothing_and_can_be_made_again() {
    for point in ["upload.received", "upload.converted"] {
        let dir = tempfile::tempdir().expect("tmp");
        let server = Server::start(dir.path(), Some(point));
        let (token, institution) = server.institution().await;
        let answer = server.upload_loans(&token, &institution, "loans").await;
        assert!(answer.is_none(), "{point}: answered {answer:?}");
        server.killed();

        let server = Server::start(dir.path(), None);
        let (token, institution) = server.institution().await;
        let (_, tables) = server
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/institutions/{institution}/own-tables"),
                Some(&token),
                None,
            )
            .await
            .expect("tables");
        assert_eq!(tables["items"], json!([]), "{point}: {tables}");
        consistent(dir.path(), &server, &token, &institution).await;
        let (status, table) = server
            .upload_loans(&token, &institution, "loans")
            .await
            .expect("answered");
        assert_eq!(status, StatusCode::CREATED, "{point}: {table}");
        consistent(dir.path(), &server, &token, &institution).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_streaming_in_when_the_server_is_killed_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), None);
    let (token, institution) = server.institution().await;
    // A body that comes slowly: the request says 10 MB, and some rows are sent.
    use tokio::io::AsyncWriteExt;
    let mut socket = tokio::net::TcpStream::connect(&server.address)
        .await
        .expect("connect");
    let mut body = String::from("loan_id,amount\n");
    for i in 0..2_000 {
        body.push_str(&format!("L{i},{i}\n"));
    }
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: text/csv\r\nContent-Length: 10000000\r\n\r\n",
        upload_path(&institution, "slow"),
        server.address
    );
    socket.write_all(head.as_bytes()).await.expect("sent");
    socket.write_all(body.as_bytes()).await.expect("sent");
    socket.flush().await.expect("sent");
    // The upload is on disk, growing.
    let uploads = dir
        .path()
        .join("workspaces")
        .join(&institution)
        .join("uploads");
    let started = Instant::now();
    while files_under(&uploads).iter().all(|(_, size)| *size == 0) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no upload appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut server = server;
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();
    drop(socket);
    drop(server);

    let server = Server::start(dir.path(), None);
    let (token, institution) = server.institution().await;
    assert!(
        files_under(&uploads).is_empty(),
        "{:?}",
        files_under(&uploads)
    );
    consistent(dir.path(), &server, &token, &institution).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_upload_cut_by_a_crash_leaves_nothing_and_can_be_made_again() {
    let model = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/models/linear_score.wat"
    ))
    .expect("the model");
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), Some("model.written"));
    let (token, institution) = server.institution().await;
    let models = format!("/api/v1/institutions/{institution}/models");
    let answer = server
        .send(&models, &token, "text/plain", model.clone())
        .await;
    assert!(answer.is_none(), "answered {answer:?}");
    server.killed();

    let server = Server::start(dir.path(), None);
    let (token, institution) = server.institution().await;
    let (_, listed) = server
        .call(reqwest::Method::GET, &models, Some(&token), None)
        .await
        .expect("models");
    assert!(
        !listed.to_string().contains("linear_score"),
        "half-uploaded model visible: {listed}"
    );
    consistent(dir.path(), &server, &token, &institution).await;
    let (status, body) = server
        .send(&models, &token, "text/plain", model)
        .await
        .expect("answered");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    consistent(dir.path(), &server, &token, &institution).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_cut_by_a_crash_or_a_kill_fails_and_leaves_no_result() {
    let _cores = crate::helpers::exclusive_cores().await;
    let sql = "SELECT subject_id, name FROM enterprises";
    // The crash point: the result is in place, the job not yet recorded as ended.
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), Some("job.result_placed"));
    let (token, institution) = server.institution().await;
    let submitted = job(&server, &token, &institution, sql).await;
    let id = submitted["id"].as_str().expect("id").to_owned();
    let seen = job_until(&server, &token, &institution, &id, |j| {
        j["ended_at"].is_string()
    })
    .await;
    assert!(seen.is_none(), "the job ended: {seen:?}");
    server.killed();
    let server = Server::start(dir.path(), None);
    let (token, institution) = server.institution().await;
    let ended = job_until(&server, &token, &institution, &id, |_| true)
        .await
        .expect("answered");
    assert_eq!(ended["state"], "failed", "{ended}");
    assert!(
        ended["error"]
            .as_str()
            .is_some_and(|e| e.contains("the server restarted")),
        "{ended}"
    );
    consistent(dir.path(), &server, &token, &institution).await;
    // It runs when submitted again.
    succeeded(&server, &token, &institution, sql).await;
    consistent(dir.path(), &server, &token, &institution).await;

    // Killed from outside while a job runs: its worker dies with the server.
    let long = "SELECT COUNT(*) AS n FROM enterprises a, enterprises b, enterprises c \
                WHERE a.name <> b.name OR b.name <> c.name";
    let running = job(&server, &token, &institution, long).await;
    let id = running["id"].as_str().expect("id").to_owned();
    job_until(&server, &token, &institution, &id, |j| {
        j["state"] == "running"
    })
    .await
    .expect("running");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut server = server;
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();
    drop(server);
    let started = Instant::now();
    while worker_of(&id) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the job's worker outlived its server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let server = Server::start(dir.path(), None);
    let (token, institution) = server.institution().await;
    let ended = job_until(&server, &token, &institution, &id, |_| true)
        .await
        .expect("answered");
    assert_eq!(ended["state"], "failed", "{ended}");
    consistent(dir.path(), &server, &token, &institution).await;
}

/// Whether a job worker of job `id` is alive.
fn worker_of(id: &str) -> bool {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .any(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline);
            text.contains("job-worker") && text.contains(id)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_cut_by_a_crash_is_not_recorded_nor_counted() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), Some("audited:release.sample"));
    let (token, institution) = server.institution().await;
    let id = succeeded(
        &server,
        &token,
        &institution,
        "SELECT subject_id, region_name FROM enterprises",
    )
    .await;
    let sample = format!("/api/v1/institutions/{institution}/jobs/{id}/sample");
    let answer = server
        .call(reqwest::Method::POST, &sample, Some(&token), None)
        .await;
    assert!(answer.is_none(), "answered {answer:?}");
    server.killed();

    let server = Server::start(dir.path(), None);
    let (token, institution) = server.institution().await;
    consistent(dir.path(), &server, &token, &institution).await;
    let (_, usage) = server
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/institutions/{institution}/usage"),
            Some(&token),
            None,
        )
        .await
        .expect("usage");
    assert_eq!(usage["sampled_rows_per_day"]["used"], 0, "{usage}");
    let (status, released) = server
        .call(reqwest::Method::POST, &sample, Some(&token), None)
        .await
        .expect("answered");
    assert_eq!(status, StatusCode::CREATED, "{released}");
    consistent(dir.path(), &server, &token, &institution).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_cut_by_a_crash_is_not_issued_and_can_be_asked_again() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = Server::start(dir.path(), Some("audited:report.issued"));
    let (token, institution) = server.institution().await;
    let (_, found) = server
        .call(
            reqwest::Method::GET,
            "/api/v1/public/subjects?q=%E5%85%AC%E5%8F%B8&limit=1",
            None,
            None,
        )
        .await
        .expect("search");
    let uscc = found["items"][0]["uscc"].as_str().expect("uscc").to_owned();
    let reports = format!("/api/v1/public/subjects/{uscc}/reports");
    let answer = server
        .call(reqwest::Method::POST, &reports, None, None)
        .await;
    assert!(answer.is_none(), "answered {answer:?}");
    server.killed();
    drop(token);

    let server = Server::start(dir.path(), None);
    let (token, institution2) = server.institution().await;
    assert_eq!(institution, institution2);
    consistent(dir.path(), &server, &token, &institution).await;
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        dir.path().join("demo.db").display()
    ))
    .await
    .expect("database");
    let issued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM issued_reports")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(issued, 0);
    let response = server
        .client
        .post(server.url(&reports))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::CREATED);
    let issued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM issued_reports")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(issued, 1);
    pool.close().await;
    consistent(dir.path(), &server, &token, &institution).await;
}
