//! Masking of identifying values (BRIEF Q3, P8): one place for every output path. An ID
//! number shows characters 1–6 and 15–18 with 7–14 as `*`; a mobile number shows digits
//! 1–3 and 8–11 with 4–7 as `*`; anything else masked keeps only its first and last
//! character. Mobile digits are counted over digits only: separators stay, a country
//! prefix (`+86`, `0086`) stays visible and is not counted. Masking works on characters,
//! never splits one, and never reveals more of a short or malformed value than of a
//! well-formed one.

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
            Mask::Mobile => mobile(value),
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

/// A mobile number with digits 4–7 of its 11 hidden, counted over digits only (ASCII or
/// full-width), after a visible country prefix: 86 before 11 digits (`+86`, `86`) or
/// 0086. Spaces, hyphens, brackets and `+` stay; any other character is hidden. A value
/// that is not 11 digits after its prefix has every digit hidden.
fn mobile(value: &str) -> String {
    let digit = |c: char| c.is_ascii_digit() || ('０'..='９').contains(&c);
    let digits: String = value
        .chars()
        .filter(|c| digit(*c))
        .map(|c| {
            crate::to_half_width(&c.to_string())
                .chars()
                .next()
                .unwrap_or(c)
        })
        .collect();
    let prefix = match digits.len() {
        11 => Some(0),
        13 if digits.starts_with("86") => Some(2),
        15 if digits.starts_with("0086") => Some(4),
        _ => None,
    };
    let hidden = match prefix {
        Some(p) => p + 3..p + 7,
        None => 0..digits.len(),
    };
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if digit(c) {
                seen += 1;
                if hidden.contains(&(seen - 1)) { '*' } else { c }
            } else if " -+()（）".contains(c) {
                c
            } else {
                '*'
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
        // Q3: 手机号码第4至7位以*代替.
        assert_eq!(Mask::Mobile.apply("13812345678"), "138****5678");
    }

    #[test]
    fn mobiles_count_digits_after_the_country_prefix() {
        assert_eq!(Mask::Mobile.apply("+8613812345678"), "+86138****5678");
        assert_eq!(Mask::Mobile.apply("+86 138 1234 5678"), "+86 138 **** 5678");
        assert_eq!(Mask::Mobile.apply("8613812345678"), "86138****5678");
        assert_eq!(Mask::Mobile.apply("0086-13812345678"), "0086-138****5678");
        assert_eq!(Mask::Mobile.apply("138-1234-5678"), "138-****-5678");
        assert_eq!(Mask::Mobile.apply("(138) 1234 5678"), "(138) **** 5678");
        assert_eq!(
            Mask::Mobile.apply("１３８１２３４５６７８"),
            "１３８****５６７８"
        );
    }

    #[test]
    fn mobiles_that_are_not_eleven_digits_hide_every_digit_and_letters_are_hidden() {
        assert_eq!(Mask::Mobile.apply("0571-87654321"), "****-********");
        assert_eq!(Mask::Mobile.apply("138123456789"), "************");
        assert_eq!(Mask::Mobile.apply("+44 20 7946 0958"), "+** ** **** ****");
        // Letters are not separators: hidden too.
        assert_eq!(Mask::Mobile.apply("138x1234y5678"), "138******5678");
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
