//! Search of enterprises and organisations (BRIEF Q4): exact by unified social credit
//! code, and by any part of the name.
//!
//! Names are normalised before indexing and querying (full-width characters folded,
//! Chinese and ASCII brackets unified, spaces dropped, ASCII lower-cased), so
//! `浙江（杭州）` finds `浙江(杭州)`. The index keeps, for every character and every pair
//! of adjacent characters of a normalised name, the names that contain it; a query's
//! rarest pair gives the candidates, and each is checked for the whole query as a
//! substring, so every name containing the query is found and no other (unlike word
//! tokenisers, which miss matches that cross their word boundaries).
//!
//! Results are ordered exact match, then prefix, then shorter names. Names are numbered
//! in that order of length and name once, at indexing, so a page is the first matches met
//! in a list and is found without ordering every match; names starting with the query
//! are one run of the names in normalised order. Broad queries are counted up to a bound
//! and told to narrow down.

use std::collections::HashMap;
use std::sync::Mutex;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;

/// Most matches a query counts; a broader query is told to narrow down.
pub const MAX_MATCHES: usize = 10_000;

/// One indexed subject.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// Platform subject id.
    pub subject_id: String,
    /// Unified social credit code.
    pub uscc: String,
    /// Registered name, as registered.
    pub name: String,
    /// Industry code (GB/T 4754).
    pub industry_code: String,
    /// Region.
    pub region_name: String,
}

/// A page of results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<'a> {
    /// The matches of this page, best first.
    pub items: Vec<&'a Entry>,
    /// Matches in all (at most [`MAX_MATCHES`]).
    pub total: usize,
    /// Whether the query matched more than [`MAX_MATCHES`] names.
    pub truncated: bool,
}

/// Why a search could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// Loading the data failed.
    #[error("loading the enterprise register: {0}")]
    Load(String),
    /// The query is empty after normalisation.
    #[error("give at least one character of the name")]
    Empty,
}

/// Normalises a name or query for matching.
pub fn normalise(text: &str) -> String {
    policies::to_half_width(text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '（' | '［' | '【' | '〔' | '[' | '{' => '(',
            '）' | '］' | '】' | '〕' | ']' | '}' => ')',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Where `query` matches `name` as a search matches it (after [`normalise`]): the byte
/// range of `name` that a page highlights, or `None` when it does not match.
pub fn matched_range(name: &str, query: &str) -> Option<std::ops::Range<usize>> {
    let wanted: Vec<char> = normalise(query).chars().collect();
    if wanted.is_empty() {
        return None;
    }
    // Each character of a name normalises to one character or to none (a space).
    let mut folded: Vec<(char, std::ops::Range<usize>)> = Vec::new();
    for (at, c) in name.char_indices() {
        let mut one = [0u8; 4];
        if let Some(n) = normalise(c.encode_utf8(&mut one)).chars().next() {
            folded.push((n, at..at + c.len_utf8()));
        }
    }
    let first = folded
        .windows(wanted.len())
        .position(|w| w.iter().map(|(c, _)| *c).eq(wanted.iter().copied()))?;
    Some(folded[first].1.start..folded[first + wanted.len() - 1].1.end)
}

/// The index.
#[derive(Debug, Default)]
pub struct Index {
    /// Entries in rank order: shorter normalised names first, then by registered name,
    /// so that every list of entry numbers is already in the order results are shown.
    entries: Vec<Entry>,
    /// Every normalised name, one after the other; entry `i`'s is
    /// `chars[starts[i]..starts[i + 1]]`.
    chars: Vec<char>,
    starts: Vec<u32>,
    /// Entry numbers in the order of their normalised names: the names starting with a
    /// query are one run of it.
    by_normalised: Vec<u32>,
    by_uscc: HashMap<String, u32>,
    by_subject: HashMap<String, u32>,
    /// For every character, and every pair of adjacent characters, the entries whose
    /// normalised name holds it, ascending.
    grams: HashMap<(char, Option<char>), Vec<u32>>,
    /// Counts of broad queries of three or more characters, which take a scan to count.
    counts: Mutex<HashMap<Vec<char>, usize>>,
    /// Most matches a query counts.
    max_matches: usize,
    /// Most counts remembered ([`REMEMBERED_COUNTS`]; smaller in tests).
    remembered_counts: usize,
}

/// Queries whose count took at least this many candidates are remembered.
const REMEMBERED_SCAN: usize = 2_000;
/// Most query counts remembered (the set starts afresh when full).
const REMEMBERED_COUNTS: usize = 50_000;
/// Prefix runs up to this long are sorted into rank order; longer ones are found by a
/// scan in rank order, where they are dense.
const SORTED_PREFIXES: usize = 4_096;

impl Index {
    /// Indexes `entries`.
    pub fn new(entries: Vec<Entry>) -> Index {
        Index::with_max_matches(entries, MAX_MATCHES)
    }

    /// Indexes `entries`, counting at most `max_matches` matches of a query.
    pub fn with_max_matches(entries: Vec<Entry>, max_matches: usize) -> Index {
        let mut keyed: Vec<(Vec<char>, Entry)> = entries
            .into_iter()
            .map(|e| (normalise(&e.name).chars().collect(), e))
            .collect();
        keyed.sort_by(|(a, x), (b, y)| a.len().cmp(&b.len()).then_with(|| x.name.cmp(&y.name)));
        let mut index = Index {
            max_matches,
            remembered_counts: REMEMBERED_COUNTS,
            ..Index::default()
        };
        index.starts.push(0);
        let mut seen = std::collections::HashSet::new();
        for (i, (name, entry)) in keyed.into_iter().enumerate() {
            let id = i as u32;
            index.by_uscc.insert(entry.uscc.clone(), id);
            index.by_subject.insert(entry.subject_id.clone(), id);
            index.entries.push(entry);
            // Each character and each adjacent pair, once per name.
            seen.clear();
            let pairs = name.windows(2).map(|p| (p[0], Some(p[1])));
            for gram in name.iter().map(|c| (*c, None)).chain(pairs) {
                if seen.insert(gram) {
                    index.grams.entry(gram).or_default().push(id);
                }
            }
            index.chars.extend_from_slice(&name);
            index.starts.push(index.chars.len() as u32);
        }
        let mut by_normalised: Vec<u32> = (0..index.entries.len() as u32).collect();
        by_normalised.sort_unstable_by(|a, b| index.name(*a).cmp(index.name(*b)));
        index.by_normalised = by_normalised;
        index
    }

    /// Loads the active registrations of the catalog's `enterprises` table.
    pub async fn load(catalog: &catalog::Catalog) -> Result<Index, SearchError> {
        let ctx = SessionContext::new();
        catalog
            .register(&ctx, &["enterprises"])
            .await
            .map_err(|e| SearchError::Load(e.to_string()))?;
        let batches = ctx
            .sql(
                "SELECT subject_id, uscc, name, industry_code, region_name FROM enterprises \
                 WHERE status = 'active'",
            )
            .await
            .map_err(|e| SearchError::Load(e.to_string()))?
            .collect()
            .await
            .map_err(|e| SearchError::Load(e.to_string()))?;
        let mut entries = Vec::new();
        for batch in &batches {
            for row in 0..batch.num_rows() {
                entries.push(Entry {
                    subject_id: text(batch, 0, row),
                    uscc: text(batch, 1, row),
                    name: text(batch, 2, row),
                    industry_code: text(batch, 3, row),
                    region_name: text(batch, 4, row),
                });
            }
        }
        Ok(Index::new(entries))
    }

    /// Every indexed subject, in rank order (shorter names first).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// How many subjects are indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The subject with this platform subject id.
    pub fn by_subject(&self, subject_id: &str) -> Option<&Entry> {
        self.by_subject
            .get(subject_id)
            .map(|i| &self.entries[*i as usize])
    }

    /// The subject with this code (normalised as identifiers are).
    pub fn by_uscc(&self, uscc: &str) -> Option<&Entry> {
        // Most queries are typed as stored, already normal: no copy needed.
        if uscc
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return self.by_uscc.get(uscc).map(|i| &self.entries[*i as usize]);
        }
        let code: String = policies::to_half_width(uscc)
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        self.by_uscc.get(&code).map(|i| &self.entries[*i as usize])
    }

    /// Entry `id`'s normalised name.
    fn name(&self, id: u32) -> &[char] {
        &self.chars[self.starts[id as usize] as usize..self.starts[id as usize + 1] as usize]
    }

    /// The entries whose normalised name starts with `q`, in the order of normalised
    /// names.
    fn starting_with(&self, q: &[char]) -> &[u32] {
        let from = self.by_normalised.partition_point(|id| self.name(*id) < q);
        let rest = &self.by_normalised[from..];
        let to = rest.partition_point(|id| self.name(*id).starts_with(q));
        &rest[..to]
    }

    /// Every name containing `query`, best first (the name itself, then names starting
    /// with it, then the others; shorter names first within each), paged by `offset`
    /// and `limit`.
    ///
    /// Only the page is put in order: entry numbers are in rank order, so a page is the
    /// first matches met in a posting list. The count stops at the index's maximum; a
    /// count that took a long scan is remembered, as the index never changes.
    pub fn search(
        &self,
        query: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Page<'_>, SearchError> {
        let q: Vec<char> = normalise(query).chars().collect();
        if q.is_empty() {
            return Err(SearchError::Empty);
        }
        let none = Page {
            items: Vec::new(),
            total: 0,
            truncated: false,
        };
        // The rarest gram of the query: its list holds every match.
        let mut candidates: Option<&Vec<u32>> = None;
        let grams: Vec<(char, Option<char>)> = if q.len() == 1 {
            vec![(q[0], None)]
        } else {
            q.windows(2).map(|p| (p[0], Some(p[1]))).collect()
        };
        for gram in grams {
            match self.grams.get(&gram) {
                Some(list) if candidates.is_none_or(|c| list.len() < c.len()) => {
                    candidates = Some(list)
                }
                Some(_) => {}
                None => return Ok(none),
            }
        }
        let Some(candidates) = candidates else {
            return Ok(none);
        };
        // One character, or two: being in the list is containing the query.
        let listed_is_match = q.len() <= 2;
        let contains = |id: u32| listed_is_match || find(self.name(id), &q).is_some();
        let starts = |id: u32| self.name(id).starts_with(&q);
        let wanted = offset.saturating_add(limit).min(self.max_matches);

        // Names starting with the query come first.
        let prefixed = self.starting_with(&q);
        let mut page: Vec<u32> = if prefixed.len() <= SORTED_PREFIXES {
            let mut ids = prefixed.to_vec();
            ids.sort_unstable();
            ids.truncate(wanted);
            ids
        } else {
            candidates
                .iter()
                .copied()
                .filter(|id| starts(*id))
                .take(wanted)
                .collect()
        };
        // Then the others, in list order, which is rank order.
        if page.len() < wanted {
            let more = wanted - page.len();
            page.extend(
                candidates
                    .iter()
                    .copied()
                    .filter(|id| !starts(*id) && contains(*id))
                    .take(more),
            );
        }

        let count = if listed_is_match {
            candidates.len()
        } else {
            self.count(&q, candidates, &contains)
        };
        let items = page
            .iter()
            .skip(offset)
            .take(limit)
            .map(|id| &self.entries[*id as usize])
            .collect();
        Ok(Page {
            items,
            total: count.min(self.max_matches),
            truncated: count > self.max_matches,
        })
    }

    /// How many candidates contain `q`, counted up to one more than the maximum.
    fn count(&self, q: &[char], candidates: &[u32], contains: &impl Fn(u32) -> bool) -> usize {
        if let Some(count) = self.remembered().get(q) {
            return *count;
        }
        let mut count = 0;
        let mut scanned = 0;
        for id in candidates {
            scanned += 1;
            if contains(*id) {
                count += 1;
                if count > self.max_matches {
                    break;
                }
            }
        }
        if scanned >= REMEMBERED_SCAN {
            let mut remembered = self.remembered();
            if remembered.len() >= self.remembered_counts {
                remembered.clear();
            }
            remembered.insert(q.to_vec(), count);
        }
        count
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<char>, usize>> {
        // A count is whole or absent: a panic elsewhere cannot leave one half-written.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn text(batch: &RecordBatch, column: usize, row: usize) -> String {
    let array = batch.column(column);
    if array.is_null(row) {
        return String::new();
    }
    match array.data_type() {
        DataType::Utf8View => array.as_string_view().value(row).to_owned(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).to_owned(),
        _ => array.as_string::<i32>().value(row).to_owned(),
    }
}

fn find(haystack: &[char], needle: &[char]) -> Option<usize> {
    let first = *needle.first()?;
    // The first character is compared inline: most windows fail there.
    haystack
        .windows(needle.len())
        .position(|w| w[0] == first && w == needle)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_match_is_found_in_the_name_as_typed() {
        let name = "北京ＡＢＣ 家政（服务）有限公司";
        let range = matched_range(name, "abc家政").unwrap();
        assert_eq!(&name[range], "ＡＢＣ 家政");
        let range = matched_range(name, "(服务)").unwrap();
        assert_eq!(&name[range], "（服务）");
        assert_eq!(matched_range(name, "上海"), None);
        assert_eq!(matched_range(name, "  "), None);
    }

    use super::*;

    fn entry(uscc: &str, name: &str) -> Entry {
        Entry {
            subject_id: format!("E-{uscc}"),
            uscc: uscc.into(),
            name: name.into(),
            industry_code: "O8010".into(),
            region_name: "杭州市西湖区".into(),
        }
    }

    fn names<'a>(page: &Page<'a>) -> Vec<&'a str> {
        page.items.iter().map(|e| e.name.as_str()).collect()
    }

    fn index() -> Index {
        Index::new(vec![
            entry("A1", "杭州西湖家政服务有限公司"),
            entry("A2", "浙江（杭州）养老服务中心"),
            entry("A3", "西湖家政"),
            entry("A4", "杭州市西湖区 小明 家政服务部"),
            entry("A5", "ＡＢＣ科技（杭州）有限公司"),
            entry("A6", "宁波家政服务有限公司"),
        ])
    }

    #[test]
    fn every_substring_match_is_found_and_nothing_else() {
        let idx = index();
        let page = idx.search("家政服务", 0, 10).expect("search");
        // Shorter names first among matches inside the name.
        assert_eq!(
            names(&page),
            [
                "宁波家政服务有限公司",
                "杭州西湖家政服务有限公司",
                "杭州市西湖区 小明 家政服务部"
            ]
        );
        // A match across what a word tokeniser would split: 湖家.
        assert_eq!(
            names(&idx.search("湖家", 0, 10).expect("search")),
            ["西湖家政", "杭州西湖家政服务有限公司"]
        );
        // Spaces in names and queries do not matter.
        assert_eq!(
            names(&idx.search("小明家政", 0, 10).expect("search")),
            ["杭州市西湖区 小明 家政服务部"]
        );
        assert_eq!(idx.search("上海", 0, 10).expect("search").total, 0);
    }

    #[test]
    fn full_width_characters_and_brackets_are_normalised() {
        let idx = index();
        assert_eq!(
            names(&idx.search("浙江(杭州)", 0, 10).expect("search")),
            ["浙江（杭州）养老服务中心"]
        );
        assert_eq!(
            names(&idx.search("abc科技", 0, 10).expect("search")),
            ["ＡＢＣ科技（杭州）有限公司"]
        );
        assert_eq!(
            names(&idx.search("【杭州】", 0, 10).expect("search")).len(),
            2
        );
        assert_eq!(normalise(" ＡＢＣ （杭州） "), "abc(杭州)");
    }

    #[test]
    fn exact_then_prefix_then_shorter_names_first_and_pages() {
        let idx = index();
        let page = idx.search("西湖家政", 0, 10).expect("search");
        assert_eq!(names(&page)[0], "西湖家政");
        let first = idx.search("杭州", 0, 2).expect("search");
        let second = idx.search("杭州", 2, 2).expect("search");
        assert_eq!(first.total, 4);
        assert_eq!(first.items.len(), 2);
        assert_eq!(second.items.len(), 2);
        assert!(first.items.iter().all(|e| !second.items.contains(e)));
        assert!(names(&first).iter().all(|n| n.starts_with("杭州")));
    }

    /// The order a search promises, by brute force: the name itself, then names starting
    /// with the query, then the others; shorter names, then registered names, first.
    fn expected<'a>(entries: &'a [Entry], query: &str) -> Vec<&'a str> {
        let q = normalise(query);
        let mut found: Vec<(u8, usize, &str)> = entries
            .iter()
            .filter_map(|e| {
                let n = normalise(&e.name);
                let class = if n == q {
                    0
                } else if n.starts_with(&q) {
                    1
                } else if n.contains(&q) {
                    2
                } else {
                    return None;
                };
                Some((class, n.chars().count(), e.name.as_str()))
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, _, name)| name).collect()
    }

    #[test]
    fn pages_follow_the_promised_order_for_long_prefix_runs_and_remembered_counts() {
        // Enough names that a prefix run is found by scanning (more than
        // SORTED_PREFIXES) and a broad three-character count is remembered.
        let mut entries = Vec::new();
        for i in 0..6_000 {
            let name = match i % 4 {
                0 => format!("杭州{}家政服务有限公司", i),
                1 => format!("宁波杭州{}家政服务部", i),
                2 => format!("杭州家政{}", i),
                _ => format!("杭州{}养老服务中心", i),
            };
            entries.push(entry(&format!("C{i}"), &name));
        }
        entries.push(entry("X1", "杭州家政"));
        let idx = Index::new(entries.clone());
        assert!(idx.starting_with(&['杭', '州']).len() > SORTED_PREFIXES);
        for query in [
            "杭州",
            "杭州家政",
            "家政服务",
            "州家",
            "服务",
            "养老服务中心",
            "1",
        ] {
            let all = expected(&entries, query);
            for (offset, limit) in [(0, 20), (15, 20), (1_490, 30), (5_990, 50)] {
                let page = idx.search(query, offset, limit).expect("search");
                let want: Vec<&str> = all.iter().skip(offset).take(limit).copied().collect();
                assert_eq!(names(&page), want, "{query} at {offset}");
                assert_eq!(page.total, all.len().min(MAX_MATCHES), "{query}");
            }
        }
        // The same count the second time, from memory.
        let first = idx.search("家政服务", 0, 5).expect("search").total;
        assert!(
            idx.remembered()
                .contains_key(&"家政服务".chars().collect::<Vec<_>>())
        );
        assert_eq!(idx.search("家政服务", 0, 5).expect("search").total, first);
    }

    #[test]
    fn remembered_counts_are_bounded_and_stay_right() {
        let mut entries = Vec::new();
        for i in 0..6_000 {
            entries.push(entry(&format!("C{i}"), &format!("杭州{i}家政服务有限公司")));
        }
        let mut idx = Index::new(entries.clone());
        idx.remembered_counts = 2;
        // Each of these scans more than REMEMBERED_SCAN names to be counted.
        let queries = ["家政服务", "政服务有", "服务有限", "家政服务有限"];
        for (i, query) in queries.iter().enumerate() {
            let page = idx.search(query, 0, 5).expect("search");
            assert_eq!(page.total, expected(&entries, query).len().min(MAX_MATCHES));
            let remembered = idx.remembered();
            assert!(
                remembered.len() <= 2,
                "{} after {}",
                remembered.len(),
                i + 1
            );
            assert!(remembered.contains_key(&query.chars().collect::<Vec<_>>()));
        }
        // Forgotten counts are counted again, the same.
        for query in queries {
            let page = idx.search(query, 0, 5).expect("search");
            assert_eq!(page.total, expected(&entries, query).len().min(MAX_MATCHES));
        }
    }

    #[test]
    fn broad_queries_are_counted_up_to_the_bound_and_say_so() {
        let idx = Index::with_max_matches(index().entries, 3);
        // Four names hold 杭州, three 有限公 (of which A1, A5, A6).
        let page = idx.search("杭州", 0, 10).expect("search");
        assert_eq!((page.total, page.truncated, page.items.len()), (3, true, 3));
        let page = idx.search("有限公", 0, 10).expect("search");
        assert_eq!((page.total, page.truncated), (3, false));
        let page = idx.search("杭州", 3, 10).expect("search");
        assert!(page.items.is_empty(), "no page beyond the bound");
    }

    #[test]
    fn one_character_and_empty_queries() {
        let idx = index();
        assert_eq!(idx.search("宁", 0, 10).expect("search").total, 1);
        assert!(matches!(idx.search("  ", 0, 10), Err(SearchError::Empty)));
    }

    #[test]
    fn codes_are_found_exactly_as_people_type_them() {
        let idx = Index::new(vec![entry("91330106MA2B1C3D4E", "某公司")]);
        assert!(
            idx.by_uscc("９１３３０１０６ＭＡ２Ｂ１Ｃ３Ｄ４Ｅ")
                .is_some()
        );
        assert!(idx.by_uscc("91330106ma2b1c3d4e").is_some());
        assert!(idx.by_uscc("91330106MA2B1C3D4F").is_none());
    }
}
