//! Normalisation shared by the identifier validators.

/// Maps full-width ASCII variants (U+FF01–U+FF5E) and the ideographic space to their
/// half-width forms, leaving every other character unchanged.
///
/// Chinese input methods often produce `９１３３０１…` or `（` instead of ASCII; the
/// identifiers themselves are defined over ASCII, so we fold before validating.
pub fn to_half_width(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Folds to half width, drops spaces and hyphens people use as separators, and
/// upper-cases ASCII letters.
pub(crate) fn compact_identifier(input: &str) -> String {
    to_half_width(input)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_digits_letters_and_space_fold() {
        assert_eq!(to_half_width("９１３３ＡＢ（）\u{3000}x"), "9133AB() x");
        assert_eq!(compact_identifier(" ９１３３-01 0ab "), "9133010AB");
    }

    #[test]
    fn chinese_text_is_untouched() {
        assert_eq!(to_half_width("杭州市（集团）"), "杭州市(集团)");
        assert_eq!(to_half_width("浙江"), "浙江");
    }
}
