//! Fuzzing own-data Parquet uploads (issue 17, item 3), as a property with a fixed
//! budget, through the API and the conversion worker as an institution uploads: a valid
//! Parquet file with bytes flipped, cut short, or its footer rewritten is taken as a
//! table (201) or refused by name (422), never a 5xx or a dropped connection; a refusal
//! leaves no file and charges no storage, and the server stays ready. Failing inputs
//! proptest finds are kept beside this file (`fuzz_parquet.proptest-regressions`).

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use reqwest::{Method, StatusCode};

use crate::helpers::TestApp;
use crate::lifecycle::opened;

/// A small valid Parquet file of loans.
fn loans() -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("loan_id", DataType::Utf8, false),
        Field::new("amount", DataType::Float64, true),
        Field::new("months", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                (0..50).map(|i| format!("L{i}")),
            )),
            Arc::new(Float64Array::from_iter(
                (0..50).map(|i| Some(f64::from(i) * 10.5)),
            )),
            Arc::new(Int64Array::from_iter(
                (0..50).map(|i| (i % 7 != 0).then_some(i)),
            )),
        ],
    )
    .expect("batch");
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    bytes
}

/// How a file is damaged.
#[derive(Debug, Clone)]
enum Damage {
    Flip(Vec<(usize, u8)>),
    Cut(usize),
    Footer(u32),
    Splice(usize, Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => prop::collection::vec((any::<usize>(), 1u8..=255), 1..12).prop_map(Damage::Flip),
        1 => any::<usize>().prop_map(Damage::Cut),
        1 => prop_oneof![Just(0u32), 0u32..4096, any::<u32>()].prop_map(Damage::Footer),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64)).prop_map(|(at, b)| Damage::Splice(at, b)),
    ]
}

fn damaged(file: &[u8], how: &Damage) -> Vec<u8> {
    let mut bytes = file.to_vec();
    let n = bytes.len();
    match how {
        Damage::Flip(flips) => {
            for (at, mask) in flips {
                bytes[at % n] ^= mask;
            }
        }
        Damage::Cut(at) => bytes.truncate(at % n),
        // The footer's length, just before the closing magic.
        Damage::Footer(len) => bytes[n - 8..n - 4].copy_from_slice(&len.to_le_bytes()),
        Damage::Splice(at, piece) => {
            let at = at % n;
            bytes.splice(at..at, piece.iter().copied());
        }
    }
    bytes
}

#[test]
fn a_damaged_parquet_upload_is_taken_or_refused_by_name_and_leaves_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = runtime.block_on(TestApp::spawn());
    let (institution, token, _) =
        runtime.block_on(opened(&app, "parquet.apply", &["enterprises"], 0));
    let own = app
        .dir
        .path()
        .join("workspaces")
        .join(&institution)
        .join("own");
    let usage = format!("/api/v1/institutions/{institution}/usage");
    let file = loans();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 40,
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    });
    let taken = std::cell::Cell::new(0usize);
    runner
        .run(&damage(), |how| {
            let body = damaged(&file, &how);
            runtime.block_on(async {
                let (_, before) = app.call(Method::GET, &usage, Some(&token), None).await;
                let files_before = std::fs::read_dir(&own).map_or(0, |d| d.count());
                let response = app
                    .client
                    .post(app.url(&format!(
                        "/api/v1/institutions/{institution}/own-tables?name=loans&format=parquet"
                    )))
                    .bearer_auth(&token)
                    .header("content-type", "application/vnd.apache.parquet")
                    .body(body)
                    .send()
                    .await;
                let response = match response {
                    Ok(r) => r,
                    Err(e) => return Err(TestCaseError::fail(format!("no answer: {e}"))),
                };
                let status = response.status();
                let answer: serde_json::Value = response.json().await.unwrap_or_default();
                match status {
                    StatusCode::CREATED => {
                        taken.set(taken.get() + 1);
                        // Deleted again, so that the name is free for the next case.
                        let id = answer["table"]["id"].as_str().unwrap_or_default();
                        let (status, _) = app
                            .call(
                                Method::DELETE,
                                &format!("/api/v1/institutions/{institution}/own-tables/{id}"),
                                Some(&token),
                                None,
                            )
                            .await;
                        prop_assert_eq!(status, StatusCode::NO_CONTENT);
                    }
                    StatusCode::UNPROCESSABLE_ENTITY => {
                        let code = answer["error"]["code"].as_str().unwrap_or_default();
                        prop_assert!(
                            code == "invalid_upload" || code == "invalid_field",
                            "{}",
                            answer
                        );
                        prop_assert!(
                            answer["error"]["message"]
                                .as_str()
                                .is_some_and(|m| !m.is_empty())
                        );
                        let files_after = std::fs::read_dir(&own).map_or(0, |d| d.count());
                        prop_assert_eq!(files_after, files_before, "a refused upload left a file");
                        let (_, after) = app.call(Method::GET, &usage, Some(&token), None).await;
                        prop_assert_eq!(
                            &after["storage_bytes"]["used"],
                            &before["storage_bytes"]["used"]
                        );
                    }
                    other => prop_assert!(false, "{other}: {answer}"),
                }
                let (status, _) = app.call(Method::GET, "/readyz", None, None).await;
                prop_assert_eq!(status, StatusCode::OK);
                Ok(())
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // The budget reached both outcomes' checks only if some damage was harmless.
    assert!(
        taken.get() < 40,
        "every damaged file was taken: the damage does nothing"
    );
}
