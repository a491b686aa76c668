//! Masking of identifying values (BRIEF Q3, P8): one place for every output path. An ID
//! number shows characters 1–6 and 15–18 with 7–14 as `*`; a mobile number shows digits
//! 1–3 and 8–11 with 4–7 as `*`; anything else masked keeps only its first and last
//! character. Masking works on characters, never splits one, and never reveals more of a
//! short or malformed value than of a well-formed one.

/// How a masked column is masked, chosen by what the column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// A citizen ID number (GB 11643): characters 7–14 hidden.
    IdNumber,
    /// A mobile number: digits 4–7 hidden.
    Mobile,
    /// Anything else: all but the first and last character hidden.
    Other,
}

impl Mask {
    /// The mask for a column of the catalog, by its name.
    pub fn for_column(name: &str) -> Mask {
        match name {
            "id_number" => Mask::IdNumber,
            "mobile" => Mask::Mobile,
            _ => Mask::Other,
        }
    }

    /// Masks one value.
    pub fn apply(self, value: &str) -> String {
        match self {
            Mask::IdNumber => hide(value, 6, 8),
            Mask::Mobile => hide(value, 3, 4),
            Mask::Other => {
                let n = value.chars().count();
                if n <= 2 {
                    "*".repeat(n)
                } else {
                    hide(value, 1, n - 2)
                }
            }
        }
    }
}

/// Replaces `count` characters from index `from` with `*`. A value too short to keep
/// anything visible after hiding is hidden whole.
fn hide(value: &str, from: usize, count: usize) -> String {
    let n = value.chars().count();
    if n <= from + count {
        return "*".repeat(n);
    }
    value
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if (from..from + count).contains(&i) {
                '*'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_hide_characters_7_to_14() {
        // Q3: 身份证号码第7至14位以*代替.
        assert_eq!(
            Mask::IdNumber.apply("330106199001011234"),
            "330106********1234"
        );
        assert_eq!(
            Mask::IdNumber.apply("33010619900101123X"),
            "330106********123X"
        );
    }

    #[test]
    fn mobiles_hide_digits_4_to_7() {
        assert_eq!(Mask::Mobile.apply("13812345678"), "138****5678");
    }

    #[test]
    fn short_or_odd_values_reveal_no_more() {
        assert_eq!(Mask::IdNumber.apply("3301061990"), "**********");
        assert_eq!(Mask::Mobile.apply("1381234"), "*******");
        assert_eq!(Mask::Other.apply("王"), "*");
        assert_eq!(Mask::Other.apply("王小明"), "王*明");
        assert_eq!(Mask::Other.apply("浙江省杭州市"), "浙****市");
    }

    #[test]
    fn columns_choose_their_mask_by_name() {
        assert_eq!(Mask::for_column("id_number"), Mask::IdNumber);
        assert_eq!(Mask::for_column("mobile"), Mask::Mobile);
        assert_eq!(Mask::for_column("contact"), Mask::Other);
    }
}
