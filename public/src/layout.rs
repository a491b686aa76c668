//! Chinese line breaking for the printable report (BRIEF Q5): a line may break between
//! any two Chinese characters, but never before closing punctuation (，。、）》” …) nor
//! after opening punctuation (（《“ …) — the 禁则 of GB/T 15834 and JIS X 4051 — and a run
//! of Latin letters or digits (a code, a number, a date) is kept whole unless it alone is
//! wider than the line.

/// Characters that may not begin a line.
const NO_LINE_START: &str = "，。、；：？！）》」』】〕〉〗”’…—·%‰℃,.;:?!)]}";
/// Characters that may not end a line.
const NO_LINE_END: &str = "（《「『【〔〈〖“‘([{";

/// Breaks `text` into lines no wider than `max` as `width` measures them. Explicit
/// newlines are kept. Every character of `text` except spaces at a break appears in
/// the result, in order.
pub fn wrap(text: &str, max: f32, width: impl Fn(&str) -> f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        wrap_paragraph(paragraph, max, &width, &mut lines);
    }
    lines
}

/// Units no break may fall inside: a Latin run, a space, one Chinese character, each
/// with the punctuation that must stay with it.
fn units(text: &str) -> Vec<String> {
    let mut raw: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() {
            if !word.is_empty() {
                raw.push(std::mem::take(&mut word));
            }
            raw.push(" ".into());
        } else if c.is_ascii_graphic() && !NO_LINE_END.contains(c) && !NO_LINE_START.contains(c) {
            word.push(c);
        } else if c.is_ascii_graphic() {
            // ASCII punctuation inside a Latin run stays in it ("1,000", "a.b").
            if NO_LINE_START.contains(c) && !word.is_empty() {
                word.push(c);
            } else {
                if !word.is_empty() {
                    raw.push(std::mem::take(&mut word));
                }
                raw.push(c.to_string());
            }
        } else {
            if !word.is_empty() {
                raw.push(std::mem::take(&mut word));
            }
            raw.push(c.to_string());
        }
    }
    if !word.is_empty() {
        raw.push(word);
    }
    // Closing punctuation joins the unit before it; opening punctuation the unit after.
    let mut merged: Vec<String> = Vec::new();
    let mut carry = String::new();
    for unit in raw {
        let first = unit.chars().next().unwrap_or(' ');
        if unit != " "
            && NO_LINE_START.contains(first)
            && carry.is_empty()
            && let Some(last) = merged.last_mut().filter(|l| l.as_str() != " ")
        {
            last.push_str(&unit);
            continue;
        }
        let last = unit.chars().last().unwrap_or(' ');
        if unit != " " && NO_LINE_END.contains(last) {
            carry.push_str(&unit);
            continue;
        }
        merged.push(format!("{}{unit}", std::mem::take(&mut carry)));
    }
    if !carry.is_empty() {
        merged.push(carry);
    }
    merged
}

fn wrap_paragraph(text: &str, max: f32, width: &impl Fn(&str) -> f32, lines: &mut Vec<String>) {
    let mut line = String::new();
    let mut line_width = 0.0;
    for unit in units(text) {
        if unit == " " && line.is_empty() {
            continue;
        }
        let w = width(&unit);
        if line_width + w <= max {
            line.push_str(&unit);
            line_width += w;
            continue;
        }
        if !line.is_empty() {
            lines.push(line.trim_end().to_owned());
            line = String::new();
            line_width = 0.0;
        }
        if unit == " " {
            continue;
        }
        if w <= max {
            line = unit;
            line_width = w;
            continue;
        }
        // A unit wider than a whole line (a long code or address): split by character.
        for c in unit.chars() {
            let cw = width(c.encode_utf8(&mut [0; 4]));
            if line_width + cw > max && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_width = 0.0;
            }
            line.push(c);
            line_width += cw;
        }
    }
    if !line.trim_end().is_empty() || lines.is_empty() {
        lines.push(line.trim_end().to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One unit per character, Latin half as wide: the proportions of the real font.
    fn width(s: &str) -> f32 {
        s.chars()
            .map(|c| if c.is_ascii() { 0.5 } else { 1.0 })
            .sum()
    }

    #[test]
    fn chinese_breaks_between_characters_and_fills_the_line() {
        let lines = wrap("信用主体认为信息有误的可提出异议", 5.0, width);
        assert_eq!(lines, ["信用主体认", "为信息有误", "的可提出异", "议"]);
    }

    #[test]
    fn closing_punctuation_never_starts_a_line_and_opening_never_ends_one() {
        // "，" would start line 2 and "（" would end line 2 if breaking were naive.
        let lines = wrap("公共信用信，报告（2026版）说明。", 5.0, width);
        for line in &lines {
            let first = line.chars().next().expect("non-empty line");
            let last = line.chars().last().expect("non-empty line");
            assert!(!NO_LINE_START.contains(first), "{lines:?}");
            assert!(!NO_LINE_END.contains(last), "{lines:?}");
        }
        assert_eq!(lines.concat(), "公共信用信，报告（2026版）说明。");
    }

    #[test]
    fn latin_runs_stay_whole_and_overlong_ones_are_split() {
        let lines = wrap("代码 91330106MA2B1C3D4E 已验证", 12.0, width);
        assert!(
            lines.iter().any(|l| l.contains("91330106MA2B1C3D4E")),
            "{lines:?}"
        );
        let long = wrap("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4.0, width);
        assert_eq!(long.concat(), "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        assert!(long.iter().all(|l| width(l) <= 4.0), "{long:?}");
    }

    #[test]
    fn nothing_is_lost_and_no_line_is_too_wide() {
        let text = "本报告依据报告生成时平台归集的公共信用信息生成，客观反映该时点信用主体的公共信用状况（截至2026-11-22），不构成对信用主体的任何评价或担保。Report No. 202611221000000042.";
        for max in [3.0, 7.5, 10.0, 40.0] {
            let lines = wrap(text, max, width);
            let joined: String = lines.concat().chars().filter(|c| *c != ' ').collect();
            let original: String = text.chars().filter(|c| *c != ' ').collect();
            assert_eq!(joined, original, "max {max}");
            for line in &lines {
                // A unit with its punctuation may exceed a very narrow line by that
                // punctuation only.
                assert!(width(line) <= max + 1.0, "{line} at {max}");
            }
        }
        assert_eq!(wrap("", 5.0, width), [""]);
        assert_eq!(wrap("甲\n乙", 5.0, width), ["甲", "乙"]);
    }
}
