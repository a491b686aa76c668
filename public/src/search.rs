//! Search of enterprises and organisations (BRIEF Q4): exact by unified social credit
//! code, and by any part of the name.
//!
//! Names are normalised before indexing and querying (full-width characters folded,
//! Chinese and ASCII brackets unified, spaces dropped, ASCII lower-cased), so
//! `浙江（杭州）` finds `浙江(杭州)`. The index keeps, for every character and every pair
//! of adjacent characters of a normalised name, the names that contain it; a query's
//! pairs are intersected (shortest list first) and each candidate is checked for the
//! whole query as a substring, so every name containing the query is found and no other
//! (unlike word tokenisers, which miss matches that cross their word boundaries).
//! Results are ordered exact match, then prefix, then shorter names; broad queries are
//! bounded.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;

/// Most matches a query counts; a broader query is told to narrow down.
pub const MAX_MATCHES: usize = 10_000;

/// One indexed subject.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// The index.
#[derive(Debug, Default)]
pub struct Index {
    entries: Vec<Entry>,
    names: Vec<Vec<char>>,
    by_uscc: HashMap<String, u32>,
    by_subject: HashMap<String, u32>,
    /// Each entry's place in name order, so results are ordered without comparing names.
    name_order: Vec<u32>,
    grams: HashMap<(char, Option<char>), Vec<u32>>,
}

impl Index {
    /// Indexes `entries`.
    pub fn new(entries: Vec<Entry>) -> Index {
        let mut index = Index {
            names: entries
                .iter()
                .map(|e| normalise(&e.name).chars().collect())
                .collect(),
            by_uscc: entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.uscc.clone(), i as u32))
                .collect(),
            by_subject: entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.subject_id.clone(), i as u32))
                .collect(),
            name_order: Vec::new(),
            entries,
            grams: HashMap::new(),
        };
        let mut by_name: Vec<u32> = (0..index.entries.len() as u32).collect();
        by_name.sort_by(|a, b| {
            index.entries[*a as usize]
                .name
                .cmp(&index.entries[*b as usize].name)
        });
        index.name_order = vec![0; by_name.len()];
        for (place, i) in by_name.into_iter().enumerate() {
            index.name_order[i as usize] = place as u32;
        }
        for (i, name) in index.names.iter().enumerate() {
            let mut seen = std::collections::HashSet::new();
            for (j, c) in name.iter().enumerate() {
                let mut grams = vec![(*c, None)];
                if let Some(next) = name.get(j + 1) {
                    grams.push((*c, Some(*next)));
                }
                for gram in grams {
                    if seen.insert(gram) {
                        index.grams.entry(gram).or_default().push(i as u32);
                    }
                }
            }
        }
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

    /// Every indexed subject, in load order.
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
        let code: String = policies::to_half_width(uscc)
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        self.by_uscc.get(&code).map(|i| &self.entries[*i as usize])
    }

    /// Every name containing `query`, best first, paged by `offset` and `limit`.
    pub fn search(
        &self,
        query: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Page<'_>, SearchError> {
        let q: Vec<char> = normalise(query).chars().collect();
        let Some(first) = q.first() else {
            return Err(SearchError::Empty);
        };
        let mut lists: Vec<&Vec<u32>> = Vec::new();
        if q.len() == 1 {
            match self.grams.get(&(*first, None)) {
                Some(l) => lists.push(l),
                None => {
                    return Ok(Page {
                        items: Vec::new(),
                        total: 0,
                        truncated: false,
                    });
                }
            }
        } else {
            for pair in q.windows(2) {
                match self.grams.get(&(pair[0], Some(pair[1]))) {
                    Some(l) => lists.push(l),
                    None => {
                        return Ok(Page {
                            items: Vec::new(),
                            total: 0,
                            truncated: false,
                        });
                    }
                }
            }
        }
        lists.sort_by_key(|l| l.len());
        // The shortest list is read in place; only intersections allocate.
        let mut candidates: std::borrow::Cow<'_, [u32]> = std::borrow::Cow::Borrowed(lists[0]);
        // A short list is cheaper to check name by name than to intersect.
        let intersecting = lists[0].len() > 4 * MAX_MATCHES;
        for other in lists[1..].iter().filter(|_| intersecting) {
            candidates = std::borrow::Cow::Owned(intersect(&candidates, other));
            if candidates.is_empty() {
                break;
            }
        }
        // One character, or two: being in the list is containing the query. Longer
        // queries hold every pair but maybe not in a row: each candidate is checked.
        let exact = q.len() <= 2;
        let mut matches: Vec<(u8, usize, u32)> = Vec::new();
        let mut truncated = false;
        for &i in candidates.iter() {
            let name = &self.names[i as usize];
            // Where the query starts only matters as "at the start or not".
            let at = if exact {
                Some(usize::from(!name.starts_with(&q)))
            } else if name.starts_with(&q) {
                Some(0)
            } else {
                find(name, &q)
            };
            if let Some(at) = at {
                if matches.len() == MAX_MATCHES {
                    truncated = true;
                    break;
                }
                let rank = if name.len() == q.len() {
                    0
                } else if at == 0 {
                    1
                } else {
                    2
                };
                matches.push((rank, name.len(), i));
            }
        }
        let order = |a: &(u8, usize, u32), b: &(u8, usize, u32)| {
            (a.0, a.1, self.name_order[a.2 as usize]).cmp(&(
                b.0,
                b.1,
                self.name_order[b.2 as usize],
            ))
        };
        let total = matches.len();
        // Only the requested page needs ordering: select it, then sort it.
        let wanted = offset.saturating_add(limit).min(total);
        if wanted > 0 && wanted < total {
            matches.select_nth_unstable_by(wanted - 1, order);
            matches.truncate(wanted);
        }
        matches.sort_by(order);
        let items = matches
            .iter()
            .skip(offset)
            .take(limit)
            .map(|(_, _, i)| &self.entries[*i as usize])
            .collect();
        Ok(Page {
            items,
            total,
            truncated,
        })
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

fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
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
