//! Q4 over the sample register: the index finds exactly the names a brute-force scan
//! finds, for substrings of real names of every length.

use public::search::{Index, normalise};

async fn index() -> Index {
    Index::load(crate::sample_catalog()).await.expect("index")
}

#[tokio::test]
async fn the_index_finds_exactly_what_a_scan_finds() {
    let idx = index().await;
    assert!(idx.len() >= 1_900, "{}", idx.len());
    // Queries: substrings of real names, of lengths 1 to 6, taken at several places.
    let names: Vec<String> = idx
        .search("公司", 0, 50)
        .expect("search")
        .items
        .iter()
        .map(|e| e.name.clone())
        .collect();
    assert!(!names.is_empty());
    let mut checked = 0;
    for name in &names {
        let chars: Vec<char> = normalise(name).chars().collect();
        for len in 1..=6.min(chars.len()) {
            for start in [0, chars.len() / 2, chars.len() - len] {
                if start + len > chars.len() {
                    continue;
                }
                let query: String = chars[start..start + len].iter().collect();
                let page = idx.search(&query, 0, usize::MAX).expect("search");
                let expected = brute_force(&idx, &query);
                assert_eq!(page.total, expected.len(), "query {query}");
                let got: Vec<&str> = page.items.iter().map(|e| e.name.as_str()).collect();
                assert_eq!(got, expected, "query {query}");
                // A page further on is the same run of the same order.
                let later = idx.search(&query, 3, 7).expect("search");
                let got: Vec<&str> = later.items.iter().map(|e| e.name.as_str()).collect();
                let want: Vec<&str> = expected.iter().skip(3).take(7).copied().collect();
                assert_eq!(got, want, "query {query} from 3");
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "{checked}");
}

/// Every name containing `query` in the promised order: the name itself, then names
/// starting with it, then the others; shorter names, then registered names, first.
fn brute_force<'a>(idx: &'a Index, query: &str) -> Vec<&'a str> {
    let mut found: Vec<(u8, usize, &str)> = idx
        .entries()
        .iter()
        .filter_map(|e| {
            let name = normalise(&e.name);
            let class = match (name == query, name.starts_with(query)) {
                (true, _) => 0,
                (false, true) => 1,
                _ if name.contains(query) => 2,
                _ => return None,
            };
            Some((class, name.chars().count(), e.name.as_str()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, _, name)| name).collect()
}

#[tokio::test]
async fn exact_codes_find_their_subject() {
    let idx = index().await;
    let some = &idx.entries()[17];
    let found = idx.by_uscc(&some.uscc).expect("found");
    assert_eq!(found.subject_id, some.subject_id);
}
