//! Leak tracing (BRIEF P8): which sample releases rows found outside the platform came
//! from. A sample keeps, besides the hashes of its result rows, each cell as it was
//! shown (the JSON answer, the CSV and Parquet downloads carry the same values),
//! normalised ([`normal`]) and keyed with the gate's secret. Leaked rows, pasted or read
//! from a file, are normalised the same way, so a row still matches after a
//! spreadsheet dropped or reordered columns, reformatted numbers (`2,000`, `2000.0`) or
//! the CSV's text guard (`'-5`) was kept.
//!
//! A leaked row matches a released row when every cell it has is one of that row's and
//! it has at least two of them (or every cell of a narrower row): one common value
//! (a `0`, a `true`) is no evidence. It is *whole* when it holds every cell of the
//! released row.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use storage::store::{Store, hex};

use super::GateError;
use crate::db::releases::Releases as _;

/// Most leaked rows one trace reads.
pub const MAX_ROWS: usize = 1_000;
/// Most cells a leaked row may have.
pub const MAX_CELLS: usize = 200;
/// Most row hashes one trace looks for.
pub const MAX_ROW_HASHES: usize = 10_000;

/// A sample release that contained some of the traced rows.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Traced {
    /// The sample release.
    pub release_id: String,
    /// The institution that received it.
    pub institution_id: String,
    /// The job it was taken from.
    pub job_id: String,
    /// When it was released (RFC 3339).
    pub released_at: String,
    /// The release's fingerprint, as the ledger shows it.
    pub fingerprint: String,
    /// How many of the traced rows (or row hashes) it contained.
    pub rows_matched: usize,
    /// Of those, how many held every cell of the released row.
    pub whole_rows: usize,
}

/// A cell as people see it, normalised so that a value copied from the page, the CSV or
/// a spreadsheet reads the same: trimmed, ASCII lower case, a spreadsheet's text guard
/// (`'` before `=`, `+`, `-`, `@`) dropped, a number in its shortest form (`2,000`,
/// `2000.0` and `2e3` are `2000`); nothing for an empty cell or `null`.
pub fn normal(text: &str) -> Option<String> {
    let text = text.trim();
    let text = match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => text,
    };
    if text.is_empty() || text.eq_ignore_ascii_case("null") {
        return None;
    }
    let digits = if grouped(text) {
        text.replace(',', "")
    } else {
        text.to_owned()
    };
    match digits.parse::<f64>() {
        Ok(x) if x.is_finite() => Some(number(x)),
        _ => Some(text.to_ascii_lowercase()),
    }
}

/// Whether `text` is a number with thousands separators (`-1,234,567.5`).
fn grouped(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let whole = unsigned.split('.').next().unwrap_or_default();
    let groups: Vec<&str> = whole.split(',').collect();
    groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups[1..].iter().all(|g| g.len() == 3)
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()))
}

fn number(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A released value as shown, normalised ([`normal`]).
fn shown(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => normal(s),
        other => normal(&other.to_string()),
    }
}

/// A normalised cell keyed with the gate's secret: what the platform keeps of it.
fn key(secret: &[u8; 32], cell: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let mut context = ring::hmac::Context::with_key(&key);
    context.update(b"released cell\0");
    context.update(cell.as_bytes());
    hex(&context.sign().as_ref()[..16])
}

/// The distinct keyed cells of each released row: (row, its number of cells, cell).
pub(crate) fn released_cells(secret: &[u8; 32], rows: &[Vec<Value>]) -> Vec<(i64, i64, String)> {
    let mut out = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let cells: BTreeSet<String> = row
            .iter()
            .filter_map(shown)
            .map(|c| key(secret, &c))
            .collect();
        let width = cells.len() as i64;
        out.extend(cells.into_iter().map(|c| (index as i64, width, c)));
    }
    out
}

/// The text of a file of leaked rows: UTF-8 (a byte-order mark dropped) or, as a
/// spreadsheet on a Chinese system saves CSV, GB 18030; none if it is neither.
pub fn text_of(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(text.to_owned()),
        Err(_) => encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|text| text.into_owned()),
    }
}

fn invalid(field: &str, message: String, zh: String) -> GateError {
    GateError::Invalid {
        field: field.into(),
        message: storage::said::Said::new(message, zh),
    }
}

/// The sample releases that hold any of `rows` (leaked rows, their cells as text; a
/// header row matches nothing and is harmless) or of `row_hashes` (hashes of result
/// rows as the gate computes them), most rows first.
pub async fn trace(
    store: &Store,
    secret: &[u8; 32],
    rows: &[Vec<String>],
    row_hashes: &[String],
) -> Result<Vec<Traced>, GateError> {
    if rows.is_empty() && row_hashes.is_empty() {
        return Err(invalid(
            "rows",
            "give the leaked rows (or the hashes of result rows) to trace".into(),
            "请给出要追溯的数据行。".into(),
        ));
    }
    if rows.len() > MAX_ROWS {
        return Err(invalid(
            "rows",
            format!(
                "at most {MAX_ROWS} rows are traced at once; {} were given",
                rows.len()
            ),
            format!(
                "一次最多追溯 {MAX_ROWS} 行，这里有 {} 行：请分几次追溯。",
                rows.len()
            ),
        ));
    }
    if let Some(i) = rows.iter().position(|r| r.len() > MAX_CELLS) {
        return Err(invalid(
            &format!("rows[{i}]"),
            format!("a row may have at most {MAX_CELLS} cells"),
            format!("每行最多 {MAX_CELLS} 个单元格。"),
        ));
    }
    if row_hashes.len() > MAX_ROW_HASHES {
        return Err(invalid(
            "row_hashes",
            format!("at most {MAX_ROW_HASHES} row hashes are traced at once"),
            format!("一次最多追溯 {MAX_ROW_HASHES} 个行哈希。"),
        ));
    }
    // release → (traced rows it holds, of which whole).
    let mut matched: BTreeMap<String, (BTreeSet<usize>, usize)> = BTreeMap::new();

    let leaked: Vec<BTreeSet<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .filter_map(|c| normal(c))
                .map(|c| key(secret, &c))
                .collect()
        })
        .collect();
    let wanted: BTreeSet<&str> = leaked.iter().flatten().map(String::as_str).collect();
    let found = store
        .released_cells(&wanted.into_iter().collect::<Vec<_>>())
        .await?;
    // Each released row that holds any of the cells (its release, width and those
    // cells), and the rows each cell is in.
    let mut released: Vec<(String, usize, HashSet<String>)> = Vec::new();
    let mut row_of: HashMap<(String, i64), usize> = HashMap::new();
    let mut rows_with: HashMap<String, Vec<usize>> = HashMap::new();
    for (release, row, width, cell) in found {
        let at = *row_of.entry((release.clone(), row)).or_insert_with(|| {
            released.push((release, width as usize, HashSet::new()));
            released.len() - 1
        });
        released[at].2.insert(cell.clone());
        rows_with.entry(cell).or_default().push(at);
    }
    for (i, cells) in leaked.iter().enumerate() {
        // The released rows that could hold the leaked row: those with its rarest cell.
        let Some(rarest) = cells
            .iter()
            .map(|c| rows_with.get(c).map_or(&[][..], Vec::as_slice))
            .min_by_key(|rows| rows.len())
        else {
            continue;
        };
        for &at in rarest {
            let (release, width, held) = &released[at];
            if cells.len() >= (*width).min(2) && cells.iter().all(|c| held.contains(c)) {
                let entry = matched.entry(release.clone()).or_default();
                if entry.0.insert(i) && cells.len() == *width {
                    entry.1 += 1;
                }
            }
        }
    }

    if !row_hashes.is_empty() {
        let wanted: BTreeSet<&str> = row_hashes.iter().map(String::as_str).collect();
        for (release, _, _, _, hashes) in store.sample_releases().await? {
            let hashes: Vec<String> = serde_json::from_str(&hashes).unwrap_or_default();
            for (j, _) in hashes
                .iter()
                .enumerate()
                .filter(|(_, h)| wanted.contains(h.as_str()))
            {
                // Hashes are of whole result rows; numbered after the pasted rows.
                let entry = matched.entry(release.clone()).or_default();
                if entry.0.insert(MAX_ROWS + j) {
                    entry.1 += 1;
                }
            }
        }
    }

    let ids: Vec<&str> = matched.keys().map(String::as_str).collect();
    let mut traced: Vec<Traced> = store
        .releases_by_id(&ids)
        .await?
        .into_iter()
        .map(
            |(release_id, institution_id, job_id, released_at, fingerprint)| {
                let (rows, whole) = &matched[&release_id];
                Traced {
                    rows_matched: rows.len(),
                    whole_rows: *whole,
                    release_id,
                    institution_id,
                    job_id,
                    released_at,
                    fingerprint,
                }
            },
        )
        .collect();
    traced.sort_by(|a, b| {
        (b.rows_matched, b.whole_rows)
            .cmp(&(a.rows_matched, a.whole_rows))
            .then_with(|| a.released_at.cmp(&b.released_at))
    });
    Ok(traced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_reads_the_same_from_the_page_the_csv_and_a_spreadsheet() {
        for (a, b) in [
            ("2000", "2,000"),
            ("2000", "2000.0"),
            ("2000", " 2e3 "),
            ("-5", "'-5"),
            ("0.1234", "0.12340"),
            ("-1234567.5", "-1,234,567.50"),
            ("pseud_AB12", "PSEUD_ab12"),
            ("=1+1", "'=1+1"),
        ] {
            assert_eq!(normal(a), normal(b), "{a} and {b}");
        }
        assert_eq!(normal("1,2"), Some("1,2".into()), "not a grouped number");
        assert_eq!(normal(" "), None);
        assert_eq!(normal("NULL"), None);
        assert_eq!(shown(&serde_json::json!(2000.0)), normal("2000"));
        assert_eq!(shown(&serde_json::json!(true)), Some("true".into()));
        assert_eq!(shown(&Value::Null), None);
    }

    #[test]
    fn files_are_read_as_utf8_or_as_a_chinese_spreadsheet_saves_them() {
        let text = "名称,评分\r\n杭州某某有限公司,605\r\n";
        assert_eq!(text_of(text.as_bytes()).as_deref(), Some(text));
        let bom = [b"\xef\xbb\xbf".as_slice(), text.as_bytes()].concat();
        assert_eq!(text_of(&bom).as_deref(), Some(text));
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        assert_eq!(text_of(&gbk).as_deref(), Some(text));
        assert_eq!(text_of(b"\xff\xfe\x00\x81"), None);
    }

    #[test]
    fn released_rows_keep_their_distinct_keyed_cells_and_width() {
        let secret = [7u8; 32];
        let rows = vec![
            vec![serde_json::json!("a"), serde_json::json!(1), Value::Null],
            vec![serde_json::json!(1), serde_json::json!(1.0)],
        ];
        let cells = released_cells(&secret, &rows);
        assert_eq!(cells.iter().filter(|c| c.0 == 0).count(), 2);
        assert!(cells.iter().filter(|c| c.0 == 0).all(|c| c.1 == 2));
        assert_eq!(
            cells.iter().filter(|c| c.0 == 1).count(),
            1,
            "1 and 1.0 are one"
        );
        // Keyed: another secret keeps other keys, and no cell is kept as its text.
        let other = released_cells(&[8u8; 32], &rows);
        assert!(cells.iter().zip(&other).all(|(a, b)| a.2 != b.2));
        assert!(cells.iter().all(|c| c.2.len() == 32 && c.2 != "a"));
    }
}
