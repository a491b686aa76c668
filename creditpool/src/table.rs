//! Plain-text tables for the terminal, aware that CJK characters take two columns.

/// Display width of a string in a terminal: wide (CJK, full-width) characters count two.
pub fn width(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

/// Renders rows under a header, padding each column to its widest cell.
/// Columns listed in `right` are right-aligned (numbers).
pub fn render(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = " ".repeat(widths[i] - width(cell));
            if right.contains(&i) {
                out.push_str(&pad);
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < cells.len() {
                    out.push_str(&pad);
                }
            }
            if i + 1 < cells.len() {
                out.push_str("  ");
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    out.push_str(&line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_counts_double() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("行政处罚"), 8);
        assert_eq!(width("（）"), 4);
    }

    #[test]
    fn columns_line_up() {
        let out = render(
            &["id", "名称", "rows"],
            &[
                vec!["a".into(), "行政".into(), "5".into()],
                vec!["bbbb".into(), "x".into(), "123".into()],
            ],
            &[2],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "id    名称  rows");
        assert_eq!(lines[2], "a     行政     5");
        assert_eq!(lines[3], "bbbb  x      123");
    }
}
