//! Fuzzing own-data CSV uploads (issue 17, item 3), as a property with a fixed budget:
//! whatever bytes an institution uploads as CSV (quotes, separators and line ends in any
//! order, UTF-8 with or without a byte-order mark, GBK, stray bytes), reading it gives a
//! table whose Parquet file holds the rows it counts, or a named refusal — never a panic.
//! This is the code a conversion worker runs (`convert_here`); the worker isolates the
//! server from a crash all the same. Failing inputs proptest finds are kept beside this
//! file (`fuzz_upload.proptest-regressions`) and run first on every later run.

use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use workbench::own_data::{ConvertOutcome, ConvertSpec, convert_here};

/// One field: plain, quoted (with separators, line ends and doubled quotes inside),
/// Chinese, empty; in a hostile file, also unclosed quotes, GBK and stray bytes.
fn field(hostile: bool) -> BoxedStrategy<Vec<u8>> {
    let clean = prop_oneof![
        4 => "[a-z_]{1,8}".prop_map(String::into_bytes),
        4 => "-?[0-9]{1,12}(\\.[0-9]{1,4})?".prop_map(String::into_bytes),
        2 => Just(Vec::new()),
        2 => "[a-z ,\n]{0,6}(\"\"[a-z]{0,3})?".prop_map(|t| format!("\"{t}\"").into_bytes()),
        2 => Just("\"信用,中国\"".as_bytes().to_vec()),
        1 => Just("信用".as_bytes().to_vec()),
        1 => Just(b"2026-02-30".to_vec()),
        1 => Just(b"2026-12-04".to_vec()),
        1 => Just(b"true".to_vec()),
    ];
    if !hostile {
        return clean.boxed();
    }
    prop_oneof![
        12 => clean,
        1 => Just(b"\"unclosed".to_vec()),
        1 => Just(vec![0xd0, 0xc5, 0xd3, 0xc3]),
        1 => prop::collection::vec(any::<u8>(), 1..3),
    ]
    .boxed()
}

/// A row: three fields, or (in a ragged or hostile file) sometimes more or fewer.
fn row(ragged: bool, hostile: bool) -> impl Strategy<Value = Vec<u8>> {
    let width = if ragged {
        prop_oneof![8 => Just(3usize), 1 => 0usize..6].boxed()
    } else {
        Just(3usize).boxed()
    };
    (
        width,
        prop::collection::vec(field(hostile), 6),
        prop_oneof![6 => Just(b"\n".to_vec()), 1 => Just(b"\r\n".to_vec())],
    )
        .prop_map(|(n, fields, end)| {
            let mut line = fields[..n].join(&b","[..]);
            line.extend(end);
            line
        })
}

fn csv() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            6 => Just(b"id,amount,note\n".to_vec()),
            1 => Just(b"\xef\xbb\xbfid,amount,note\r\n".to_vec()),
            1 => Just(b"id,id,note\n".to_vec()),
            1 => Just(Vec::new()),
        ],
        prop_oneof![3 => Just((false, false)), 1 => Just((true, false)), 1 => Just((true, true))],
    )
        .prop_flat_map(|(header, (ragged, hostile))| {
            prop::collection::vec(row(ragged, hostile), 0..40)
                .prop_map(move |rows| [header.clone(), rows.concat()].concat())
        })
}

fn types() -> impl Strategy<Value = Vec<(String, String)>> {
    prop_oneof![
        3 => Just(Vec::new()),
        1 => Just(vec![("amount".to_owned(), "int64".to_owned())]),
        1 => Just(vec![("id".to_owned(), "date32".to_owned())]),
        1 => Just(vec![("note".to_owned(), "boolean".to_owned())]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_csv_is_read_into_the_rows_it_counts_or_refused_by_name(
        bytes in csv(),
        types in types(),
    ) {
        read_or_refused_by_name(&bytes, types)?;
    }
}

/// Whether reading `bytes` as a CSV upload (with `types`) gives a table whose Parquet
/// file holds the rows it counts, or a named refusal.
fn read_or_refused_by_name(
    bytes: &[u8],
    types: Vec<(String, String)>,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("upload.csv");
    std::fs::write(&file, bytes).expect("write");
    let spec = ConvertSpec {
        name: "loans".into(),
        format: "csv".into(),
        types,
        sensitivity: Vec::new(),
        file,
        out: dir.path().join("table.parquet"),
        memory_bytes: 64 << 20,
        timeout_ms: 10_000,
        unconfined_allowed: true,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(convert_here(&spec)) {
        ConvertOutcome::Done { columns, rows, .. } => {
            prop_assert!(!columns.is_empty());
            let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64 + 1;
            prop_assert!(rows <= lines, "{rows} rows from {lines} lines");
            let written = std::fs::File::open(&spec.out).expect("the table's file");
            let reader = SerializedFileReader::new(written).expect("Parquet");
            prop_assert_eq!(reader.metadata().file_metadata().num_rows() as u64, rows);
        }
        ConvertOutcome::Invalid { field, message } => {
            prop_assert!(!field.is_empty() && !message.is_empty());
        }
        ConvertOutcome::Unreadable(message) => prop_assert!(!message.is_empty()),
        ConvertOutcome::Files(message) => {
            prop_assert!(false, "a platform failure for an input: {message}");
        }
    }
    Ok(())
}

/// The corpus kept in the repository (`fuzz/corpus/csv`, one upload a file): GBK, byte
/// order marks, unclosed quotes, ragged rows, NUL and stray bytes, formula-like cells,
/// a 3,000-column header..., replayed on every run.
#[test]
fn every_csv_of_the_corpus_is_read_or_refused_by_name() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/csv");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz/corpus/csv")
        .map(|e| e.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "{} inputs", inputs.len());
    for path in inputs {
        let bytes = std::fs::read(&path).expect("bytes");
        read_or_refused_by_name(&bytes, Vec::new())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
