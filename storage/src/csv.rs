//! CSV cells for the files people open in a spreadsheet: the audit log's export and a
//! released sample's download alike.

/// A CSV cell: quoted when it holds a separator, a quote or a line break (RFC 4180);
/// and a text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, a tab or a
/// carriage return first) is prefixed with `'`, so that it stays text.
pub fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The records of CSV text (RFC 4180: quoted fields may hold separators, doubled
/// quotes and line breaks), or of tab-separated text when its first line holds a tab and
/// no comma (rows copied from a spreadsheet or a web page). Blank lines are skipped.
pub fn records(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let separator = if first.contains('\t') && !first.contains(',') {
        '\t'
    } else {
        ','
    };
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if field.is_empty() => quoted = true,
            c if quoted => field.push(c),
            c if c == separator => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                record.push(std::mem::take(&mut field));
                if record.iter().any(|f| !f.trim().is_empty()) {
                    records.push(std::mem::take(&mut record));
                }
                record.clear();
            }
            c => field.push(c),
        }
    }
    record.push(field);
    if record.iter().any(|f| !f.trim().is_empty()) {
        records.push(record);
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_what_cell_writes_and_what_a_spreadsheet_copies() {
        let written = [
            "plain",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "=HYPERLINK(\"x\")",
        ];
        let line: Vec<String> = written.iter().map(|t| cell(t)).collect();
        let text = format!("\u{feff}h1,h2,h3,h4,h5\r\n{}\r\n\r\n", line.join(","));
        let read = records(&text);
        assert_eq!(read.len(), 2);
        assert_eq!(read[0], ["h1", "h2", "h3", "h4", "h5"]);
        assert_eq!(read[1][..4], written[..4]);
        assert_eq!(read[1][4], "'=HYPERLINK(\"x\")");
        // Tab-separated, as copied from a table on a page; an empty last field kept.
        assert_eq!(
            records("a\tb c\t\n1\t2\t3"),
            [vec!["a", "b c", ""], vec!["1", "2", "3"]]
        );
        assert!(records("\n \n").is_empty());
    }

    #[test]
    fn cells_are_quoted_and_never_formulas() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("-1+2"), "'-1+2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
    }
}
