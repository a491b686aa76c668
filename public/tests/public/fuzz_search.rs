//! Fuzzing the search query (issue 17, item 3), as a property with a fixed budget: any
//! text a person or a fuzzer types — any script, control characters, full-width forms,
//! brackets, very long — and any page position gives an answer, never a panic, and the
//! answer is exactly what a plain scan of the names finds. Failing inputs proptest
//! finds are kept in `public/tests/public/fuzz_search.proptest-regressions` and run
//! first on every later run.

use proptest::prelude::*;
use public::search::{Entry, Index, SearchError, normalise};

/// A small register whose names share characters with the queries the strategy makes.
fn register() -> Index {
    let names = [
        "杭州示例贸易有限公司",
        "杭州（滨江）示例科技有限公司",
        "宁波某某科技有限公司",
        "ＡＢＣ国际贸易（杭州）有限公司",
        "温州[老字号]食品厂",
        "abc 咨询 服务部",
        "示例",
        "有限公司",
    ];
    Index::new(
        names
            .iter()
            .enumerate()
            .map(|(i, name)| Entry {
                subject_id: format!("E{i:010}"),
                uscc: format!("91330100MA2B3C4D{i:02}"),
                name: (*name).to_owned(),
                industry_code: "F51".into(),
                region_name: "杭州市".into(),
            })
            .collect(),
    )
}

/// Queries built from the names' own characters and from anything else.
fn query() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("杭州".to_owned()),
        Just("有限".to_owned()),
        Just("（".to_owned()),
        Just("]".to_owned()),
        Just("ＡＢ".to_owned()),
        Just(" ".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{200b}".to_owned()),
        "\\PC{0,3}",
        "[a-zA-Z0-9]{0,3}",
    ];
    prop::collection::vec(pieces, 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::SourceParallel("proptest-regressions")
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_query_is_answered_exactly_as_a_scan_answers_it(
        q in query(),
        offset in prop_oneof![Just(0usize), 0usize..20, Just(usize::MAX)],
        limit in prop_oneof![Just(0usize), 1usize..20, Just(usize::MAX)],
    ) {
        answered_as_a_scan(&q, offset, limit)?;
    }
}

/// Whether the search answers `q` at this page exactly as a plain scan of the names
/// does (an empty query refused as empty).
fn answered_as_a_scan(q: &str, offset: usize, limit: usize) -> Result<(), TestCaseError> {
    let index = register();
    let normal = normalise(q);
    match index.search(q, offset, limit) {
        Err(SearchError::Empty) => prop_assert!(normal.is_empty()),
        Err(other) => prop_assert!(false, "{other} for {q:?}"),
        Ok(page) => {
            let matching: Vec<&Entry> = index
                .entries()
                .iter()
                .filter(|e| normalise(&e.name).contains(&normal))
                .collect();
            prop_assert_eq!(page.total, matching.len());
            prop_assert!(page.items.len() <= limit);
            for item in &page.items {
                prop_assert!(
                    normalise(&item.name).contains(&normal),
                    "{} for {:?}",
                    item.name,
                    q
                );
            }
        }
    }
    Ok(())
}

/// The corpus kept in the repository (`fuzz/corpus/search`, one query a file), replayed
/// on every run at the first page and past the end: answered as a scan answers it.
#[test]
fn every_query_of_the_corpus_is_answered_as_a_scan_answers_it() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/search");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz/corpus/search")
        .map(|e| e.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "{} inputs", inputs.len());
    for path in inputs {
        let q = std::fs::read_to_string(&path).expect("query text");
        for (offset, limit) in [(0, 20), (usize::MAX, usize::MAX)] {
            answered_as_a_scan(&q, offset, limit)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}
