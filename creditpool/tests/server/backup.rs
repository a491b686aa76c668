//! Backup and restore (issue 17, item 8): `creditpool backup` while the demo server runs,
//! `creditpool restore` into a fresh folder, and the restored platform served: the
//! audit chain verifies, a report issued before the backup still verifies, a job's
//! result is the one whose hash was recorded, a sample is released again exactly as
//! before (the keys came back), and what changed after the backup is not there.

use std::path::Path;
use std::process::{Command, Output};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::crash::{Server, consistent, succeeded};

fn creditpool(args: &[&str], paths: &[&Path]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_creditpool"));
    command.args(args).env_remove("CREDITPOOL_CONFIG");
    for path in paths {
        command.arg(path);
    }
    command.output().expect("the binary runs")
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn restore(from: &Path, database: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_creditpool"));
    command
        .arg("restore")
        .arg("--from")
        .arg(from)
        .arg("--database")
        .arg(database)
        .env_remove("CREDITPOOL_CONFIG");
    command.output().expect("the binary runs")
}

async fn tables(server: &Server, token: &str, institution: &str) -> Vec<String> {
    let (_, tables) = server
        .call(
            Method::GET,
            &format!("/api/v1/institutions/{institution}/own-tables"),
            Some(token),
            None,
        )
        .await
        .expect("tables");
    tables["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_into_a_fresh_folder_and_serves() {
    let original = tempfile::tempdir().expect("tmp");
    let server = Server::start(original.path(), None);
    let (token, institution) = server.institution().await;
    // Own data, a model, a job and its sample, and a report: every kind of state.
    let (status, table) = server
        .upload_loans(&token, &institution, "loans")
        .await
        .expect("answered");
    assert_eq!(status, StatusCode::CREATED, "{table}");
    let model = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/models/linear_score.wat"
    ))
    .expect("the model");
    let models = format!("/api/v1/institutions/{institution}/models");
    let (status, uploaded) = server
        .send(&models, &token, "text/plain", model)
        .await
        .expect("answered");
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let job_id = succeeded(
        &server,
        &token,
        &institution,
        "SELECT subject_id, region_name FROM enterprises",
    )
    .await;
    let sample_path = format!("/api/v1/institutions/{institution}/jobs/{job_id}/sample");
    let (status, sample) = server
        .call(Method::POST, &sample_path, Some(&token), None)
        .await
        .expect("answered");
    assert_eq!(status, StatusCode::CREATED, "{sample}");
    assert!(
        sample["rows"].as_array().is_some_and(|r| !r.is_empty()),
        "{sample}"
    );
    let (_, found) = server
        .call(
            Method::GET,
            "/api/v1/public/subjects?q=%E5%85%AC%E5%8F%B8&limit=1",
            None,
            None,
        )
        .await
        .expect("search");
    let uscc = found["items"][0]["uscc"].as_str().expect("uscc").to_owned();
    let (status, report) = server
        .call(
            Method::POST,
            &format!("/api/v1/public/subjects/{uscc}/reports"),
            None,
            None,
        )
        .await
        .expect("answered");
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let number = report["cover"]["report_number"].as_str().expect("number");
    let code = report["cover"]["verification_code"].as_str().expect("code");

    // The backup, online.
    let backups = tempfile::tempdir().expect("tmp");
    let backup = backups.path().join("b1");
    let database = original.path().join("demo.db");
    let made = creditpool(
        &["backup", "--database"],
        &[&database, Path::new("--to"), &backup],
    );
    assert!(made.status.success(), "{}", said(&made));
    assert!(said(&made).contains("backed up into"), "{}", said(&made));
    // A folder that is not empty is refused.
    let again = creditpool(
        &["backup", "--database"],
        &[&database, Path::new("--to"), &backup],
    );
    assert!(!again.status.success());
    assert!(said(&again).contains("is not empty"), "{}", said(&again));
    // What changes after the backup is not in it.
    let (status, _) = server
        .upload_loans(&token, &institution, "later")
        .await
        .expect("answered");
    assert_eq!(status, StatusCode::CREATED);
    drop(server);
    // The original platform is gone: the restored one must stand on the backup alone.
    drop(original);

    // A damaged backup is refused before anything is written.
    let damaged = backups.path().join("damaged");
    copy_tree(&backup, &damaged);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(damaged.join("manifest.json")).expect("manifest"))
            .expect("json");
    let own_file = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .find(|p| p.contains("/own/"))
        .expect("the own table is in the backup")
        .to_owned();
    let mut bytes = std::fs::read(damaged.join(&own_file)).expect("file");
    bytes[10] ^= 0xff;
    std::fs::write(damaged.join(&own_file), bytes).expect("write");
    let fresh = tempfile::tempdir().expect("tmp");
    let restored_database = fresh.path().join("demo.db");
    let refused = restore(&damaged, &restored_database);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains(&own_file) && said(&refused).contains("damaged"),
        "{}",
        said(&refused)
    );
    assert!(
        !restored_database.exists(),
        "a refused restore wrote nothing"
    );

    // The restore.
    let restored = restore(&backup, &restored_database);
    assert!(restored.status.success(), "{}", said(&restored));
    // It never overwrites a platform.
    let twice = restore(&backup, &restored_database);
    assert!(!twice.status.success());
    assert!(
        said(&twice).contains("never overwrites"),
        "{}",
        said(&twice)
    );
    let verified = creditpool(&["audit", "verify", "--database"], &[&restored_database]);
    assert!(verified.status.success(), "{}", said(&verified));

    // Served.
    let server = Server::start(fresh.path(), None);
    let (token, restored_institution) = server.institution().await;
    assert_eq!(restored_institution, institution);
    assert_eq!(tables(&server, &token, &institution).await, ["loans"]);
    let (_, listed) = server
        .call(Method::GET, &models, Some(&token), None)
        .await
        .expect("models");
    assert!(listed.to_string().contains("linear_score"), "{listed}");
    // The job's result is the file whose hash was recorded.
    let recorded: String = {
        let pool =
            sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", restored_database.display()))
                .await
                .expect("database");
        let hash = sqlx::query_scalar("SELECT result_sha256 FROM jobs WHERE id = ?")
            .bind(&job_id)
            .fetch_one(&pool)
            .await
            .expect("job");
        pool.close().await;
        hash
    };
    let result = fresh
        .path()
        .join("workspaces")
        .join(&institution)
        .join("results")
        .join(format!("{job_id}.parquet"));
    let (_, on_disk) = storage::store::sha256_file(&result).expect("the result");
    assert_eq!(on_disk, recorded);
    // The report issued before the backup verifies.
    let (status, verdict) = server
        .call(
            Method::GET,
            &format!("/api/v1/public/reports/verify?number={number}&code={code}"),
            None,
            None,
        )
        .await
        .expect("answered");
    assert_eq!(status, StatusCode::OK, "{verdict}");
    assert_eq!(verdict["valid"], true, "{verdict}");
    // The sample is released again as it was: same rows, counted once.
    let (status, again) = server
        .call(Method::POST, &sample_path, Some(&token), None)
        .await
        .expect("answered");
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["rows"], sample["rows"]);
    // The restored platform runs jobs over the restored own table and model.
    succeeded(
        &server,
        &token,
        &institution,
        "SELECT loan_id, linear_score(CAST(amount AS DOUBLE), 0.0, 1.0) AS s FROM loans",
    )
    .await;
    consistent(fresh.path(), &server, &token, &institution).await;
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn a_folder_that_is_not_a_sound_backup_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let database = dir.path().join("restored").join("demo.db");
    let not_backup = dir.path().join("empty");
    std::fs::create_dir_all(&not_backup).expect("dir");
    let refused = restore(&not_backup, &database);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("is not a complete backup"),
        "{}",
        said(&refused)
    );
    // A manifest naming a file outside the backup (or a restore outside the target).
    let hostile = dir.path().join("hostile");
    std::fs::create_dir_all(&hostile).expect("dir");
    std::fs::write(dir.path().join("secret"), b"x").expect("file");
    for path in ["../secret", "workspaces/../../secret", "/etc/passwd"] {
        let manifest = serde_json::json!({
            "format": 1,
            "created_at": "2026-12-04T00:00:00Z",
            "version": "0.1.0",
            "audit_entries": 0,
            "audit_head": "",
            "files": [{ "path": path, "bytes": 1, "sha256": storage::store::sha256_hex(b"x") }],
        });
        std::fs::write(hostile.join("manifest.json"), manifest.to_string()).expect("manifest");
        let refused = restore(&hostile, &database);
        assert!(!refused.status.success(), "{path}");
        assert!(
            said(&refused).contains("bad path"),
            "{path}: {}",
            said(&refused)
        );
    }
    assert!(!database.exists() && !dir.path().join("restored").exists());
}
